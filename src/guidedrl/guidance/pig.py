"""PIG, policy improvement guided: the actor's loss gains β_t·E_s[λ(s)·d(π_θ, a_g(s))], where d
is -log π_θ(a_g|s) for SAC and ‖μ_θ(s) - a_g(s)‖² for TD3. The guide is never executed."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from guidedrl.guidance import none
from guidedrl.guidance.schedules import pig_beta


def guide_term(confidence, penalty, beta):
    """β·E_s[λ(s)·d(s)]: zero wherever λ = 0."""
    return beta * jnp.mean(confidence * penalty)


def actor_extra_loss(config, batch, guide_penalty, env_step):
    return guide_term(batch.confidence, guide_penalty(), pig_beta(config, env_step))


STRATEGY = dataclasses.replace(
    none.STRATEGY, name="pig", actor_extra_loss=actor_extra_loss, uses_guide=True
)
