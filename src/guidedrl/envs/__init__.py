"""Building environments: the one place where guidedrl makes an env.

``make_env`` accepts a Gymnasium id (built-in ids live in the ``guidedrl/``
namespace and may be given with or without it) or an ``Env`` instance, checks
that the action space is a bounded Box, rescales actions to [-1, 1] and
flattens observations to a vector.
"""

from __future__ import annotations

import copy
from typing import Union

import gymnasium as gym
import numpy as np

from guidedrl.errors import EnvError

NAMESPACE = "guidedrl/"


def _make_from_id(env_id: str) -> gym.Env:
    candidates = [env_id]
    if not env_id.startswith(NAMESPACE) and NAMESPACE + env_id in gym.registry:
        candidates.insert(0, NAMESPACE + env_id)
    for candidate in candidates:
        if candidate in gym.registry:
            return gym.make(candidate)
    try:  # let Gymnasium explain (versions, namespaces, close matches)
        return gym.make(env_id)
    except gym.error.Error as error:
        raise EnvError(f"unknown environment id {env_id!r}: {error}") from None


def env_id_of(env: Union[str, gym.Env]) -> str:
    """The id to record in config.json: the string itself, the env's spec id, or its class name."""
    if isinstance(env, str):
        return env
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


def make_env(env: Union[str, gym.Env], copy_instance: bool = False) -> gym.Env:
    """A ready env: bounded Box actions rescaled to [-1, 1], observations flattened to float vectors.

    ``copy_instance`` deep-copies an ``Env`` instance (or re-makes it from its spec) so that
    training and evaluation do not share one simulator.
    """
    name = env_id_of(env)
    if isinstance(env, str):
        made = _make_from_id(env)
    elif isinstance(env, gym.Env):
        made = env
        if copy_instance:
            made = gym.make(env.spec) if env.spec is not None else copy.deepcopy(env)
    else:
        raise EnvError(f"env must be a Gymnasium id or a gymnasium.Env, got {type(env).__name__}")
    check_spaces(made, name)
    if len(made.observation_space.shape or ()) != 1:
        made = gym.wrappers.FlattenObservation(made)
    space = made.action_space
    if not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        ones = np.ones(space.shape, np.float32)
        made = gym.wrappers.RescaleAction(made, -ones, ones)
    return made


def action_bounds(env: gym.Env) -> tuple:
    """The env-space action bounds (low, high) behind the [-1, 1] rescaling, as float lists."""
    space = env.unwrapped.action_space
    return space.low.astype(float).tolist(), space.high.astype(float).tolist()
