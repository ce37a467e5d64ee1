"""PAG, perturbed action guided: where trusted, execute the guide's action perturbed by a learned
bounded correction, ã(s) = clip(a_g(s) + β_t·Φ·u), u ~ ξ_φ(·|s, a_g(s)) in (-1, 1)^d; the critic
evaluates that switched policy. ξ_φ has its own loss (docs/ALGORITHMS.md, "PAG's perturbation")::

    L_ξ = E_s[ α_ξ log ξ_φ(u|s, a_g(s)) - λ(s)·min_j Q_j(s, clip(a_g(s) + β_t Φ u)) ]

with its own temperature α_ξ tuned to the target entropy. The raw guide action stored in the
batch is perturbed (never an already-perturbed one). On the TD3 backbone ξ_φ is deterministic,
trained on -λ Q, with the backbone's exploration noise when acting.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from guidedrl.entropy import temperature_loss
from guidedrl.guidance import none
from guidedrl.guidance.base import Strategy
from guidedrl.guidance.common import switched, switched_next_value, use_guide
from guidedrl.guidance.schedules import pag_beta
from guidedrl.networks import DeterministicActor, TanhGaussianActor, tanh_gaussian_sample


@struct.dataclass
class PAGState:
    """The perturbation network ξ_φ, its optimiser, and its temperature α_ξ."""

    params: Any
    opt_state: Any
    log_alpha: jax.Array
    alpha_opt_state: Any


def _stochastic(config) -> bool:
    return config.algo != "td3"


def perturbation_net(config, action_dim: int):
    if _stochastic(config):
        return TanhGaussianActor(tuple(config.hidden_sizes), action_dim)
    return DeterministicActor(tuple(config.hidden_sizes), action_dim)


def _optimisers(config):
    return optax.adam(config.actor_lr), optax.adam(config.temperature_lr)


def perturbed_action(guide_action, u, beta, phi):
    """ã = clip(a_g + β·Φ·u, -1, 1)."""
    return jnp.clip(guide_action + beta * phi * u, -1.0, 1.0)


def perturbation(config, params, obs, guide_action, key, deterministic: bool):
    """u ~ ξ_φ(·|s, a_g) and log ξ_φ(u|s, a_g) (zeros for the deterministic TD3 variant)."""
    net = perturbation_net(config, guide_action.shape[-1])
    inputs = jnp.concatenate([obs, guide_action], axis=-1)
    if _stochastic(config):
        mean, log_std = net.apply(params, inputs)
        if deterministic:
            return jnp.tanh(mean), jnp.zeros(mean.shape[:-1])
        return tanh_gaussian_sample(mean, log_std, key)
    u = net.apply(params, inputs)
    return u, jnp.zeros(u.shape[:-1])


def perturbation_loss(log_prob, q, confidence, alpha):
    """L_ξ = E_s[α_ξ log ξ(u|s, a_g) - λ(s)·min_j Q_j(s, ã)]. ``q``: min over critics, (B,)."""
    return jnp.mean(jax.lax.stop_gradient(alpha) * log_prob - confidence * q)


def init(config, key, obs_dim, action_dim):
    params = perturbation_net(config, action_dim).init(key, jnp.zeros((1, obs_dim + action_dim)))
    log_alpha = jnp.asarray(jnp.log(config.init_temperature), jnp.float32)
    opt, alpha_opt = _optimisers(config)
    return PAGState(params, opt.init(params), log_alpha, alpha_opt.init(log_alpha))


def behaviour(config, strategy_state, obs, actor_action, guide, key, deterministic, env_step, clock=None):
    # the switch draws from ``key`` exactly as SAG's does, so with β = 0 PAG acts as SAG
    perturb_key, noise_key = jax.random.split(jax.random.fold_in(key, 1))
    u, _ = perturbation(config, strategy_state.params, obs, guide.guide_action, perturb_key, deterministic)
    if not _stochastic(config) and not deterministic:
        u = jnp.clip(u + config.exploration_noise * jax.random.normal(noise_key, u.shape), -1.0, 1.0)
    guided = perturbed_action(guide.guide_action, u, pag_beta(config, env_step), config.phi)
    use = use_guide(key, guide.confidence, deterministic)
    return switched(use, guided, actor_action), use


def guided_action(config, strategy_state, obs, guide_action, key, deterministic, env_step):
    """ã(s) = clip(a_g(s) + β_t·Φ·u), u ~ ξ_φ(·|s, a_g(s)) (its mean when ``deterministic``)."""
    u, _ = perturbation(config, strategy_state.params, obs, guide_action, key, deterministic)
    return perturbed_action(guide_action, u, pag_beta(config, env_step), config.phi)


def next_value(config, strategy_state, batch, actor_next_value, target_q, key, env_step):
    if config.critic_target == "actor":
        return actor_next_value
    # ã(s'): a sample of ξ_φ on SAC and AWAC, its output on TD3 (the same call a learned
    # confidence makes with the same key, so the two are one computation)
    guided = guided_action(config, strategy_state, batch.next_obs, batch.next_guide_action, key, False, env_step)
    return switched_next_value(batch.next_confidence, actor_next_value, target_q(guided))


def update(config, strategy_state, batch, critic_q, key, env_step):
    """One gradient step of ξ_φ (and of α_ξ on the SAC backbone)."""
    beta = pag_beta(config, env_step)
    alpha = jnp.exp(strategy_state.log_alpha)
    opt, alpha_opt = _optimisers(config)

    def objective(params):
        u, log_prob = perturbation(config, params, batch.obs, batch.guide_action, key, False)
        q = critic_q(batch.obs, perturbed_action(batch.guide_action, u, beta, config.phi))
        return perturbation_loss(log_prob, q, batch.confidence, alpha), (log_prob, u)

    (loss, (log_prob, u)), grads = jax.value_and_grad(objective, has_aux=True)(strategy_state.params)
    updates, opt_state = opt.update(grads, strategy_state.opt_state)
    log_alpha, alpha_opt_state = strategy_state.log_alpha, strategy_state.alpha_opt_state
    if _stochastic(config) and config.learn_temperature:
        target_entropy = config.resolved_target_entropy(batch.action.shape[-1])
        alpha_grad = jax.grad(temperature_loss)(log_alpha, log_prob, target_entropy)
        alpha_updates, alpha_opt_state = alpha_opt.update(alpha_grad, alpha_opt_state)
        log_alpha = optax.apply_updates(log_alpha, alpha_updates)
    new_state = PAGState(optax.apply_updates(strategy_state.params, updates), opt_state, log_alpha,
                         alpha_opt_state)
    metrics = {
        "pag_loss": loss,
        "pag_beta": beta,
        "pag_alpha": alpha,
        "perturbation": jnp.mean(jnp.abs(beta * config.phi * u)),
    }
    return new_state, metrics


STRATEGY = Strategy(
    name="pag",
    init=init,
    behaviour=behaviour,
    compose=none.compose,
    reward=none.reward,
    next_value=next_value,
    actor_extra_loss=none.actor_extra_loss,
    update=update,
    uses_guide=True,
    guided_action=guided_action,
)
