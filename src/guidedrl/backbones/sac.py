"""Soft Actor-Critic (Haarnoja et al. 2018) as pure functions over :class:`SACState`.

One gradient step (:func:`update`) evaluates every loss at the parameters from
the start of the step, as the RLLG reference code does, then steps the
temperature, the actor, the strategy's own network, the critics and the
Polyak targets, in that order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from guidedrl.networks import (
    TanhGaussianActor,
    tanh_gaussian_log_prob,
    tanh_gaussian_sample,
)
from guidedrl.backbones.critic import (apply_critic, critic_net, critic_step, init_networks,
                                      strategy_update, update_metrics)
from guidedrl.backbones.critic import critic_q  # noqa: F401  (part of every backbone's interface)
from guidedrl.entropy import temperature_loss
from guidedrl.types import Batch, Metrics

if TYPE_CHECKING:  # the strategies import the backbones' losses
    from guidedrl.guidance.base import Strategy


@struct.dataclass
class SACState:
    """Everything SAC learns, with its optimiser states."""

    actor_params: Any
    critic_params: Any
    target_critic_params: Any
    log_alpha: jax.Array
    actor_opt_state: Any
    critic_opt_state: Any
    alpha_opt_state: Any
    action_dim: int = struct.field(pytree_node=False, default=1)


# -- networks and optimisers, built from the config ---------------------------------------


def actor_net(config, action_dim: int) -> TanhGaussianActor:
    return TanhGaussianActor(tuple(config.hidden_sizes), action_dim)


def _optimisers(config):
    return (
        optax.adam(config.actor_lr),
        optax.adam(config.critic_lr),
        optax.adam(config.temperature_lr),
    )


# -- losses (importable, exact-value tested) ----------------------------------------------


def soft_next_value(next_q: jax.Array, next_log_prob: jax.Array, alpha: jax.Array) -> jax.Array:
    """V̄_θ(s') = min_j Q̄_j(s', a') - α log π_θ(a'|s'), a' ~ π_θ(·|s'). ``next_q``: (2, B)."""
    return jnp.min(next_q, axis=0) - alpha * next_log_prob


def actor_loss(log_prob: jax.Array, q: jax.Array, alpha: jax.Array) -> jax.Array:
    """E_s[α log π_θ(a|s) - min_j Q_j(s, a)], a ~ π_θ(·|s) reparameterised. ``q``: (2, B)."""
    return jnp.mean(jax.lax.stop_gradient(alpha) * log_prob - jnp.min(q, axis=0))


# -- agent functions ----------------------------------------------------------------------


def init(config, key: jax.Array, obs_dim: int, action_dim: int) -> SACState:
    """Fresh parameters and optimiser states; the target critics start equal to the critics."""
    actor_params, critic_params = init_networks(actor_net(config, action_dim), config, key, obs_dim, action_dim)
    log_alpha = jnp.asarray(jnp.log(config.init_temperature), jnp.float32)
    actor_opt, critic_opt, alpha_opt = _optimisers(config)
    return SACState(
        actor_params=actor_params,
        critic_params=critic_params,
        target_critic_params=jax.tree_util.tree_map(jnp.copy, critic_params),
        log_alpha=log_alpha,
        actor_opt_state=actor_opt.init(actor_params),
        critic_opt_state=critic_opt.init(critic_params),
        alpha_opt_state=alpha_opt.init(log_alpha),
        action_dim=action_dim,
    )


def explore_action(config, state: SACState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """a ~ π_θ(·|s)."""
    mean, log_std = actor_net(config, state.action_dim).apply(state.actor_params, obs)
    action, _ = tanh_gaussian_sample(mean, log_std, key)
    return action


def deterministic_action(config, state: SACState, obs: jax.Array) -> jax.Array:
    """tanh(mean of π_θ(·|s))."""
    mean, _ = actor_net(config, state.action_dim).apply(state.actor_params, obs)
    return jnp.tanh(mean)


def update(
    config,
    state: SACState,
    batch: Batch,
    key: jax.Array,
    strategy: Strategy,
    strategy_state: Any,
    env_step: jax.Array,
    next_risk: Any = None,
) -> Tuple[SACState, Any, Metrics]:
    """One gradient step of SAC with ``strategy``'s hooks. Returns (state, strategy state, metrics).
    ``next_risk``: see :func:`critic_step`."""
    actor_key, next_key, strategy_key, target_key = jax.random.split(key, 4)
    action_dim = batch.action.shape[-1]
    actor_apply = actor_net(config, action_dim).apply
    critic_apply = critic_net(config).apply
    actor_opt, critic_opt, alpha_opt = _optimisers(config)
    alpha = jnp.exp(state.log_alpha)
    target_entropy = config.resolved_target_entropy(action_dim)

    # actor (and, from its sample, the temperature)
    def actor_objective(actor_params):
        mean, log_std = actor_apply(actor_params, batch.obs)
        action, log_prob = tanh_gaussian_sample(mean, log_std, actor_key)
        q = critic_apply(state.critic_params, batch.obs, strategy.compose(config, action, batch.guide))

        def guide_penalty():
            return -tanh_gaussian_log_prob(mean, log_std, batch.guide_action)

        loss = actor_loss(log_prob, q, alpha) + strategy.actor_extra_loss(
            config, batch, guide_penalty, env_step
        )
        return loss, log_prob

    (actor_loss_value, log_prob), actor_grads = jax.value_and_grad(actor_objective, has_aux=True)(
        state.actor_params
    )

    if config.learn_temperature:
        alpha_loss_value, alpha_grad = jax.value_and_grad(temperature_loss)(
            state.log_alpha, log_prob, target_entropy
        )
        alpha_updates, alpha_opt_state = alpha_opt.update(alpha_grad, state.alpha_opt_state)
        log_alpha = optax.apply_updates(state.log_alpha, alpha_updates)
    else:
        alpha_loss_value, alpha_opt_state, log_alpha = jnp.zeros(()), state.alpha_opt_state, state.log_alpha

    # critics, with the strategy's reward and next-state value
    next_mean, next_log_std = actor_apply(state.actor_params, batch.next_obs)
    next_action, next_log_prob = tanh_gaussian_sample(next_mean, next_log_std, next_key)
    critic_loss_value, q, critic_grads, confidence_metrics = critic_step(
        config, state.critic_params, state.target_critic_params, batch, next_action,
        lambda next_q: soft_next_value(next_q, next_log_prob, alpha), strategy, strategy_state,
        target_key, env_step, next_risk,
    )

    # the strategy's own network sees the critics from the start of the step
    strategy_state, strategy_metrics = strategy_update(config, strategy, strategy_state, batch, state, strategy_key,
                                                       env_step)

    actor_updates, actor_opt_state = actor_opt.update(actor_grads, state.actor_opt_state)
    critic_params, critic_opt_state = apply_critic(critic_opt, critic_grads, state)
    new_state = SACState(
        actor_params=optax.apply_updates(state.actor_params, actor_updates),
        critic_params=critic_params,
        target_critic_params=optax.incremental_update(
            critic_params, state.target_critic_params, config.tau
        ),
        log_alpha=log_alpha,
        actor_opt_state=actor_opt_state,
        critic_opt_state=critic_opt_state,
        alpha_opt_state=alpha_opt_state,
        action_dim=state.action_dim,
    )
    metrics = update_metrics(critic_loss_value, actor_loss_value, q, confidence_metrics, strategy_metrics,
                             temperature_loss=alpha_loss_value, alpha=alpha, entropy=-jnp.mean(log_prob))
    return new_state, strategy_state, metrics


NAME = "sac"
