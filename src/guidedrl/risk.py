"""The risk critic of the ``risk`` confidence (docs/ALGORITHMS.md, "Learned confidence: risk"):
the discounted probability that a catastrophe follows taking action a at s and then the actor's
own action, learned from the per-step catastrophe label every transition carries (``cost``: 1 on a
catastrophe, 0 otherwise, -1 where unknown, e.g. a dataset without labels).

Two heads (the twin-critic network with a sigmoid on each output), trained as Recovery RL trains
its safety critic (Thananjeyan et al. 2021), on binary cross-entropy to the soft target

    y = c + (1 - c) · (1 - d) · γ_risk · ρ̄(s')

with Polyak target heads z̄, ρ̄(s, a) = max_j σ(z̄_j(s, a)) and ρ̄(s') the risk of the switched
policy at s' (:func:`switched_risk`): ρ̄(s', a_g(s')) where the guide keeps s' for risk, else
ρ̄(s', π(s')) with π(s') the actor's deterministic action. The risk used by the
switch is the pessimistic bound max_j σ(z_j(s, a)): where the two heads disagree (states and
actions the data do not cover) the larger one speaks. Both heads start at ``risk_prior`` (their
output bias is logit(risk_prior)), so before any data the agent's action counts as risky: the
guide keeps acting until the critic has learned where the agent's action is safe.

Rows whose label is unknown (cost < 0) carry no gradient. Pure functions over :class:`RiskState`.
"""

from __future__ import annotations

import math
from typing import Any, Tuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from guidedrl.networks import TwinCritic
from guidedrl.types import Batch, Metrics

UNKNOWN = -1.0
"""The ``cost`` label of a transition whose catastrophe flag is not known (no gradient)."""


@struct.dataclass
class RiskState:
    """The risk critic's two heads, their Polyak targets and the optimiser's state."""

    params: Any
    target_params: Any
    opt_state: Any
    prior_params: Any = None
    """Each head's fixed random function (never trained; None without ``risk_spread``)."""


def risk_net(config) -> TwinCritic:
    """Two heads of logits z_j(s, a), the task critic's network and sizes."""
    return TwinCritic(tuple(config.hidden_sizes))


def _optimiser(config):
    return optax.adam(config.critic_lr)


def init(config, key: jax.Array, obs_dim: int, action_dim: int) -> RiskState:
    """Fresh heads whose output bias is logit(``config.risk_prior``): every risk starts near the prior;
    with ``risk_spread``, each head's fixed random function beside them."""
    head_key, prior_key = jax.random.split(key)
    obs, action = jnp.zeros((1, obs_dim), jnp.float32), jnp.zeros((1, action_dim), jnp.float32)
    params = risk_net(config).init(head_key, obs, action)
    prior_params = risk_net(config).init(prior_key, obs, action) if config.risk_spread > 0 else None
    prior = min(max(config.risk_prior, 1e-4), 1.0 - 1e-4)
    logit = math.log(prior / (1.0 - prior))
    inner = params["params"]
    (name,) = inner.keys()  # the vmapped MLP
    last = f"Dense_{len(config.hidden_sizes)}"
    layers = dict(inner[name])
    layers[last] = {**layers[last], "bias": jnp.full_like(layers[last]["bias"], logit)}
    params = {"params": {name: layers}}
    return RiskState(params=params, target_params=jax.tree_util.tree_map(jnp.copy, params),
                     opt_state=_optimiser(config).init(params), prior_params=prior_params)


def logits(config, params: Any, prior_params: Any, obs: jax.Array, action: jax.Array) -> jax.Array:
    """(2, B): each head's logit, z_j(s, a) + spread · f_j(s, a) with f_j its fixed random function
    (randomised prior functions, Osband et al. 2018: where no data pinned the heads down they keep
    disagreeing, and the bound, their max, stays high)."""
    net = risk_net(config)
    out = net.apply(params, obs, action)
    if prior_params is not None:
        out = out + config.risk_spread * jax.lax.stop_gradient(net.apply(prior_params, obs, action))
    return out


def probability(config, state: RiskState, obs: jax.Array, action: jax.Array, target: bool = False) -> jax.Array:
    """The pessimistic risk max_j σ(logit_j(s, a)) (per row), of the heads or (``target``) of their targets."""
    params = state.target_params if target else state.params
    return jnp.max(jax.nn.sigmoid(logits(config, params, state.prior_params, obs, action)), axis=0)


def switched_risk(config, confidence: jax.Array, actor_risk: jax.Array, guide_risk: jax.Array) -> jax.Array:
    """The risk at s' of the policy that acts there: the guide with probability λ(s')·1[actor risky]
    (the risk part of the switch; the return part only adds guide steps), the actor otherwise. So the
    heads learn the risk of letting the actor act now with the guide still on watch after, and a
    reflex that saves the states it keeps makes the states before them safe."""
    guide = confidence * (actor_risk > config.risk_threshold).astype(actor_risk.dtype)
    return guide * guide_risk + (1.0 - guide) * actor_risk


def risk_target(cost: jax.Array, terminated: jax.Array, next_risk: jax.Array, gamma: float) -> jax.Array:
    """y = c + (1 - c)(1 - d) γ_risk r', c clipped to [0, 1] (an unknown label, -1, counts as 0
    here; :func:`risk_loss` drops its row): a catastrophe is risk 1, a termination without one
    ends the risk, a truncation bootstraps."""
    label = jnp.clip(cost, 0.0, 1.0)
    return label + (1.0 - label) * (1.0 - terminated) * gamma * next_risk


def row_weights(cost: jax.Array, catastrophe_weight: float) -> jax.Array:
    """Each row's weight in :func:`risk_loss`: 0 where the label is unknown (cost < 0),
    ``catastrophe_weight`` on a catastrophe (cost 1), 1 elsewhere. A catastrophe's target is 1
    whatever the heads say, so its weight changes how fast the heads learn it, not what they learn:
    a few catastrophes among tens of thousands of safe steps are otherwise a rounding error."""
    known = (cost >= 0.0).astype(jnp.float32)
    return known * (1.0 + (catastrophe_weight - 1.0) * jnp.clip(cost, 0.0, 1.0))


def risk_loss(logits: jax.Array, target: jax.Array, weight: jax.Array) -> jax.Array:
    """Σ_j of the binary cross-entropy of σ(z_j) to y, a weighted mean over the rows (0 when every
    weight is 0). ``logits``: (2, B); y held constant; ``weight``: :func:`row_weights`."""
    target = jax.lax.stop_gradient(target)
    per_row = optax.sigmoid_binary_cross_entropy(logits, target[None])  # (2, B)
    return jnp.sum(jnp.sum(per_row * weight[None], axis=-1) / jnp.maximum(jnp.sum(weight), 1e-6))


def conservative_gap(data_logits: jax.Array, actor_logits: jax.Array) -> jax.Array:
    """E_B[σ(z(s, a))] - E_B[σ(z(s, π(s)))], summed over the heads: minimised, it raises the risk
    of the actor's actions above that of the actions the data hold at the same states (Conservative
    Safety Critics, Bharadhwaj et al. 2021, on probabilities so the push saturates at 1). Where the
    actor's action is one the data hold, the two terms cancel; where only the guide acted, the
    actor's action keeps a risk the data must disprove."""
    return jnp.sum(jnp.mean(jax.nn.sigmoid(data_logits), axis=-1) - jnp.mean(jax.nn.sigmoid(actor_logits), axis=-1))


def update(config, state: RiskState, batch: Batch, next_action: jax.Array,
           actor_action: Any = None) -> Tuple[RiskState, jax.Array, Metrics]:
    """One gradient step of the risk heads on ``batch``; ``next_action`` is the actor's
    deterministic action at s' and ``actor_action`` at s (read with ``risk_conservatism`` > 0).
    Returns the new state, the target heads' risk at (s', π(s')) (from the start of the step, what
    the critic target's switch reads) and the metrics."""
    next_actor_risk = probability(config, state, batch.next_obs, next_action, target=True)
    if config.risk_bootstrap == "switched":
        next_guide_risk = probability(config, state, batch.next_obs, batch.next_guide_action, target=True)
        next_risk = switched_risk(config, batch.next_confidence, next_actor_risk, next_guide_risk)
    else:  # the actor's own risk onward (Recovery RL's)
        next_risk = next_actor_risk
    cost = batch.cost if batch.cost is not None else jnp.full_like(batch.reward, UNKNOWN)
    target = risk_target(cost, batch.terminated, next_risk, config.risk_gamma)
    weight = row_weights(cost, config.risk_catastrophe_weight)

    def objective(params):
        head_logits = logits(config, params, state.prior_params, batch.obs, batch.action)
        loss = risk_loss(head_logits, target, weight)
        if config.risk_conservatism > 0:
            actor_logits = logits(config, params, state.prior_params, batch.obs, actor_action)
            loss = loss + config.risk_conservatism * conservative_gap(head_logits, actor_logits)
        return loss, head_logits

    (loss, head_logits), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    updates, opt_state = _optimiser(config).update(grads, state.opt_state)
    params = optax.apply_updates(state.params, updates)
    new_state = RiskState(params=params, target_params=optax.incremental_update(params, state.target_params, config.tau),
                          opt_state=opt_state, prior_params=state.prior_params)
    metrics = {"risk_loss": loss, "risk_mean": jnp.mean(jnp.max(jax.nn.sigmoid(head_logits), axis=0))}
    return new_state, jax.lax.stop_gradient(next_actor_risk), metrics
