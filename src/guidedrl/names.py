"""Names to things: what ``--guide NAME|module:attr|PATH`` means for an env, in one place.

It only resolves: the built-in guides are registered in :mod:`guidedrl.guides.registry` (by
``guidedrl.envs``, beside the tasks that own them), and this module sits above both ``guides/``
(the constructors, the registry) and ``envs/`` (the built-in tasks), so neither imports the other back.

A guide spec read from a file (a run's ``config.json`` or a checkpoint's ``meta.json``) is
resolved with ``trust_code=False``: a ``module:attr`` spec would import a module and call what
it names, which a file must not make guidedrl do, so it is refused before anything is imported
(``guidedrl.load(..., trust_code=True)``, ``guidedrl eval --trust-code`` allow it). Built-in
names, policy files and checkpoint paths import nothing a file names and are resolved either way.
"""

from __future__ import annotations

import importlib
import os
from typing import Optional, Union

from guidedrl.config import DEFAULT_GUIDE
from guidedrl.envs import TASKS, default_guide
from guidedrl.errors import ConfigError, EnvError
from guidedrl.guides import Guide, from_checkpoint, from_policy_file, with_region
from guidedrl.guides.registry import find_guide, guide_names


def _names_code(spec: str) -> bool:
    """Whether the guide ``spec`` is a ``module:attr`` that resolving would import (and not a
    path that happens to hold a ':')."""
    return ":" in spec and not os.path.exists(spec)


def resolve_guide(spec: Union[str, Guide], env_id: str, *, region: str = "default", trust_code: bool = True,
                  source: Optional[str] = None) -> Guide:
    """The guide that ``--guide spec --guide-region region`` names for ``env_id``.

    ``spec`` is ``default`` (the built-in task's own guide), a built-in NAME (registered in
    :mod:`guidedrl.guides.registry` for ``env_id``),
    ``module:attr`` (a factory returning a Guide, or a Guide), the PATH of a guidedrl checkpoint
    (its actor alone, :func:`~guidedrl.guides.from_checkpoint`) or of a policy file (``.msgpack``
    with its ``.json``), or a :class:`~guidedrl.Guide` (or a :class:`~guidedrl.jaxenvs.JaxGuide`,
    called from the host) given from Python. ``region`` replaces its
    λ (``--guide-region``, :func:`~guidedrl.guides.with_region`): every caller (training, its
    evaluations and dataset, ``guidedrl.load``, ``guidedrl guide check``) gets its guide here.

    ``trust_code=False`` is for a spec read from a file, ``source`` (named in the message): a
    ``module:attr`` spec then raises :class:`~guidedrl.errors.ConfigError` without importing
    anything. A spec the user typed (``--guide``, ``guide=``) is trusted, the default.
    """
    from guidedrl.jaxenvs.base import JaxGuide

    if isinstance(spec, JaxGuide):  # a jitted-path run's guide, acting from the host
        from guidedrl.jaxenvs.gym_wrapper import host_guide

        spec = host_guide(spec)
    if not isinstance(spec, (str, Guide)):
        raise ConfigError(f"a guide is a guidedrl.Guide, a guidedrl.jaxenvs.JaxGuide or a spec (a name, "
                          f"module:attr or path), got a {type(spec).__name__}")
    guide = spec if isinstance(spec, Guide) else _resolve_spec(spec, env_id, trust_code, source)
    return with_region(guide, region)


def _resolve_spec(spec: str, env_id: str, trust_code: bool, source: Optional[str]) -> Guide:
    """The guide a ``--guide`` spec names, with its own region."""
    if env_id.startswith(("gymnax/", "jax/")):  # a JAX env's built-in guides are traceable functions
        from guidedrl.jaxenvs import find_jax_guide, jax_guide_names
        from guidedrl.jaxenvs.gym_wrapper import host_guide

        found = find_jax_guide(spec, env_id)
        if found is not None:
            return host_guide(found)
        if spec == DEFAULT_GUIDE or spec in jax_guide_names(env_id):
            raise ConfigError(f"{env_id!r} has no default guide: pass --guide NAME|module:attr|PATH")
    if spec == DEFAULT_GUIDE:
        try:
            return default_guide(env_id)
        except EnvError:
            raise ConfigError(
                f"the guidance needs a guide and {env_id!r} has no default guide (built-in tasks: "
                f"{', '.join(TASKS)}): pass --guide NAME|module:attr|PATH (CLI) or guide= (Python)"
            ) from None
    builtin = guide_names()
    if spec in builtin:
        entry = find_guide(spec, env_id)
        if entry is None:
            raise ConfigError(
                f"built-in guide {spec!r} exists for {', '.join(builtin[spec])}, not for {env_id!r}"
            )
        return entry.make()
    if _names_code(spec):
        return _import_guide(spec, trust_code, source)
    if spec.endswith(".msgpack") and os.path.exists(spec):
        return from_policy_file(spec)
    if os.path.exists(spec):
        return from_checkpoint(spec)
    names = ", ".join(f"{name} ({', '.join(tasks)})" for name, tasks in builtin.items())
    raise ConfigError(
        f"unknown guide {spec!r}: expected 'default' (a built-in task's guide), a built-in name "
        f"({names}), module:attr, a checkpoint path or a policy file (.msgpack)"
    )


def _import_guide(spec: str, trust_code: bool, source: Optional[str]) -> Guide:
    """The Guide a ``module:attr`` spec names: the attribute itself, or what calling it returns."""
    module_name, _, attr = spec.partition(":")
    if not trust_code:
        raise ConfigError(
            f"{source or 'a file'} names the guide {spec!r}, which would import the module "
            f"{module_name!r} and call {attr}; name it again (--guide {spec}, or guide= in Python) "
            "or pass --trust-code (trust_code=True) if you trust this file"
        )
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot load guide {spec!r}: {error}") from None
    guide = target if isinstance(target, Guide) else target()
    if not isinstance(guide, Guide):
        raise ConfigError(f"{spec!r} gave a {type(guide).__name__}, expected a guidedrl.Guide")
    return guide


__all__ = ["resolve_guide"]
