"""SAC: exact values of its losses and targets, and an update wired to them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrl import agent
from guidedrl.backbones import critic, sac
from guidedrl.config import Config
from guidedrl.guidance import get_strategy
from guidedrl.networks import tanh_gaussian_log_prob, tanh_gaussian_sample
from guidedrl.types import Batch

NEXT_Q = jnp.array([[1.0, 2.0], [0.5, 3.0]])
LOG_PROB = jnp.array([-1.0, 0.5])


@pytest.mark.parametrize("jit", [False, True])
def test_soft_next_value(jit):
    fn = jax.jit(sac.soft_next_value) if jit else sac.soft_next_value
    # min_j Q = [0.5, 2.0]; minus 0.2 * log_prob = [+0.2, -0.1]
    np.testing.assert_allclose(fn(NEXT_Q, LOG_PROB, 0.2), [0.7, 1.9], rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_critic_target_stops_at_termination_only(jit):
    fn = jax.jit(critic.critic_target, static_argnums=3) if jit else critic.critic_target
    y = fn(jnp.array([1.0, -1.0]), jnp.array([0.0, 1.0]), jnp.array([0.7, 1.9]), 0.99)
    np.testing.assert_allclose(y, [1.0 + 0.99 * 0.7, -1.0], rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_critic_loss(jit):
    fn = jax.jit(critic.critic_loss) if jit else critic.critic_loss
    q = jnp.array([[1.0, 0.0], [2.0, -1.0]])
    # Q1: (0.25 + 1) / 2 = 0.625; Q2: (0.25 + 0) / 2 = 0.125
    np.testing.assert_allclose(fn(q, jnp.array([1.5, -1.0])), 0.75, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_actor_loss(jit):
    fn = jax.jit(sac.actor_loss) if jit else sac.actor_loss
    # [0.2*-1 - 0.5, 0.2*0.5 - 2.0] = [-0.7, -1.9]
    np.testing.assert_allclose(fn(LOG_PROB, NEXT_Q, 0.2), -1.3, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_temperature_loss(jit):
    fn = jax.jit(sac.temperature_loss, static_argnums=2) if jit else sac.temperature_loss
    value = fn(jnp.log(0.2), LOG_PROB, -1.0)
    np.testing.assert_allclose(value, -np.log(0.2) * -1.25, rtol=1e-6)
    # the gradient raises alpha when the policy's entropy is below target (log_prob + H > 0)
    grad = jax.grad(sac.temperature_loss)(jnp.log(0.2), jnp.array([0.5]), -0.1)
    assert grad < 0


def test_tanh_gaussian_log_prob_matches_the_sample():
    mean = jnp.array([[0.3, -0.2]])
    log_std = jnp.array([[-0.5, -1.0]])
    action, log_prob = tanh_gaussian_sample(mean, log_std, jax.random.PRNGKey(3))
    np.testing.assert_allclose(tanh_gaussian_log_prob(mean, log_std, action), log_prob, rtol=1e-4)
    # and equals the change-of-variables formula computed by hand in NumPy
    u = np.arctanh(np.asarray(action, np.float64))
    sigma = np.exp(np.asarray(log_std, np.float64))
    gauss = -0.5 * ((u - np.asarray(mean)) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    expected = np.sum(gauss - np.log(1 - np.tanh(u) ** 2), axis=-1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4)


def hand_batch(obs_dim=3, action_dim=1, n=4):
    rng = np.random.default_rng(0)
    return Batch(
        obs=jnp.asarray(rng.normal(size=(n, obs_dim)), jnp.float32),
        action=jnp.asarray(rng.uniform(-1, 1, (n, action_dim)), jnp.float32),
        reward=jnp.array([1.0, -0.5, 0.25, 2.0]),
        next_obs=jnp.asarray(rng.normal(size=(n, obs_dim)), jnp.float32),
        terminated=jnp.array([0.0, 1.0, 0.0, 0.0]),
        guide_action=jnp.zeros((n, action_dim)),
        confidence=jnp.zeros(n),
        next_guide_action=jnp.zeros((n, action_dim)),
        next_confidence=jnp.zeros(n),
    )


@pytest.mark.parametrize("jit", [False, True])
def test_update_computes_the_documented_losses(jit):
    config = Config(hidden_sizes=(8, 8), init_temperature=0.5)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1).backbone
    batch = hand_batch()
    key = jax.random.PRNGKey(7)
    strategy = get_strategy("none")
    update = lambda s, b, k: sac.update(config, s, b, k, strategy, {}, 0)
    new_state, _, metrics = (jax.jit(update) if jit else update)(state, batch, key)

    # recompute by hand from the same keys and the parameters at the start of the step
    actor_key, next_key, _, _ = jax.random.split(key, 4)
    actor = sac.actor_net(config, 1)
    critic = sac.critic_net(config)
    next_action, next_log_prob = tanh_gaussian_sample(*actor.apply(state.actor_params, batch.next_obs), next_key)
    next_q = np.asarray(critic.apply(state.target_critic_params, batch.next_obs, next_action))
    y = np.asarray(batch.reward) + 0.99 * (1 - np.asarray(batch.terminated)) * (
        next_q.min(0) - 0.5 * np.asarray(next_log_prob)
    )
    q = np.asarray(critic.apply(state.critic_params, batch.obs, batch.action))
    np.testing.assert_allclose(metrics["critic_loss"], ((q - y) ** 2).mean(-1).sum(), rtol=1e-4)

    action, log_prob = tanh_gaussian_sample(*actor.apply(state.actor_params, batch.obs), actor_key)
    q_pi = np.asarray(critic.apply(state.critic_params, batch.obs, action))
    np.testing.assert_allclose(
        metrics["actor_loss"], np.mean(0.5 * np.asarray(log_prob) - q_pi.min(0)), rtol=1e-4
    )
    np.testing.assert_allclose(metrics["alpha"], 0.5, rtol=1e-6)

    # targets moved by tau towards the new critics, from the old targets
    leaf = lambda p: jax.tree_util.tree_leaves(p)[0]
    expected = 0.005 * leaf(new_state.critic_params) + 0.995 * leaf(state.target_critic_params)
    np.testing.assert_allclose(leaf(new_state.target_critic_params), expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(leaf(new_state.actor_params), leaf(state.actor_params))


def test_fixed_temperature_stays_fixed():
    config = Config(hidden_sizes=(8, 8), init_temperature=0.3, learn_temperature=False)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    new_state, metrics = agent.update(config, state, hand_batch(), jax.random.PRNGKey(1))
    np.testing.assert_allclose(jnp.exp(new_state.backbone.log_alpha), 0.3, rtol=1e-6)
