"""TD3 (Fujimoto et al. 2018) as pure functions over :class:`TD3State`.

Twin critics, target policy smoothing, and a delayed actor: the actor and all
targets are stepped on every ``policy_delay``-th critic step. Losses are
evaluated at the parameters from the start of the step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from guidedrl.backbones.critic import (apply_critic, critic_net, critic_step, init_networks,
                                      strategy_update, update_metrics)
from guidedrl.backbones.critic import critic_q  # noqa: F401  (part of every backbone's interface)
from guidedrl.networks import DeterministicActor
from guidedrl.types import Batch, Metrics

if TYPE_CHECKING:  # the strategies import the backbones' losses
    from guidedrl.guidance.base import Strategy


@struct.dataclass
class TD3State:
    """Everything TD3 learns, with its optimiser states and its critic-step counter."""

    actor_params: Any
    target_actor_params: Any
    critic_params: Any
    target_critic_params: Any
    actor_opt_state: Any
    critic_opt_state: Any
    critic_steps: jax.Array
    action_dim: int = struct.field(pytree_node=False, default=1)


def actor_net(config, action_dim: int) -> DeterministicActor:
    return DeterministicActor(tuple(config.hidden_sizes), action_dim)


def _optimisers(config):
    return optax.adam(config.actor_lr), optax.adam(config.critic_lr)


# -- losses (importable, exact-value tested) ----------------------------------------------


def smoothed_target_action(
    target_action: jax.Array, noise: jax.Array, policy_noise: float, noise_clip: float
) -> jax.Array:
    """a' = clip(μ̄(s') + clip(σ ε, -c, c), -1, 1) for standard normal ε (``noise``)."""
    return jnp.clip(target_action + jnp.clip(policy_noise * noise, -noise_clip, noise_clip), -1.0, 1.0)


def td3_next_value(next_q: jax.Array) -> jax.Array:
    """min_j Q̄_j(s', a') at the smoothed target action. ``next_q``: (2, B)."""
    return jnp.min(next_q, axis=0)


def actor_loss(q: jax.Array) -> jax.Array:
    """-E_s[Q_1(s, μ_θ(s))]. ``q``: (2, B); TD3 uses the first critic."""
    return -jnp.mean(q[0])


# -- agent functions ----------------------------------------------------------------------


def init(config, key: jax.Array, obs_dim: int, action_dim: int) -> TD3State:
    """Fresh parameters; targets start equal to the online networks."""
    actor_params, critic_params = init_networks(actor_net(config, action_dim), config, key, obs_dim, action_dim)
    actor_opt, critic_opt = _optimisers(config)
    return TD3State(
        actor_params=actor_params,
        target_actor_params=jax.tree_util.tree_map(jnp.copy, actor_params),
        critic_params=critic_params,
        target_critic_params=jax.tree_util.tree_map(jnp.copy, critic_params),
        actor_opt_state=actor_opt.init(actor_params),
        critic_opt_state=critic_opt.init(critic_params),
        critic_steps=jnp.zeros((), jnp.int32),
        action_dim=action_dim,
    )


def explore_action(config, state: TD3State, obs: jax.Array, key: jax.Array) -> jax.Array:
    """clip(μ_θ(s) + N(0, exploration_noise²), -1, 1)."""
    action = deterministic_action(config, state, obs)
    noise = config.exploration_noise * jax.random.normal(key, action.shape)
    return jnp.clip(action + noise, -1.0, 1.0)


def deterministic_action(config, state: TD3State, obs: jax.Array) -> jax.Array:
    """μ_θ(s)."""
    return actor_net(config, state.action_dim).apply(state.actor_params, obs)


def update(
    config,
    state: TD3State,
    batch: Batch,
    key: jax.Array,
    strategy: Strategy,
    strategy_state: Any,
    env_step: jax.Array,
    next_risk: Any = None,
) -> Tuple[TD3State, Any, Metrics]:
    """One critic step of TD3, and on every ``policy_delay``-th one an actor and target step."""
    noise_key, strategy_key, target_key = jax.random.split(key, 3)
    actor_apply = actor_net(config, state.action_dim).apply
    critic_apply = critic_net(config).apply
    actor_opt, critic_opt = _optimisers(config)

    # critics
    next_target_action = actor_apply(state.target_actor_params, batch.next_obs)
    next_action = smoothed_target_action(
        next_target_action,
        jax.random.normal(noise_key, next_target_action.shape),
        config.policy_noise,
        config.noise_clip,
    )
    critic_loss_value, q, critic_grads, confidence_metrics = critic_step(
        config, state.critic_params, state.target_critic_params, batch, next_action, td3_next_value,
        strategy, strategy_state, target_key, env_step, next_risk,
    )
    critic_params, critic_opt_state = apply_critic(critic_opt, critic_grads, state)

    strategy_state, strategy_metrics = strategy_update(config, strategy, strategy_state, batch, state, strategy_key,
                                                       env_step)

    # delayed actor and targets
    def actor_objective(actor_params):
        action = actor_apply(actor_params, batch.obs)
        q_actor = critic_apply(state.critic_params, batch.obs,
                               strategy.compose(config, action, batch.guide))

        def guide_penalty():
            return jnp.sum((action - batch.guide_action) ** 2, axis=-1)

        return actor_loss(q_actor) + strategy.actor_extra_loss(config, batch, guide_penalty, env_step)

    def delayed_step(_):
        loss, grads = jax.value_and_grad(actor_objective)(state.actor_params)
        updates, actor_opt_state = actor_opt.update(grads, state.actor_opt_state)
        actor_params = optax.apply_updates(state.actor_params, updates)
        return (
            actor_params,
            actor_opt_state,
            optax.incremental_update(actor_params, state.target_actor_params, config.tau),
            optax.incremental_update(critic_params, state.target_critic_params, config.tau),
            loss,
        )

    def hold(_):
        return (
            state.actor_params,
            state.actor_opt_state,
            state.target_actor_params,
            state.target_critic_params,
            jnp.full((), jnp.nan, jnp.float32),
        )

    critic_steps = state.critic_steps + 1
    actor_params, actor_opt_state, target_actor_params, target_critic_params, actor_loss_value = (
        jax.lax.cond(critic_steps % config.policy_delay == 0, delayed_step, hold, None)
    )
    new_state = TD3State(
        actor_params=actor_params,
        target_actor_params=target_actor_params,
        critic_params=critic_params,
        target_critic_params=target_critic_params,
        actor_opt_state=actor_opt_state,
        critic_opt_state=critic_opt_state,
        critic_steps=critic_steps,
        action_dim=state.action_dim,
    )
    metrics = update_metrics(critic_loss_value, actor_loss_value, q, confidence_metrics, strategy_metrics)
    return new_state, strategy_state, metrics


NAME = "td3"
