"""Learned confidence (ALGORITHMS.md, "Learned confidence"): the user's λ(s) as an outer bound,
narrowed where the critic rates the guide's action below the actor's::

    ΔQ(s) = min_j Q_j(s, a_guide(s)) - min_j Q_j(s, π(s))
    q-gap:       λ̂(s) = λ(s) · 1[ΔQ(s) >= -m]
    q-gap-soft:  λ̂(s) = λ(s) · σ(β (ΔQ(s) + m))

a_guide is what the guide's side of the switch executes (SAG: a_g(s); PAG: the perturbed ã(s),
the strategy's ``guided_action`` hook). When acting, the current critics rate the deterministic
actions (the actor's tanh-mean or μ, PAG's mean perturbation); inside the critic target at s',
the target critics rate the guide's action at s' against the backbone's own next action a' (SAC
and AWAC: a sample of π(·|s'); TD3: the smoothed target action), as IBRL does. λ̂ never exceeds λ:
the learned rule can switch the guide off inside the user's region, never on outside it.

Everything here is a pure function of arrays already in the batch (a_g and λ of s and s'), traced
into the jitted calls: no host work.
"""

from __future__ import annotations

from typing import Callable, Dict

import jax
import jax.numpy as jnp

CONFIDENCES = ("given", "q-gap", "q-gap-soft")
"""``--confidence`` values: the user's λ as given, or narrowed by the critic's gap (hard or soft)."""


def learned(config, confidence: jax.Array, delta_q: jax.Array) -> jax.Array:
    """λ̂ from the user's λ and ΔQ = Q(s, a_guide) - Q(s, π(s)) (per row), per ``config.confidence``."""
    if config.confidence == "q-gap":
        return confidence * (delta_q >= -config.confidence_margin).astype(confidence.dtype)
    if config.confidence == "q-gap-soft":
        return confidence * jax.nn.sigmoid(config.confidence_beta * (delta_q + config.confidence_margin))
    return confidence


def rate(config, confidence: jax.Array, q: Callable[[jax.Array], jax.Array], guide_action: jax.Array,
         actor_action: jax.Array) -> jax.Array:
    """λ̂ with ``q(action)`` = min_j Q_j(s, action) at the batch's states (no gradient through it)."""
    delta_q = jax.lax.stop_gradient(q(guide_action) - q(actor_action))
    return learned(config, confidence, delta_q)


def summary(confidence: jax.Array, narrowed: jax.Array) -> Dict[str, jax.Array]:
    """The update's metrics of λ̂ on a batch: its mean, and the share of the user's region it keeps
    (Σλ̂ / Σλ; 1 when the batch holds no state of the region: nothing was narrowed)."""
    total = jnp.sum(confidence)
    kept = jnp.where(total > 0, jnp.sum(narrowed) / jnp.where(total > 0, total, 1.0), 1.0)
    return {"confidence_learned": jnp.mean(narrowed), "confidence_kept": kept}
