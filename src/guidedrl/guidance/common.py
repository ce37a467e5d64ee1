"""Pieces shared by the strategies that execute the guide (SAG, PAG)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


DEPLOYED_THRESHOLD = 0.5
"""The deployed (deterministic) policy lets the guide act where λ(s) >= this."""


def use_guide(key: jax.Array, confidence: jax.Array, deterministic: bool) -> jax.Array:
    """Whether the guide acts: a Bernoulli(λ) draw, or λ >= 0.5 when acting deterministically."""
    if deterministic:
        return confidence >= DEPLOYED_THRESHOLD
    return jax.random.uniform(key, confidence.shape) < confidence


def switched(use: jax.Array, guide_action: jax.Array, actor_action: jax.Array) -> jax.Array:
    """The guide's action where ``use``, the actor's elsewhere."""
    return jnp.where(use[..., None], guide_action, actor_action)


def switched_next_value(next_confidence, actor_next_value, guide_next_value):
    """λ' Q̄(s', a_g) + (1 - λ') V̄_θ(s'): the value of the switched policy at s'.
    (With ``critic_target="actor"`` strategies use V̄_θ(s') alone, the paper's ablation.)"""
    return next_confidence * guide_next_value + (1.0 - next_confidence) * actor_next_value
