"""TD3: exact values of its target and losses, and the delayed actor."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrl import agent
from guidedrl.backbones import td3
from guidedrl.config import Config
from guidedrl.guidance import get_strategy
from tests.backbones.test_sac import hand_batch


@pytest.mark.parametrize("jit", [False, True])
def test_smoothed_target_action(jit):
    fn = jax.jit(td3.smoothed_target_action, static_argnums=(2, 3)) if jit else td3.smoothed_target_action
    # noise 0.2 * [1, -5] = [0.2, -1.0] -> clipped to [0.2, -0.5]; then the action is clipped to [-1, 1]
    a = fn(jnp.array([0.9, -0.2]), jnp.array([1.0, -5.0]), 0.2, 0.5)
    np.testing.assert_allclose(a, [1.0, -0.7], rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_next_value_and_actor_loss(jit):
    q = jnp.array([[1.0, 3.0], [0.0, 4.0]])
    next_value = jax.jit(td3.td3_next_value) if jit else td3.td3_next_value
    loss = jax.jit(td3.actor_loss) if jit else td3.actor_loss
    np.testing.assert_allclose(next_value(q), [0.0, 3.0])
    np.testing.assert_allclose(loss(q), -2.0)  # first critic only


@pytest.mark.parametrize("jit", [False, True])
def test_update_computes_the_documented_critic_loss(jit):
    config = Config(algo="td3", hidden_sizes=(8, 8))
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1).backbone
    batch = hand_batch()
    key = jax.random.PRNGKey(5)
    update = lambda s, b, k: td3.update(config, s, b, k, get_strategy("none"), {}, 0)
    _, _, metrics = (jax.jit(update) if jit else update)(state, batch, key)

    noise_key, _, _ = jax.random.split(key, 3)
    actor, critic = td3.actor_net(config, 1), td3.critic_net(config)
    target_action = actor.apply(state.target_actor_params, batch.next_obs)
    noise = np.clip(0.2 * np.asarray(jax.random.normal(noise_key, target_action.shape)), -0.5, 0.5)
    next_action = np.clip(np.asarray(target_action) + noise, -1, 1)
    next_q = np.asarray(critic.apply(state.target_critic_params, batch.next_obs, next_action))
    y = np.asarray(batch.reward) + 0.99 * (1 - np.asarray(batch.terminated)) * next_q.min(0)
    q = np.asarray(critic.apply(state.critic_params, batch.obs, batch.action))
    np.testing.assert_allclose(metrics["critic_loss"], ((q - y) ** 2).mean(-1).sum(), rtol=1e-4)


def test_actor_and_targets_move_every_policy_delay_steps():
    config = Config(algo="td3", hidden_sizes=(8, 8), policy_delay=2)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    leaf = lambda p: np.asarray(jax.tree_util.tree_leaves(p)[0])
    first, m1 = agent.update(config, state, hand_batch(), jax.random.PRNGKey(1))
    np.testing.assert_array_equal(leaf(first.backbone.actor_params), leaf(state.backbone.actor_params))
    np.testing.assert_array_equal(
        leaf(first.backbone.target_critic_params), leaf(state.backbone.target_critic_params)
    )
    assert np.isnan(m1["actor_loss"])
    assert not np.array_equal(leaf(first.backbone.critic_params), leaf(state.backbone.critic_params))
    second, m2 = agent.update(config, first, hand_batch(), jax.random.PRNGKey(2))
    assert not np.array_equal(leaf(second.backbone.actor_params), leaf(first.backbone.actor_params))
    assert not np.array_equal(
        leaf(second.backbone.target_actor_params), leaf(first.backbone.target_actor_params)
    )
    assert np.isfinite(m2["actor_loss"])
