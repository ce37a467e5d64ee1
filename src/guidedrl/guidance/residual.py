"""Residual RL (Silver et al. 2018; Johannink et al. 2019): everywhere, the executed action is
clip(a_g(s) + Φ·a) with a from the actor; the critic learns on the executed action and the
actor's loss goes through the composition. λ is not used."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from guidedrl.guidance import none


def compose(config, actor_action, guide):
    """clip(a_g(s) + Φ·a, -1, 1)."""
    return jnp.clip(guide.guide_action + config.phi * actor_action, -1.0, 1.0)


def behaviour(config, strategy_state, obs, actor_action, guide, key, deterministic, env_step, clock=None):
    """The composed action; every executed action contains the guide's."""
    return compose(config, actor_action, guide), jnp.ones(actor_action.shape[:-1], bool)


STRATEGY = dataclasses.replace(
    none.STRATEGY, name="residual", behaviour=behaviour, compose=compose, uses_guide=True
)
