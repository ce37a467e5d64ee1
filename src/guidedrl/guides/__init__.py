"""Local guides: a controller ``policy(obs) -> action`` trusted where ``confidence(obs) > 0``.

``Guide`` wraps any two callables; the constructors build common ones (scripted, LQR, a
trained guidedrl policy); ``compose`` combines several; ``resolve_guide`` turns the CLI's
``--guide NAME|module:attr|PATH`` into a Guide.
"""

from __future__ import annotations

import importlib
import os
from typing import Callable, Dict

from guidedrl.config import DEFAULT_GUIDE
from guidedrl.errors import ConfigError
from guidedrl.guides.base import ComposedGuide, Guide, GuideError, compose
from guidedrl.guides.policy_file import export_policy, from_policy_file
from guidedrl.guides.constructors import (
    LQRGuide,
    always,
    box,
    distance_band,
    ellipse,
    from_checkpoint,
    lqr,
    lqr_gain,
    scripted,
    sigmoid,
)


def _pendulum_lqr() -> Guide:
    from guidedrl.guides.pendulum import pendulum_lqr

    return pendulum_lqr()


BUILTIN: Dict[str, Dict[str, Callable[[], Guide]]] = {
    "lqr": {"Pendulum-v1": _pendulum_lqr},
}
"""Built-in guides by name, then by the env id they are made for."""


def resolve_guide(spec: str, env_id: str) -> Guide:
    """The guide that ``--guide spec`` names for ``env_id``: ``default`` (the built-in task's
    own guide), a built-in NAME, ``module:attr`` (a factory returning a Guide, or a Guide),
    the PATH of a guidedrl checkpoint, or of a policy file (``.msgpack`` with its ``.json``)."""
    if spec == DEFAULT_GUIDE:
        from guidedrl.envs import TASKS, default_guide
        from guidedrl.errors import EnvError

        try:
            return default_guide(env_id)
        except EnvError:
            raise ConfigError(
                f"the guidance needs a guide and {env_id!r} has no default guide (built-in tasks: "
                f"{', '.join(TASKS)}): pass --guide NAME|module:attr|PATH (CLI) or guide= (Python)"
            ) from None
    if spec in BUILTIN:
        by_env = BUILTIN[spec]
        if env_id not in by_env:
            raise ConfigError(
                f"built-in guide {spec!r} exists for {', '.join(by_env)}, not for {env_id!r}"
            )
        return by_env[env_id]()
    if ":" in spec and not os.path.exists(spec):
        module_name, _, attr = spec.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"cannot load guide {spec!r}: {error}") from None
        guide = target if isinstance(target, Guide) else target()
        if not isinstance(guide, Guide):
            raise ConfigError(f"{spec!r} gave a {type(guide).__name__}, expected a guidedrl.Guide")
        return guide
    if spec.endswith(".msgpack") and os.path.exists(spec):
        from guidedrl.guides.policy_file import from_policy_file

        return from_policy_file(spec)
    if os.path.exists(spec):
        return from_checkpoint(spec)
    names = ", ".join(f"{name} ({', '.join(envs)})" for name, envs in BUILTIN.items())
    raise ConfigError(
        f"unknown guide {spec!r}: expected 'default' (a built-in task's guide), a built-in name "
        f"({names}), module:attr, a checkpoint path or a policy file (.msgpack)"
    )


__all__ = [
    "Guide", "GuideError", "ComposedGuide", "compose", "scripted", "lqr", "lqr_gain", "LQRGuide",
    "from_checkpoint", "export_policy", "from_policy_file", "always", "box", "ellipse", "distance_band", "sigmoid", "resolve_guide",
]
