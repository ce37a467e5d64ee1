"""Step schedules of the strategies' coefficients (docs/ALGORITHMS.md, "Schedules"). Traceable."""

from __future__ import annotations

import jax.numpy as jnp


def stage(config, env_step) -> jnp.ndarray:
    """⌊t / period⌋."""
    return jnp.floor_divide(jnp.asarray(env_step, jnp.float32), float(config.period))


def pag_beta(config, env_step) -> jnp.ndarray:
    """PAG: β_t = 1 - δ^⌊t/period⌋ with the schedule (0 at first: PAG = SAG), else 1."""
    if not config.pag_schedule:
        return jnp.ones((), jnp.float32)
    return 1.0 - jnp.power(config.delta, stage(config, env_step))


def pig_beta(config, env_step) -> jnp.ndarray:
    """PIG: β_t = β0 · δ^⌊t/period⌋."""
    return config.beta0 * jnp.power(config.delta, stage(config, env_step))
