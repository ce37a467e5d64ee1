"""The entropy temperature's loss, shared by SAC's actor and PAG's perturbation network
(docs/ALGORITHMS.md, "Backbones": SAC)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def temperature_loss(log_alpha: jax.Array, log_prob: jax.Array, target_entropy: float) -> jax.Array:
    """E_s[-log α · (log π_θ(a|s) + H_target)], log π held constant."""
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy))
