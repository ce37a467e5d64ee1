"""gymnax's continuous-control environments as :class:`~guidedrl.jaxenvs.base.JaxEnv`:
``gymnax/Pendulum-v1`` and ``gymnax/MountainCarContinuous-v0`` on the command line.

gymnax (0.0.9; its 1.x pins gymnasium below 1.4) folds the time limit into ``done`` and resets
inside ``step``; guidedrl's loop tells termination from truncation (a time limit bootstraps) and
resets itself, so this adapter calls the env's ``step_env`` and asks ``is_terminal`` twice: with
the step counter as is (done), and with it at 0 (terminated, whatever the time).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Tuple

import jax
import jax.numpy as jnp

from guidedrl.errors import EnvError
from guidedrl.jaxenvs.base import JaxEnv, Transition

GYMNAX_TASKS = ("Pendulum-v1", "MountainCarContinuous-v0")
"""gymnax environments with a continuous (Box) action space that guidedrl runs."""


def _gymnax():
    try:
        import gymnax
    except ImportError as error:  # pragma: no cover - the extra is installed in tests
        raise EnvError("gymnax environments need gymnax: pip install 'guidedrl[jax-envs]'") from error
    return gymnax


@dataclasses.dataclass(frozen=True, eq=False)
class GymnaxEnv(JaxEnv):
    """A gymnax environment with its default parameters."""

    env: Any = None
    params: Any = None

    def reset(self, key: jax.Array) -> Tuple[jax.Array, Any]:
        obs, state = self.env.reset_env(key, self.params)
        return jnp.asarray(obs, jnp.float32).reshape(self.obs_dim), state

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Transition:
        action = action.reshape(self.action_dim) if self.action_dim > 1 else action.reshape(1)
        obs, next_state, reward, done, _ = self.env.step_env(key, state, action, self.params)
        terminated = jnp.asarray(self.env.is_terminal(next_state.replace(time=0), self.params), bool).reshape(())
        done = jnp.asarray(done, bool).reshape(())
        return Transition(jnp.asarray(obs, jnp.float32).reshape(self.obs_dim), next_state,
                          jnp.asarray(reward, jnp.float32).reshape(()), terminated, done & ~terminated,
                          jnp.full((), -1.0, jnp.float32))


def make_gymnax(task: str) -> GymnaxEnv:
    """``gymnax/<task>`` as a :class:`GymnaxEnv` (``task`` in :data:`GYMNAX_TASKS`)."""
    if task not in GYMNAX_TASKS:
        raise EnvError(f"unknown gymnax task {task!r}; guidedrl runs gymnax/{', gymnax/'.join(GYMNAX_TASKS)} "
                       "(a continuous action space)")
    env, params = _gymnax().make(task)
    space = env.action_space(params)
    obs_dim = int(env.observation_space(params).shape[0])
    action_dim = int(space.shape[0]) if space.shape else 1
    low = tuple(float(v) for v in jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), (action_dim,)))
    high = tuple(float(v) for v in jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), (action_dim,)))
    return GymnaxEnv(name=f"gymnax/{task}", obs_dim=obs_dim, action_dim=action_dim, action_low=low,
                     action_high=high, max_episode_steps=int(params.max_steps_in_episode),
                     reports_catastrophes=False, env=env, params=params)
