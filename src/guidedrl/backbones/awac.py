"""AWAC (Nair et al. 2020, "Accelerating Online RL with Offline Datasets") as pure functions
over :class:`AWACState`.

Twin critics with Polyak targets learn ``y = r + γ(1-d) min_j Q̄_j(s', a')``, a' ~ π_θ(·|s'),
with no entropy term. The actor is fitted to the batch's own actions, weighted by how much
better than the policy's own each one is:

    L_π = -E_B[ w · log π_θ(a|s) ],   A(s, a) = min_j Q_j(s, a) - E_{ã~π_θ(·|s)} min_j Q_j(s, ã),
    w = N · softmax_B(A / λ)   (default; rlkit, d3rlpy, jaxrl)   or   min(exp(A / λ), w_max)   (CORL)

with w held constant. The policy is a Gaussian whose mean is tanh of the network's output and
whose log-std is one learned vector (not a function of s), squashed into [log_std_min,
log_std_max] by a sigmoid as in rlkit and d3rlpy; samples are clipped to [-1, 1]. The actor's
Adam carries an L2 weight decay (coupled, as torch's Adam).

Like SAC here, one gradient step evaluates every loss at the parameters from the start of the
step, then steps the actor, the strategy's own network, the critics and the targets. The same
update runs in the offline phase (on dataset batches) and online (one update per env step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from guidedrl.backbones.critic import (apply_critic, critic_net, critic_step, init_networks,
                                      strategy_update, update_metrics)
from guidedrl.backbones.critic import critic_q  # noqa: F401  (part of every backbone's interface)
from guidedrl.networks import MLP, gaussian_log_prob
from guidedrl.types import Batch, Metrics

if TYPE_CHECKING:  # the strategies import the backbones' losses
    from guidedrl.guidance.base import Strategy


@struct.dataclass
class AWACState:
    """Everything AWAC learns, with its optimiser states."""

    actor_params: Any
    critic_params: Any
    target_critic_params: Any
    actor_opt_state: Any
    critic_opt_state: Any
    action_dim: int = struct.field(pytree_node=False, default=1)


class GaussianActor(nn.Module):
    """π_θ(·|s) = N(tanh(MLP(s)), exp(log_std)²) with one log-std vector for every state.

    Returns (mean, log_std): the mean already squashed by tanh, log_std broadcast to the batch."""

    hidden_sizes: Tuple[int, ...]
    action_dim: int
    log_std_min: float
    log_std_max: float
    output_scale: Optional[float] = None

    @nn.compact
    def __call__(self, obs: jax.Array) -> Tuple[jax.Array, jax.Array]:
        mean = jnp.tanh(MLP(self.hidden_sizes, self.action_dim, output_scale=self.output_scale)(obs))
        logit = self.param("log_std_logit", nn.initializers.zeros, (self.action_dim,))
        log_std = self.log_std_min + jax.nn.sigmoid(logit) * (self.log_std_max - self.log_std_min)
        return mean, jnp.broadcast_to(log_std, mean.shape)


def actor_net(config, action_dim: int) -> GaussianActor:
    return GaussianActor(tuple(config.hidden_sizes), action_dim, config.awac_log_std_min,
                         config.awac_log_std_max, config.awac_actor_output_scale)


def _optimisers(config):
    actor = optax.chain(optax.add_decayed_weights(config.awac_actor_weight_decay), optax.adam(config.actor_lr))
    return actor, optax.adam(config.critic_lr)


# -- losses (importable, exact-value tested; gaussian_log_prob is networks') ------------------


def gaussian_sample(mean: jax.Array, log_std: jax.Array, key: jax.Array) -> jax.Array:
    """a = clip(mean + σ ε, -1, 1), ε standard normal (the executed or target action)."""
    return jnp.clip(mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape), -1.0, 1.0)


def advantage(q: jax.Array, policy_q: jax.Array) -> jax.Array:
    """A(s, a) = min_j Q_j(s, a) - mean_k min_j Q_j(s, ã_k). ``q``: (2, B); ``policy_q``: (K, 2, B)
    for K actions ã_k ~ π_θ(·|s)."""
    return jnp.min(q, axis=0) - jnp.mean(jnp.min(policy_q, axis=1), axis=0)


def advantage_weights(adv: jax.Array, temperature: float, kind: str, max_weight: float) -> jax.Array:
    """w = N·softmax_B(A/λ) (``kind`` "softmax") or min(exp(A/λ), w_max) ("exp-clip"), held constant."""
    adv = jax.lax.stop_gradient(adv)
    if kind == "softmax":
        return adv.shape[0] * jax.nn.softmax(adv / temperature)
    return jnp.minimum(jnp.exp(adv / temperature), max_weight)


def actor_loss(log_prob: jax.Array, weights: jax.Array) -> jax.Array:
    """-E_B[w · log π_θ(a|s)] over the batch's actions, w held constant."""
    return -jnp.mean(jax.lax.stop_gradient(weights) * log_prob)


def awac_next_value(next_q: jax.Array) -> jax.Array:
    """min_j Q̄_j(s', a'), a' ~ π_θ(·|s'): no entropy term. ``next_q``: (2, B)."""
    return jnp.min(next_q, axis=0)


# -- agent functions ----------------------------------------------------------------------


def init(config, key: jax.Array, obs_dim: int, action_dim: int) -> AWACState:
    """Fresh parameters and optimiser states; the target critics start equal to the critics."""
    actor_params, critic_params = init_networks(actor_net(config, action_dim), config, key, obs_dim, action_dim)
    actor_opt, critic_opt = _optimisers(config)
    return AWACState(
        actor_params=actor_params,
        critic_params=critic_params,
        target_critic_params=jax.tree_util.tree_map(jnp.copy, critic_params),
        actor_opt_state=actor_opt.init(actor_params),
        critic_opt_state=critic_opt.init(critic_params),
        action_dim=action_dim,
    )


def explore_action(config, state: AWACState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """a ~ π_θ(·|s), clipped to [-1, 1] (AWAC acts with its stochastic policy online)."""
    mean, log_std = actor_net(config, state.action_dim).apply(state.actor_params, obs)
    return gaussian_sample(mean, log_std, key)


def deterministic_action(config, state: AWACState, obs: jax.Array) -> jax.Array:
    """The mean action tanh(MLP(s))."""
    mean, _ = actor_net(config, state.action_dim).apply(state.actor_params, obs)
    return mean


def update(
    config,
    state: AWACState,
    batch: Batch,
    key: jax.Array,
    strategy: Strategy,
    strategy_state: Any,
    env_step: jax.Array,
    next_risk: Any = None,
) -> Tuple[AWACState, Any, Metrics]:
    """One gradient step of AWAC with ``strategy``'s hooks. Returns (state, strategy state, metrics)."""
    advantage_key, next_key, strategy_key, target_key = jax.random.split(key, 4)
    action_dim = batch.action.shape[-1]
    actor_apply = actor_net(config, action_dim).apply
    critic_apply = critic_net(config).apply
    actor_opt, critic_opt = _optimisers(config)

    # advantages of the batch's actions, with the critics from the start of the step
    mean, log_std = actor_apply(state.actor_params, batch.obs)
    q = critic_apply(state.critic_params, batch.obs, batch.action)
    sample_keys = jax.random.split(advantage_key, config.awac_advantage_samples)
    policy_q = jax.vmap(lambda k: critic_apply(
        state.critic_params, batch.obs,
        strategy.compose(config, gaussian_sample(mean, log_std, k), batch.guide)))(sample_keys)
    adv = advantage(q, policy_q)
    weights = advantage_weights(adv, config.awac_lambda, config.awac_weights, config.awac_max_weight)

    def actor_objective(actor_params):
        mean, log_std = actor_apply(actor_params, batch.obs)
        log_prob = gaussian_log_prob(mean, log_std, batch.action)

        def guide_penalty():
            return -gaussian_log_prob(mean, log_std, batch.guide_action)

        loss = actor_loss(log_prob, weights) + strategy.actor_extra_loss(config, batch, guide_penalty, env_step)
        return loss, log_prob

    (actor_loss_value, log_prob), actor_grads = jax.value_and_grad(actor_objective, has_aux=True)(
        state.actor_params
    )

    # critics, with the strategy's reward and next-state value
    next_mean, next_log_std = actor_apply(state.actor_params, batch.next_obs)
    next_action = gaussian_sample(next_mean, next_log_std, next_key)
    critic_loss_value, q_new, critic_grads, confidence_metrics = critic_step(
        config, state.critic_params, state.target_critic_params, batch, next_action, awac_next_value,
        strategy, strategy_state, target_key, env_step, next_risk,
    )

    strategy_state, strategy_metrics = strategy_update(config, strategy, strategy_state, batch, state, strategy_key,
                                                       env_step)

    actor_updates, actor_opt_state = actor_opt.update(actor_grads, state.actor_opt_state, state.actor_params)
    critic_params, critic_opt_state = apply_critic(critic_opt, critic_grads, state)
    new_state = AWACState(
        actor_params=optax.apply_updates(state.actor_params, actor_updates),
        critic_params=critic_params,
        target_critic_params=optax.incremental_update(critic_params, state.target_critic_params, config.tau),
        actor_opt_state=actor_opt_state,
        critic_opt_state=critic_opt_state,
        action_dim=state.action_dim,
    )
    metrics = update_metrics(critic_loss_value, actor_loss_value, q_new, confidence_metrics, strategy_metrics,
                             advantage=jnp.mean(adv), weight_max=jnp.max(weights), log_std=jnp.mean(log_std),
                             log_prob=jnp.mean(log_prob))
    return new_state, strategy_state, metrics


NAME = "awac"
