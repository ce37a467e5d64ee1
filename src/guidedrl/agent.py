"""An agent: a backbone and a guidance strategy composed (docs/DESIGN.md, decisions 2-3).

``init``, ``act`` and ``update`` are pure functions over :class:`AgentState`; the
training loop, the evaluator and the checkpoints only ever see these.
``update_many`` runs K gradient steps in one ``lax.scan``.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import jax
import jax.numpy as jnp
from flax import struct

from guidedrl.backbones import get_backbone
from guidedrl import confidence, risk
from guidedrl.guidance import get_strategy
from guidedrl.types import Batch, EpisodeClock, GuideFields, Metrics


@struct.dataclass
class AgentState:
    """The backbone's state, the strategy's state, the count of gradient steps, and the risk
    critic's state (:mod:`guidedrl.risk`; None unless ``confidence="risk"``)."""

    backbone: Any
    guidance: Any
    gradient_steps: jax.Array
    risk: Any = None


def init(config, key: jax.Array, obs_dim: int, action_dim: int) -> AgentState:
    """Fresh agent for observations of ``obs_dim`` and actions in [-1, 1]^``action_dim``."""
    backbone_key, guidance_key = jax.random.split(key)
    return AgentState(
        backbone=get_backbone(config.algo).init(config, backbone_key, obs_dim, action_dim),
        guidance=get_strategy(config.guidance).init(config, guidance_key, obs_dim, action_dim),
        gradient_steps=jnp.zeros((), jnp.int32),
        # its own key, from the root's, so the other networks start as without it
        risk=risk.init(config, jax.random.fold_in(key, RISK_KEY), obs_dim, action_dim) if config.confidence == "risk"
        else None,
    )


RISK_KEY = 0x515C
"""The risk critic's initial key is the agent's folded with this."""


def act(
    config,
    state: AgentState,
    obs: jax.Array,
    guide: GuideFields,
    key: jax.Array,
    deterministic: bool,
    uniform: jax.Array = False,
    env_step: jax.Array = 0,
    clock: Optional[EpisodeClock] = None,
) -> Tuple[jax.Array, jax.Array]:
    """The behaviour (or, ``deterministic``, the deployed) action at ``obs`` and whether the guide gave it.

    ``uniform`` replaces the actor's proposal by a uniform draw (the warm-up); the
    strategy still decides on top of it, so a guide acts from the very first step. ``clock``
    says where in its episode the action falls (default: no jump-start horizon). With a learned
    confidence, λ(s) is narrowed to λ̂(s) by the current critics first (guidedrl.confidence).
    """
    backbone = get_backbone(config.algo)
    strategy = get_strategy(config.guidance)
    actor_key, uniform_key, strategy_key = jax.random.split(key, 3)
    if clock is None:
        clock = EpisodeClock.after_horizon(obs.shape[:-1])
    if deterministic:
        actor_action = backbone.deterministic_action(config, state.backbone, obs)
    else:
        actor_action = backbone.explore_action(config, state.backbone, obs, actor_key)
        random_action = jax.random.uniform(uniform_key, actor_action.shape, minval=-1.0, maxval=1.0)
        actor_action = jnp.where(uniform, random_action, actor_action)
    if config.confidence != "given":
        guide = guide.replace(confidence=acting_confidence(config, state, obs, guide, env_step, actor_action))
    return strategy.behaviour(
        config, state.guidance, obs, actor_action, guide, strategy_key, deterministic, env_step, clock
    )


def acting_confidence(config, state: AgentState, obs: jax.Array, guide: GuideFields,
                      env_step: jax.Array = 0, proposed: Optional[jax.Array] = None) -> jax.Array:
    """λ̂(s) when acting: the current critics rate the guide's side of the switch against the
    actor's deterministic action (PAG's perturbation at its mean). With ``confidence="risk"`` the
    risk critic rates ``proposed``, the actor's action about to be executed (its exploring sample
    while training; default: the deterministic action), as a shield checks the action it lets through."""
    backbone = get_backbone(config.algo)
    strategy = get_strategy(config.guidance)
    guided = strategy.guided_action(config, state.guidance, obs, guide.guide_action, jax.random.PRNGKey(0), True,
                                    env_step)
    actor_action = backbone.deterministic_action(config, state.backbone, obs)
    proposed = actor_action if proposed is None else proposed
    actor_risk = risk.probability(config, state.risk, obs, proposed) if config.confidence == "risk" else None
    return confidence.rate(config, guide.confidence, lambda a: backbone.critic_q(config, state.backbone, obs, a),
                           guided, actor_action, actor_risk)


def update(
    config, state: AgentState, batch: Batch, key: jax.Array, env_step: jax.Array = 0
) -> Tuple[AgentState, Metrics]:
    """One gradient step of the backbone with the strategy's hooks (with ``confidence="risk"``, of
    the risk critic first: its target heads' risk at s' goes into the switch of the critic target)."""
    backbone = get_backbone(config.algo)
    risk_state, next_risk, risk_metrics = state.risk, None, {}
    if config.confidence == "risk":
        next_actor_action = backbone.deterministic_action(config, state.backbone, batch.next_obs)
        actor_action = (backbone.deterministic_action(config, state.backbone, batch.obs)
                        if config.risk_conservatism > 0 else None)
        risk_state, next_risk, risk_metrics = risk.update(config, state.risk, batch, next_actor_action, actor_action)
    backbone_state, guidance_state, metrics = backbone.update(
        config, state.backbone, batch, key, get_strategy(config.guidance), state.guidance, env_step,
        **({"next_risk": next_risk} if next_risk is not None else {})
    )
    new_state = AgentState(backbone_state, guidance_state, state.gradient_steps + 1, risk_state)
    return new_state, {**metrics, **risk_metrics}


def update_many(
    config, state: AgentState, batches: Batch, key: jax.Array, env_step: jax.Array = 0
) -> Tuple[AgentState, Metrics]:
    """K gradient steps in one ``lax.scan`` over ``batches`` (leading axis K); metrics averaged."""
    keys = jax.random.split(key, batches.reward.shape[0])

    def step(carry, inputs):
        batch, step_key = inputs
        return update(config, carry, batch, step_key, env_step)

    state, metrics = jax.lax.scan(step, state, (batches, keys))
    return state, jax.tree_util.tree_map(jnp.nanmean, metrics)
