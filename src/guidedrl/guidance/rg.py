"""RG, reward guided: the critic learns from r̃ = r - c·λ(s)·‖a - a_g(s)‖².

The paper names RG but its code omits it; this shaping is guidedrl's choice
(docs/ALGORITHMS.md). The guide is never executed.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from guidedrl.guidance import none


def shaped_reward(reward, action, guide_action, confidence, coef):
    """r̃ = r - c·λ(s)·‖a - a_g(s)‖²."""
    return reward - coef * confidence * jnp.sum((action - guide_action) ** 2, axis=-1)


def reward(config, batch, env_step):
    return shaped_reward(batch.reward, batch.action, batch.guide_action, batch.confidence, config.rg_coef)


STRATEGY = dataclasses.replace(none.STRATEGY, name="rg", reward=reward, uses_guide=True)
