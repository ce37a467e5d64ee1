"""A JAX environment as a Gymnasium env, stepped from the host: the host loop (and any
Gymnasium library, e.g. a peer measured against) on the same task as the jitted path."""

from __future__ import annotations

from typing import Optional

import gymnasium as gym
import jax
import numpy as np

from guidedrl.jaxenvs.base import JaxEnv


class GymFromJax(gym.Env):
    """``jax_env`` as a ``gym.Env``: ``reset(seed=s)`` draws the episode with the key of ``s``,
    each ``step`` is one jitted call of ``jax_env.step``; ``info["catastrophe"]`` when the env
    reports catastrophes."""

    metadata = {"render_modes": []}

    def __init__(self, jax_env: JaxEnv):
        self.jax_env = jax_env
        self.action_space = gym.spaces.Box(np.asarray(jax_env.action_low, np.float32),
                                           np.asarray(jax_env.action_high, np.float32), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (jax_env.obs_dim,), np.float32)
        self._reset = jax.jit(jax_env.reset)
        self._step = jax.jit(jax_env.step)
        self._key = jax.random.key(0)
        self._state = None
        self._count = 0

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.key(seed)
        self._key, key = jax.random.split(self._key)
        obs, self._state = self._reset(key)
        self._state = jax.tree_util.tree_map(np.asarray, self._state)
        return np.asarray(obs, np.float32), {}

    def step(self, action):
        self._count += 1
        transition = self._step(jax.random.fold_in(self._key, self._count), self._state,
                                np.asarray(action, np.float32).reshape(self.jax_env.action_dim))
        self._state = transition.state
        info = {}
        if self.jax_env.reports_catastrophes:
            catastrophe = bool(transition.catastrophe > 0.5)
            info = {"catastrophe": catastrophe, "cost": float(catastrophe)}
        return (np.asarray(transition.obs, np.float32), float(transition.reward), bool(transition.terminated),
                bool(transition.truncated), info)


def gym_env(name: str) -> GymFromJax:
    """The JAX env ``name`` as a Gymnasium env: the entry point of its Gymnasium registration
    (:data:`guidedrl.envs.JAX_ENV_IDS`)."""
    from guidedrl.jaxenvs import make_jax_env

    return GymFromJax(make_jax_env(name))


def host_guide(jax_guide):
    """``jax_guide`` as a :class:`~guidedrl.Guide` the host path calls with NumPy observations
    (one jitted call each): how ``guidedrl eval`` and ``guidedrl.load`` act with a run trained on
    the jitted path."""
    from guidedrl.guides.base import Guide

    call = jax.jit(jax_guide)

    def policy(obs):
        return np.asarray(call(np.asarray(obs, np.float32))[0], np.float64)

    def confidence(obs):
        return float(call(np.asarray(obs, np.float32))[1])

    return Guide(policy, confidence, name=jax_guide.name)
