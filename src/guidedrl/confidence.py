"""Learned confidence (docs/ALGORITHMS.md, "Learned confidence"): the user's λ(s) as an outer bound,
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

With ``risk``, the guide's side also stays where the risk critic (guidedrl.risk) rates the actor's
action risky, whatever the task critic says::

    risk:        λ̂(s) = λ(s) · 1[ΔQ(s) >= -m  or  ρ(s, π(s)) > ε]

ρ the pessimistic (max over two heads) risk, ε ``risk_threshold``: the agent takes a state of the
region only where its action is both safe and rated above the guide's.

Everything here is a pure function of arrays already in the batch (a_g and λ of s and s'), traced
into the jitted calls: no host work.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

import jax
import jax.numpy as jnp

CONFIDENCES = ("given", "q-gap", "q-gap-soft", "risk")
"""``--confidence`` values: the user's λ as given, narrowed by the critic's gap (hard or soft), or
narrowed by the gap only where the risk critic rates the actor's action safe (guidedrl.risk)."""


def learned(config, confidence: jax.Array, delta_q: jax.Array, risk: Optional[jax.Array] = None) -> jax.Array:
    """λ̂ from the user's λ and ΔQ = Q(s, a_guide) - Q(s, π(s)) (per row), per ``config.confidence``;
    ``risk``: the risk critic's pessimistic risk of the actor's action (the ``risk`` rule only)."""
    if config.confidence == "risk":  # the guide keeps acting where π(s) is risky or not better
        keep = (delta_q >= -config.confidence_margin) | (risk > config.risk_threshold)
        return confidence * keep.astype(confidence.dtype)
    if config.confidence == "q-gap":
        return confidence * (delta_q >= -config.confidence_margin).astype(confidence.dtype)
    if config.confidence == "q-gap-soft":
        return confidence * jax.nn.sigmoid(config.confidence_beta * (delta_q + config.confidence_margin))
    return confidence


def rate(config, confidence: jax.Array, q: Callable[[jax.Array], jax.Array], guide_action: jax.Array,
         actor_action: jax.Array, risk: Optional[jax.Array] = None) -> jax.Array:
    """λ̂ with ``q(action)`` = min_j Q_j(s, action) at the batch's states (no gradient through it);
    ``risk``: the risk of ``actor_action`` (the ``risk`` rule only)."""
    delta_q = jax.lax.stop_gradient(q(guide_action) - q(actor_action))
    return learned(config, confidence, delta_q, risk)


def summary(config, confidence: jax.Array, narrowed: jax.Array, risk: Optional[jax.Array] = None
            ) -> Dict[str, jax.Array]:
    """The update's metrics of λ̂ on a batch: its mean, and the share of the user's region it keeps
    (Σλ̂ / Σλ; 1 when the batch holds no state of the region: nothing was narrowed). With the
    ``risk`` rule, that share split in two: kept because the actor's action is risky
    (``confidence_kept_risk``), and kept although it is safe, because the guide's action is rated
    at least as high (``confidence_kept_return``)."""
    total = jnp.sum(confidence)
    safe_total = jnp.where(total > 0, total, 1.0)
    kept = jnp.where(total > 0, jnp.sum(narrowed) / safe_total, 1.0)
    metrics = {"confidence_learned": jnp.mean(narrowed), "confidence_kept": kept}
    if config.confidence == "risk":
        for_risk = jnp.sum(confidence * (risk > config.risk_threshold)) / safe_total
        metrics["confidence_kept_risk"] = jnp.where(total > 0, for_risk, 0.0)
        metrics["confidence_kept_return"] = jnp.where(total > 0, kept - for_risk, 1.0)
    return metrics
