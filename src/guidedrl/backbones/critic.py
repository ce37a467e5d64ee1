"""The twin critics every backbone shares (SAC, TD3, AWAC): the network, the TD target and loss,
one critic step with the strategy's hooks and the learned confidence, fresh parameters,
min_j Q_j with the current critics, and the update's common tail (the strategy's step, the
critics' optimiser step, the metrics) (docs/ALGORITHMS.md, "Backbones")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple

import jax
import jax.numpy as jnp
import optax

from guidedrl import confidence
from guidedrl.networks import TwinCritic
from guidedrl.types import Batch, Metrics

if TYPE_CHECKING:  # the strategies' hooks (guidance imports nothing from here)
    from guidedrl.guidance.base import Strategy


def critic_net(config) -> TwinCritic:
    return TwinCritic(tuple(config.hidden_sizes), config.critic_layer_norm)


def critic_target(
    reward: jax.Array, terminated: jax.Array, next_value: jax.Array, gamma: float
) -> jax.Array:
    """y = r + γ (1 - d) V(s'): no bootstrap through termination, bootstrap through truncation."""
    return reward + gamma * (1.0 - terminated) * next_value


def critic_loss(q: jax.Array, target: jax.Array) -> jax.Array:
    """Σ_j E_B[(Q_j(s, a) - y)²] with y held constant. ``q``: (2, B)."""
    target = jax.lax.stop_gradient(target)
    return jnp.sum(jnp.mean((q - target[None]) ** 2, axis=-1))


def critic_step(config, critic_params, target_critic_params, batch: Batch, next_action: jax.Array,
                backbone_next_value, strategy: "Strategy", strategy_state: Any, key: jax.Array,
                env_step: jax.Array, next_risk: Any = None) -> Tuple[jax.Array, jax.Array, Any, Metrics]:
    """The critics' loss, Q-values, gradients and the learned confidence's metrics (none with
    ``confidence="given"``) for one batch (shared by SAC, TD3 and AWAC).

    y = reward + γ(1 - terminated)·next_value, where the strategy supplies the reward and
    next_value from the backbone's own ``backbone_next_value(next_q)`` (next_q: the target
    critics at s' and the backbone's next action, composed by the strategy) and a function
    giving min_j Q̄_j(s', ·) for any other action. ``next_risk``: the risk critic's risk of the
    actor's action at s' (the ``risk`` confidence only, guidedrl.risk).
    """
    critic_apply = critic_net(config).apply
    next_q = critic_apply(target_critic_params, batch.next_obs,
                          strategy.compose(config, next_action, batch.next_guide))

    def target_q(action):
        return jnp.min(critic_apply(target_critic_params, batch.next_obs, action), axis=0)

    confidence_metrics = {}
    if config.confidence != "given":  # λ̂(s') from the target critics, in place of λ(s') (guidedrl.confidence)
        guided = strategy.guided_action(config, strategy_state, batch.next_obs, batch.next_guide_action, key,
                                        False, env_step)
        narrowed = confidence.rate(config, batch.next_confidence, target_q, guided, next_action, next_risk)
        confidence_metrics = confidence.summary(config, batch.next_confidence, narrowed, next_risk)
        batch = batch.replace(next_confidence=narrowed)
    next_value = strategy.next_value(config, strategy_state, batch, backbone_next_value(next_q),
                                     target_q, key, env_step)
    target = critic_target(strategy.reward(config, batch, env_step), batch.terminated, next_value,
                           config.gamma)

    def objective(params):
        q = critic_apply(params, batch.obs, batch.action)
        return critic_loss(q, target), q

    (loss, q), grads = jax.value_and_grad(objective, has_aux=True)(critic_params)
    return loss, q, grads, confidence_metrics


def init_networks(actor, config, key: jax.Array, obs_dim: int, action_dim: int) -> Tuple[Any, Any]:
    """Fresh parameters of ``actor`` and of the twin critics (shared by SAC, TD3 and AWAC): the key
    split in two, the networks initialised on a zero observation and action."""
    actor_key, critic_key = jax.random.split(key)
    obs = jnp.zeros((1, obs_dim), jnp.float32)
    action = jnp.zeros((1, action_dim), jnp.float32)
    return actor.init(actor_key, obs), critic_net(config).init(critic_key, obs, action)


def critic_q(config, state: Any, obs: jax.Array, action: jax.Array) -> jax.Array:
    """min_j Q_j(s, a) with the current critics."""
    return jnp.min(critic_net(config).apply(state.critic_params, obs, action), axis=0)


def strategy_update(config, strategy: "Strategy", strategy_state: Any, batch: Batch, state: Any, key: jax.Array,
                    env_step: jax.Array) -> Tuple[Any, Metrics]:
    """The strategy's own network step (PAG's perturbation), which sees the critics as they were
    at the start of the backbone's update."""
    return strategy.update(config, strategy_state, batch, lambda o, a: critic_q(config, state, o, a), key, env_step)


def apply_critic(critic_opt, critic_grads: Any, state: Any) -> Tuple[Any, Any]:
    """The critics after one optimiser step on ``critic_grads``, and the optimiser's new state."""
    updates, opt_state = critic_opt.update(critic_grads, state.critic_opt_state)
    return optax.apply_updates(state.critic_params, updates), opt_state


def update_metrics(critic_loss: jax.Array, actor_loss: jax.Array, q: jax.Array, confidence_metrics: Metrics,
                   strategy_metrics: Metrics, **own: jax.Array) -> Metrics:
    """An update's metrics: the losses, the mean Q, the confidence's and the strategy's, and the
    backbone's ``own``."""
    return {"critic_loss": critic_loss, "actor_loss": actor_loss, "q_mean": jnp.mean(q), **own,
            **confidence_metrics, **strategy_metrics}
