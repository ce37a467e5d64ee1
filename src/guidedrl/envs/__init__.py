"""Environments: the built-in tasks, their default guides, and the one place where guidedrl
makes an env.

Built-in tasks (``TASKS``) are registered with Gymnasium under the ``guidedrl/`` namespace
when guidedrl is imported: ``gymnasium.make("guidedrl/SafeCartpole-v0")`` (or
``gymnasium.make("guidedrl:guidedrl/SafeCartpole-v0")`` without importing first); their guides
are registered beside them with :func:`guidedrl.guides.registry.register_guide`.
``default_guide(id)`` is each task's own guide (``--guide default``). ``check_env_id`` refuses
an env id read from a file whose making would import a module (``module:EnvName``).

``make_env`` accepts a Gymnasium id (built-in ids may be given with or without the
namespace) or an ``Env`` instance, checks that the action space is a bounded Box, rescales
actions to [-1, 1] and flattens observations to a vector.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

import gymnasium as gym
import numpy as np

from guidedrl.errors import ConfigError, EnvError
from guidedrl.guides.registry import DEFAULT, find_guide, register_guide

NAMESPACE = "guidedrl/"


@dataclass(frozen=True)
class Task:
    """A built-in task: what it is, and what its default guide is and where it is trusted (the
    guide itself is registered in :mod:`guidedrl.guides.registry`, below)."""

    id: str
    entry_point: str
    max_episode_steps: int
    task: str
    guide_type: str
    trusted: str


GUIDE_DIR = Path(__file__).resolve().parent / "guides"
"""Where the attractive tasks' trained guide files live (``<id>.msgpack`` + ``<id>.json``)."""

TASKS: Dict[str, Task] = {task.id: task for task in (
    Task("SafeCartpole-v0", "guidedrl.envs.mj:SafeCartpole", 1000,
         "swing-up, walls at |x| = 1", "repulsive reflex", "< 0.15 from a wall after braking"),
    Task("PointMass-v0", "guidedrl.envs.mj:PointMass", 1000,
         "reach a small target", "attractive: medium SAC", "> 0.1 from the target"),
    Task("BallInCup-v0", "guidedrl.envs.mj:BallInCup", 1000,
         "catch a low-hanging ball", "attractive: medium SAC", "ball below or beside the cup"),
    Task("PointCircle-v0", "guidedrl.envs.point.tasks:PointCircleEnv", 500,
         "run a circle between walls", "repulsive reflex", "< 0.3 from a wall"),
    Task("PointReach-v0", "guidedrl.envs.point.tasks:PointReachEnv", 500,
         "reach goals among obstacles", "repulsive reflex", "< 0.3 from an obstacle"),
    Task("Pendulum-v1", "gymnasium.envs.classic_control.pendulum:PendulumEnv", 200,
         "swing-up (Gymnasium's)", "attractive: LQR", "verified ellipse x'Px < 30"),
)}
"""Built-in tasks by id (Pendulum-v1 is Gymnasium's own, listed for its built-in LQR guide)."""

# The built-in guides, each beside its task: the task's own (--guide default) and Pendulum's named
# ones (--guide lqr, --guide swing-up), by entry point (imported when a guide is made).
register_guide(DEFAULT, "guidedrl.envs.dm:cartpole_guide", task="SafeCartpole-v0")
register_guide(DEFAULT, "guidedrl.envs.dm:point_mass_guide", task="PointMass-v0")
register_guide(DEFAULT, "guidedrl.envs.dm:ball_in_cup_guide", task="BallInCup-v0")
register_guide(DEFAULT, "guidedrl.envs.point.guides:point_circle_guide", task="PointCircle-v0")
register_guide(DEFAULT, "guidedrl.envs.point.guides:point_reach_guide", task="PointReach-v0")
register_guide("lqr", "guidedrl.guides.pendulum:pendulum_lqr", task="Pendulum-v1", default=True)
register_guide("swing-up", "guidedrl.guides.pendulum:pendulum_swing_up", task="Pendulum-v1")


ALONE_FILE = GUIDE_DIR / "alone.json"
ALONE_COMMAND = "python -m benchmarks.studies.envs --alone"
"""The command that measured the numbers in :data:`ALONE_FILE` (each guide alone, 20 episodes)."""


def stored_alone() -> Dict[str, dict]:
    """Each built-in guide's own return and catastrophes, as last measured by :data:`ALONE_COMMAND`."""
    import json

    if not ALONE_FILE.exists():
        return {}
    return json.loads(ALONE_FILE.read_text())["tasks"]


JAX_ENV_IDS = ("gymnax/Pendulum-v1", "gymnax/MountainCarContinuous-v0", "jax/PointCircle-v0", "jax/PointReach-v0")
"""The JAX envs (:mod:`guidedrl.jaxenvs`), registered with Gymnasium too: stepped from the host, so
a run trained on the jitted path evaluates, loads and exports as any other."""


def _register() -> None:
    for task in TASKS.values():
        if task.id == "Pendulum-v1" or NAMESPACE + task.id in gym.registry:
            continue
        gym.register(id=NAMESPACE + task.id, entry_point=task.entry_point,
                     max_episode_steps=task.max_episode_steps)
    for env_id in JAX_ENV_IDS:  # their own step counts the time limit
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="guidedrl.jaxenvs.gym_wrapper:gym_env", kwargs={"name": env_id})


def task_of(env_id: str) -> Task:
    """The built-in :class:`Task` of ``env_id`` (with or without the namespace)."""
    key = env_id[len(NAMESPACE):] if env_id.startswith(NAMESPACE) else env_id
    if key not in TASKS:
        raise EnvError(f"{env_id!r} is not a built-in task; built-in: {', '.join(TASKS)}")
    return TASKS[key]


def default_guide(env_id: str):
    """The default guide of a built-in task (a :class:`~guidedrl.Guide`), as ``--guide default``:
    the one registered as its default (:mod:`guidedrl.guides.registry`)."""
    task = task_of(env_id)
    entry = find_guide(DEFAULT, task.id)
    if entry is None:
        raise EnvError(f"the built-in task {task.id!r} has no default guide registered")
    return entry.make()


def check_env_id(env_id: str, trust_code: bool = False, source: Optional[str] = None) -> None:
    """Refuse, without importing anything, an env id read from a file (``source``, named in the
    message) that making it would import a module for.

    Gymnasium makes ``module:EnvName`` by importing ``module`` first (so that it registers the
    env), which runs that module's code: unless ``trust_code``, such an id raises
    :class:`~guidedrl.errors.ConfigError`. Our own ``guidedrl:`` prefix is allowed. A plain id is
    fine, registered or not: Gymnasium imports nothing for it (an unknown one fails when made,
    with :class:`EnvError` listing the built-in tasks)."""
    if trust_code or ":" not in env_id:
        return
    module = env_id.split(":", 1)[0]
    if module == "guidedrl":
        return
    raise ConfigError(
        f"{source or 'a file'} names the env {env_id!r}, which would import the module {module!r} "
        "(Gymnasium imports the part before ':' to register the env); name the env again (env= in "
        "Python) or pass --trust-code (trust_code=True) if you trust this file"
    )


_UNKNOWN_ID = tuple(getattr(gym.error, name) for name in (
    "UnregisteredEnv", "NamespaceNotFound", "NameNotFound", "VersionNotFound", "DeprecatedEnv")
    if hasattr(gym.error, name))
"""Gymnasium's errors for an id it does not know (as opposed to one it cannot build)."""


def _make_from_id(env_id: str) -> gym.Env:
    candidates = [env_id]
    if not env_id.startswith(NAMESPACE) and NAMESPACE + env_id in gym.registry:
        candidates.insert(0, NAMESPACE + env_id)
    for candidate in candidates:
        if candidate in gym.registry:
            return _build(candidate)
    try:  # let Gymnasium explain (versions, namespaces, close matches)
        return gym.make(env_id)
    except _UNKNOWN_ID + (gym.error.Error,) as error:
        if not isinstance(error, _UNKNOWN_ID) and isinstance(error, gym.error.DependencyNotInstalled):
            raise _cannot_build(env_id, error) from None
        raise EnvError(
            f"unknown environment id {env_id!r}; built-in tasks: {', '.join(TASKS)} "
            f"(or any registered Gymnasium id; Gymnasium says: {error})"
        ) from None


def _build(env_id: str) -> gym.Env:
    """``gym.make`` of a registered id; a constructor that fails (a missing dependency, say) is
    one line naming the id and what is missing."""
    try:
        return gym.make(env_id)
    except Exception as error:
        raise _cannot_build(env_id, error) from error


def _cannot_build(env_id: str, error: BaseException) -> EnvError:
    text = " ".join(str(error).split())
    if isinstance(error, ModuleNotFoundError) and error.name:
        hint = (f"; the module {error.name!r} it needs is not installed (pip install guidedrl "
                f"installs what Gymnasium's MuJoCo tasks need; for others install the package providing it)")
    elif isinstance(error, gym.error.DependencyNotInstalled):
        hint = "; a dependency of this env is not installed"
    else:
        hint = ""
    return EnvError(f"cannot build environment {env_id!r}: {type(error).__name__}: {text}{hint}")


def env_id_of(env: Any) -> str:
    """The id to record in config.json: the string itself, the env's spec id, or its class name
    (a factory: its name; the loop records the id of the env it made)."""
    if isinstance(env, str):
        return env
    if is_factory(env):
        return getattr(env, "__name__", type(env).__name__)
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(env.unwrapped).__name__


def check_spaces(env: gym.Env, name: str) -> None:
    """Raise :class:`EnvError` unless the action space is a bounded Box."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise EnvError(
            f"environment {name!r} has action space {space}; guidedrl needs a continuous Box action space"
        )
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise EnvError(
            f"environment {name!r} has an unbounded action space {space}; guidedrl needs finite bounds"
        )


class MujocoWarning(UserWarning):
    """A warning of MuJoCo's (e.g. a deprecated model attribute in a Gymnasium task's XML)."""


def _route_mujoco_warnings() -> None:
    """Make MuJoCo's warnings Python warnings (shown once each) instead of its default: a line on
    stderr per model compiled and a MUJOCO_LOG.TXT left in the working directory. Only when no
    handler was set (a user's own is kept)."""
    import warnings

    import mujoco

    if mujoco.get_mju_user_warning() is None:
        mujoco.set_mju_user_warning(lambda text: warnings.warn(" ".join(str(text).split()), MujocoWarning,
                                                               stacklevel=2))


EnvSource = Union[str, gym.Env, Callable[[], gym.Env]]
"""What an env can be given as: a Gymnasium id, an ``Env`` instance (any wrapper), or a
zero-argument factory returning one."""


def is_factory(env: Any) -> bool:
    """Whether ``env`` is a zero-argument env factory (a callable that is neither an id nor an Env)."""
    return callable(env) and not isinstance(env, (str, gym.Env))


def make_env(env: EnvSource, copy_instance: bool = False) -> gym.Env:
    """A ready env: bounded Box actions rescaled to [-1, 1], observations flattened to float vectors.

    ``env`` is an id, an ``Env`` instance or a zero-argument factory (called once per env made).
    ``copy_instance`` deep-copies an ``Env`` instance (or, where that fails, re-makes it from its
    spec) so that training and evaluation do not share one simulator; where neither works the
    error says to pass a factory.
    """
    _route_mujoco_warnings()
    if isinstance(env, str):
        name = env
        made = _make_from_id(env)
    elif isinstance(env, gym.Env):
        name = env_id_of(env)
        made = _copy_env(env, name) if copy_instance else env
    elif is_factory(env):
        try:
            made = env()
        except Exception as error:
            raise EnvError(f"the env factory {_factory_name(env)} failed: {type(error).__name__}: {error}") from error
        if not isinstance(made, gym.Env):
            raise EnvError(f"the env factory {_factory_name(env)} returned {type(made).__name__}, "
                           "expected a gymnasium.Env")
        name = env_id_of(made)
    else:
        raise EnvError(f"env must be a Gymnasium id, a gymnasium.Env or a zero-argument factory returning one, "
                       f"got {type(env).__name__}")
    check_spaces(made, name)
    if len(made.observation_space.shape or ()) != 1:
        made = gym.wrappers.FlattenObservation(made)
    space = made.action_space
    if not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        ones = np.ones(space.shape, np.float32)
        made = gym.wrappers.RescaleAction(made, -ones, ones)
    return made


def _factory_name(factory: Any) -> str:
    return repr(getattr(factory, "__qualname__", type(factory).__name__))


def _copy_env(env: gym.Env, name: str) -> gym.Env:
    """A separate copy of the instance ``env``: a deep copy (the user's wrappers as they are), else
    a re-make from its spec; an :class:`EnvError` naming both failures otherwise."""
    try:
        return copy.deepcopy(env)
    except Exception as copy_error:
        reason = f"a deep copy failed ({type(copy_error).__name__}: {copy_error})"
    if env.spec is not None:
        try:
            return gym.make(env.spec)
        except Exception as make_error:
            reason += f" and re-making it from its spec failed ({type(make_error).__name__}: {make_error})"
    raise EnvError(f"cannot make a separate copy of the env instance {name!r} for evaluation: {reason}; pass a "
                   f"zero-argument factory instead (env=lambda: MyWrapper(gym.make(...))), or eval_env=")


def action_bounds(env: gym.Env) -> tuple:
    """The env-space action bounds (low, high) behind the [-1, 1] rescaling, as float lists."""
    space = env.unwrapped.action_space
    return space.low.astype(float).tolist(), space.high.astype(float).tolist()


_register()
