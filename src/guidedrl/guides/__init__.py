"""Local guides: a controller ``policy(obs) -> action`` trusted where ``confidence(obs) > 0``.

``Guide`` wraps any two callables; the constructors build common ones (scripted, LQR, a
trained guidedrl policy); ``compose`` combines several; ``resolve_guide`` turns the CLI's
``--guide NAME|module:attr|PATH`` into a Guide.
"""

from __future__ import annotations

import importlib
import os
from typing import Callable, Dict

from guidedrl.errors import ConfigError
from guidedrl.guides.base import ComposedGuide, Guide, GuideError, compose
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
    """The guide that ``--guide spec`` names for ``env_id``: a built-in NAME, ``module:attr``
    (a factory returning a Guide, or a Guide), or the PATH of a guidedrl checkpoint."""
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
    if os.path.exists(spec):
        return from_checkpoint(spec)
    names = ", ".join(f"{name} ({', '.join(envs)})" for name, envs in BUILTIN.items())
    raise ConfigError(
        f"unknown guide {spec!r}: expected a built-in name ({names}), module:attr, or a checkpoint path"
    )


__all__ = [
    "Guide", "GuideError", "ComposedGuide", "compose", "scripted", "lqr", "lqr_gain", "LQRGuide",
    "from_checkpoint", "always", "box", "ellipse", "distance_band", "sigmoid", "resolve_guide",
]
