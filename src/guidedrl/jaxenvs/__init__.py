"""JAX environments and guides for the jitted training path (:mod:`guidedrl.training.scanned`).

Named on the command line by a prefix: ``gymnax/<task>`` (gymnax's ``Pendulum-v1`` and
``MountainCarContinuous-v0``) and ``jax/<task>`` (guidedrl's JAX twins of its point tasks,
``PointCircle-v0`` and ``PointReach-v0``). Each task's built-in guides are registered here as
traceable functions (:class:`JaxGuide`), under the names ``--guide`` takes on the host path.
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, Optional, Tuple

from guidedrl.errors import EnvError
from guidedrl.jaxenvs.base import JaxEnv, JaxGuide, Transition, always_trusted

PREFIXES = ("gymnax/", "jax/")

_GUIDES: Dict[Tuple[str, str], Callable[[], JaxGuide]] = {}
_DEFAULT_GUIDES: Dict[str, str] = {}


def is_jax_env(env) -> bool:
    """Whether ``env`` (an id, or an env object) is a JAX environment."""
    return isinstance(env, JaxEnv) or (isinstance(env, str) and env.startswith(PREFIXES))


@functools.lru_cache(maxsize=None)
def make_jax_env(name: str) -> JaxEnv:
    """The JAX environment ``name`` (``gymnax/<task>`` or ``jax/<task>``); one object per name
    (envs are stateless), so runs on it share compiled programs."""
    prefix, _, task = name.partition("/")
    if prefix == "gymnax":
        from guidedrl.jaxenvs.gymnax_envs import make_gymnax

        return make_gymnax(task)
    if prefix == "jax":
        from guidedrl.jaxenvs.point import POINT_TWINS

        if task not in POINT_TWINS:
            raise EnvError(f"unknown JAX twin {name!r}; guidedrl has jax/{', jax/'.join(POINT_TWINS)}")
        return POINT_TWINS[task]()
    raise EnvError(f"{name!r} is not a JAX environment (gymnax/<task> or jax/<task>)")


def register_jax_guide(name: str, factory: Callable[[], JaxGuide], *, task: str, default: bool = False) -> None:
    """A built-in traceable guide of ``task`` (an env id without its prefix) under ``name``."""
    _GUIDES[(task, name)] = factory
    if default:
        _DEFAULT_GUIDES[task] = name


def find_jax_guide(name: str, env_name: str) -> Optional[JaxGuide]:
    """The built-in guide ``name`` ("default": the task's default) of the JAX env ``env_name``, or None."""
    task = env_name.partition("/")[2]
    if name == "default":
        name = _DEFAULT_GUIDES.get(task, "")
    return None if (task, name) not in _GUIDES else _built_guide(task, name)


@functools.lru_cache(maxsize=None)
def _built_guide(task: str, name: str) -> JaxGuide:
    return _GUIDES[(task, name)]()


def jax_guide_names(env_name: str):
    task = env_name.partition("/")[2]
    return sorted(name for (t, name) in _GUIDES if t == task)


def _point(attr: str) -> Callable[[], JaxGuide]:
    def factory() -> JaxGuide:
        from guidedrl.jaxenvs import point

        return getattr(point, attr)()
    return factory


def _pendulum(attr: str) -> Callable[[], JaxGuide]:
    def factory() -> JaxGuide:
        from guidedrl.jaxenvs import guides

        return getattr(guides, attr)()
    return factory


register_jax_guide("lqr", _pendulum("pendulum_lqr_jax"), task="Pendulum-v1", default=True)
register_jax_guide("swing-up", _pendulum("swing_up_jax"), task="Pendulum-v1")
register_jax_guide("reflex", _point("point_circle_guide_jax"), task="PointCircle-v0", default=True)
register_jax_guide("reflex", _point("point_reach_guide_jax"), task="PointReach-v0", default=True)

__all__ = ["JaxEnv", "JaxGuide", "Transition", "always_trusted", "is_jax_env", "make_jax_env",
           "register_jax_guide", "find_jax_guide", "jax_guide_names", "PREFIXES"]
