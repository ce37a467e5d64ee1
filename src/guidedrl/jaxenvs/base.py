"""What the jitted training path needs of an environment and a guide: pure JAX functions.

A :class:`JaxEnv` is an environment written in JAX (gymnax's, or guidedrl's twins of its point
tasks): ``reset`` and ``step`` are pure functions of a key and a state pytree, so the whole
training loop — act, env step, buffer insert, update — runs inside one ``lax.scan``
(:mod:`guidedrl.training.scanned`). A :class:`JaxGuide` is a guide written as a traceable
function of one observation.

Actions cross both in the env's own units at the env (``step``) and in the normalised space
[-1, 1]^d at the agent and the guide, as on the host path; :meth:`JaxEnv.to_env_units` converts.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple, Tuple

import jax
import jax.numpy as jnp


class Transition(NamedTuple):
    """What one :meth:`JaxEnv.step` returns (no automatic reset: the loop resets)."""

    obs: jax.Array  # (obs_dim,) float32, the next observation
    state: Any  # the env's next state
    reward: jax.Array  # () float32
    terminated: jax.Array  # () bool: the episode ended in a terminal state (no bootstrap)
    truncated: jax.Array  # () bool: the episode's time limit
    catastrophe: jax.Array  # () float32: 1 on a catastrophe, 0 without one, -1 not reported


@dataclasses.dataclass(frozen=True, eq=False)
class JaxEnv:
    """An environment as pure JAX functions.

    Subclasses set the fields and implement :meth:`reset` and :meth:`step`; ``step`` counts
    the episode's steps itself and sets ``truncated`` at ``max_episode_steps``.

    ``reports_catastrophes``: whether ``step`` ever says 0/1 (else its label is always -1, not
    reported, as a Gymnasium env without ``info["catastrophe"]``).
    """

    name: str
    obs_dim: int
    action_dim: int
    action_low: Tuple[float, ...]
    action_high: Tuple[float, ...]
    max_episode_steps: int
    reports_catastrophes: bool = False

    def reset(self, key: jax.Array) -> Tuple[jax.Array, Any]:
        """(first observation, state) of a fresh episode drawn with ``key``."""
        raise NotImplementedError

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Transition:
        """One step with ``action`` in the env's units."""
        raise NotImplementedError

    def to_env_units(self, action: jax.Array) -> jax.Array:
        """A normalised action in [-1, 1]^d in the env's units (as the host path's wrapper)."""
        low = jnp.asarray(self.action_low, jnp.float32)
        high = jnp.asarray(self.action_high, jnp.float32)
        return low + (jnp.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)


@dataclasses.dataclass(frozen=True, eq=False)
class JaxGuide:
    """A guide as a traceable function: ``fn(obs) -> (action in [-1, 1]^d, λ in [0, 1])`` for
    one observation (float32 arrays of shapes (action_dim,) and ()). ``made_for`` names the
    task it was written for."""

    fn: Callable[[jax.Array], Tuple[jax.Array, jax.Array]]
    name: str
    made_for: str = ""

    def __call__(self, obs: jax.Array) -> Tuple[jax.Array, jax.Array]:
        action, confidence = self.fn(obs)
        return (jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0),
                jnp.clip(jnp.asarray(confidence, jnp.float32), 0.0, 1.0))


def always_trusted(fn: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], Tuple[jax.Array, jax.Array]]:
    """A policy trusted everywhere (λ = 1) as a :class:`JaxGuide`'s ``fn``."""
    return lambda obs: (fn(obs), jnp.ones((), jnp.float32))
