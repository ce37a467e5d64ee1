"""AWAC: exact values of its losses, weights, advantage and target, and an update wired to them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrl import agent
from guidedrl.backbones import awac
from guidedrl.config import Config
from guidedrl.errors import ConfigError
from guidedrl.guidance import get_strategy
from tests.backbones.test_sac import hand_batch


@pytest.mark.parametrize("jit", [False, True])
def test_gaussian_log_prob(jit):
    fn = jax.jit(awac.gaussian_log_prob) if jit else awac.gaussian_log_prob
    mean = jnp.array([[0.5, -0.25]])
    log_std = jnp.array([[0.0, np.log(0.5)]])
    action = jnp.array([[1.0, 0.25]])
    # dim 1: z = 0.5, σ = 1: -0.125 - 0 - ½log2π; dim 2: z = 0.5/0.5 = 1: -0.5 - log 0.5 - ½log2π
    expected = -0.125 - 0.5 - np.log(0.5) - np.log(2 * np.pi)
    np.testing.assert_allclose(fn(mean, log_std, action), [expected], rtol=1e-6)


def test_gaussian_sample_is_clipped_to_the_action_box():
    mean = jnp.array([[0.9, -0.9]] * 1000)
    sample = awac.gaussian_sample(mean, jnp.zeros_like(mean), jax.random.PRNGKey(0))
    assert float(jnp.max(sample)) == 1.0 and float(jnp.min(sample)) == -1.0  # σ = 1: many clipped


@pytest.mark.parametrize("jit", [False, True])
def test_advantage_is_q_minus_the_mean_over_policy_samples(jit):
    fn = jax.jit(awac.advantage) if jit else awac.advantage
    q = jnp.array([[1.0, 4.0], [2.0, 3.0]])  # min over critics: [1, 3]
    policy_q = jnp.array([[[0.0, 5.0], [1.0, 2.0]],  # sample 1: min [0, 2]
                          [[3.0, 1.0], [2.0, 6.0]]])  # sample 2: min [2, 1]
    np.testing.assert_allclose(fn(q, policy_q), [1.0 - 1.0, 3.0 - 1.5], rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_softmax_weights(jit):
    fn = jax.jit(awac.advantage_weights, static_argnums=(1, 2, 3)) if jit else awac.advantage_weights
    adv = jnp.array([0.0, np.log(2.0), np.log(5.0)])
    # softmax(A/λ) with λ = 1: [1, 2, 5] / 8, times N = 3
    np.testing.assert_allclose(fn(adv, 1.0, "softmax", 100.0), [3 / 8, 6 / 8, 15 / 8], rtol=1e-6)
    # λ = 0.5 squares the ratios: [1, 4, 25] / 30 · 3
    np.testing.assert_allclose(fn(adv, 0.5, "softmax", 100.0), [0.1, 0.4, 2.5], rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_exp_clip_weights(jit):
    fn = jax.jit(awac.advantage_weights, static_argnums=(1, 2, 3)) if jit else awac.advantage_weights
    adv = jnp.array([-1.0, 0.0, 2.0, 10.0])
    np.testing.assert_allclose(fn(adv, 2.0, "exp-clip", 20.0), [np.exp(-0.5), 1.0, np.e, 20.0], rtol=1e-6)


def test_weights_carry_no_gradient():
    grad = jax.grad(lambda a: jnp.sum(awac.advantage_weights(a, 1.0, "softmax", 100.0)))(jnp.array([0.0, 1.0]))
    np.testing.assert_array_equal(grad, [0.0, 0.0])


@pytest.mark.parametrize("jit", [False, True])
def test_actor_loss_is_the_weighted_negative_log_likelihood(jit):
    fn = jax.jit(awac.actor_loss) if jit else awac.actor_loss
    np.testing.assert_allclose(fn(jnp.array([-1.0, 2.0]), jnp.array([0.5, 1.5])), -(-0.5 + 3.0) / 2, rtol=1e-6)
    # the gradient flows into log π only
    grad = jax.grad(awac.actor_loss)(jnp.array([-1.0, 2.0]), jnp.array([0.5, 1.5]))
    np.testing.assert_allclose(grad, [-0.25, -0.75], rtol=1e-6)


def test_next_value_has_no_entropy_term():
    np.testing.assert_allclose(awac.awac_next_value(jnp.array([[1.0, 2.0], [0.5, 3.0]])), [0.5, 2.0])


def test_log_std_is_one_vector_within_its_bounds():
    config = Config(algo="awac", hidden_sizes=(8, 8))
    net = awac.actor_net(config, 2)
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    mean, log_std = net.apply(params, obs)
    assert mean.shape == log_std.shape == (5, 2)
    assert float(jnp.max(jnp.abs(mean))) < 1.0
    np.testing.assert_allclose(log_std, -3.0, rtol=1e-6)  # sigmoid(0) halfway in [-6, 0], for every state
    far = jax.tree_util.tree_map(lambda x: x, params)
    far["params"]["log_std_logit"] = jnp.array([100.0, -100.0])
    _, log_std = net.apply(far, obs)
    np.testing.assert_allclose(log_std[0], [0.0, -6.0], atol=1e-6)


@pytest.mark.parametrize("weights", ["softmax", "exp-clip"])
@pytest.mark.parametrize("jit", [False, True])
def test_update_computes_the_documented_losses(jit, weights):
    config = Config(algo="awac", hidden_sizes=(8, 8), awac_lambda=0.5, awac_weights=weights, awac_max_weight=3.0,
                    awac_advantage_samples=2)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1).backbone
    batch = hand_batch()
    key = jax.random.PRNGKey(7)
    update = lambda s, b, k: awac.update(config, s, b, k, get_strategy("none"), {}, 0)
    new_state, _, metrics = (jax.jit(update) if jit else update)(state, batch, key)

    # recompute in NumPy from the same keys and the parameters at the start of the step
    advantage_key, next_key, _, _ = jax.random.split(key, 4)
    actor, critic = awac.actor_net(config, 1), awac.critic_net(config)
    mean, log_std = (np.asarray(x, np.float64) for x in actor.apply(state.actor_params, batch.obs))
    next_action = awac.gaussian_sample(*actor.apply(state.actor_params, batch.next_obs), next_key)
    next_q = np.asarray(critic.apply(state.target_critic_params, batch.next_obs, next_action))
    y = np.asarray(batch.reward) + 0.99 * (1 - np.asarray(batch.terminated)) * next_q.min(0)
    q = np.asarray(critic.apply(state.critic_params, batch.obs, batch.action))
    np.testing.assert_allclose(metrics["critic_loss"], ((q - y) ** 2).mean(-1).sum(), rtol=1e-4)

    values = []
    for sample_key in jax.random.split(advantage_key, 2):
        sampled = awac.gaussian_sample(*actor.apply(state.actor_params, batch.obs), sample_key)
        values.append(np.asarray(critic.apply(state.critic_params, batch.obs, sampled)).min(0))
    adv = q.min(0) - np.mean(values, axis=0)
    if weights == "softmax":
        w = np.exp(adv / 0.5 - np.max(adv / 0.5))
        w = len(adv) * w / w.sum()
    else:
        w = np.minimum(np.exp(adv / 0.5), 3.0)
    a = np.asarray(batch.action, np.float64)
    log_prob = np.sum(-0.5 * ((a - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi), -1)
    np.testing.assert_allclose(metrics["advantage"], adv.mean(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(metrics["weight_max"], w.max(), rtol=1e-4)
    np.testing.assert_allclose(metrics["actor_loss"], -np.mean(w * log_prob), rtol=1e-4)

    leaf = lambda p: jax.tree_util.tree_leaves(p)[0]
    expected = 0.005 * leaf(new_state.critic_params) + 0.995 * leaf(state.target_critic_params)
    np.testing.assert_allclose(leaf(new_state.target_critic_params), expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(leaf(new_state.actor_params), leaf(state.actor_params))


def test_actor_weight_decay_pulls_parameters_towards_zero():
    """The same step with and without decay differs: the actor's Adam sees g + wd·θ (a decay
    that is ignored would leave the two identical)."""
    batch = hand_batch()
    moved = {}
    for decay in (0.0, 1e-1):
        config = Config(algo="awac", hidden_sizes=(8, 8), awac_actor_weight_decay=decay)
        state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
        new_state, _ = agent.update(config, state, batch, jax.random.PRNGKey(1))
        moved[decay] = jax.tree_util.tree_leaves(new_state.backbone.actor_params)
    assert any(not np.allclose(a, b) for a, b in zip(moved[0.0], moved[1e-1]))


@pytest.mark.parametrize("guidance", ["none", "rg", "sag", "pig", "pag"])
def test_every_guide_strategy_but_residual_runs_on_awac(guidance):
    config = Config(algo="awac", guidance=guidance, hidden_sizes=(8, 8))
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    batch = hand_batch()
    batch = batch.replace(guide_action=jnp.full((4, 1), 0.5), confidence=jnp.ones(4),
                          next_guide_action=jnp.full((4, 1), 0.5), next_confidence=jnp.ones(4))
    new_state, metrics = jax.jit(agent.update, static_argnums=0)(config, state, batch, jax.random.PRNGKey(1))
    assert all(np.isfinite(float(v)) for v in metrics.values())
    # the deployed action: the guide's where λ = 1 for the strategies that execute it
    action, from_guide = agent.act(config, new_state, batch.obs, batch.guide, jax.random.PRNGKey(2), True)
    assert bool(jnp.all(from_guide)) == (guidance in ("sag", "pag"))


def test_residual_on_awac_is_refused():
    with pytest.raises(ConfigError, match="residual does not run on awac"):
        Config(algo="awac", guidance="residual")


def test_awac_defaults_follow_the_reference():
    config = Config(algo="awac")
    assert config.minibatch_size == 1024 and config.warmup_steps == 0
    assert Config(algo="sac").minibatch_size == 256 and Config(algo="sac").warmup_steps == 1000
    assert Config(algo="sac", dataset="x/y-v0").warmup_steps == 0
    assert Config(algo="awac", batch_size=64, learning_starts=10).minibatch_size == 64


def test_actor_output_scale_draws_the_output_layer_from_a_small_uniform():
    """awac_actor_output_scale (rlkit's U(±1e-3) policy output layer): the output layer's kernel
    and bias lie within ±scale, so every initial mean is near 0; the default keeps Flax's layer."""
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    for scale in (1e-3, None):
        config = Config(algo="awac", hidden_sizes=(8, 8), awac_actor_output_scale=scale)
        net = awac.actor_net(config, 2)
        params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
        output = params["params"]["MLP_0"]["Dense_2"]
        largest = max(float(jnp.max(jnp.abs(output["kernel"]))), float(jnp.max(jnp.abs(output["bias"]))))
        assert (largest <= 1e-3) == (scale is not None)
    with pytest.raises(ConfigError, match="awac_actor_output_scale"):
        Config(algo="awac", awac_actor_output_scale=0.0)


def test_critic_layer_norm_adds_a_layer_norm_to_each_hidden_layer():
    config = Config(algo="awac", hidden_sizes=(8, 8), critic_layer_norm=True)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    critic = state.backbone.critic_params["params"]["VmapMLP_0"]
    assert {"LayerNorm_0", "LayerNorm_1"} <= set(critic)
    assert "LayerNorm_0" not in agent.init(Config(algo="awac", hidden_sizes=(8, 8)), jax.random.PRNGKey(0), 3,
                                           1).backbone.critic_params["params"]["VmapMLP_0"]
    _, metrics = jax.jit(agent.update, static_argnums=0)(config, state, hand_batch(), jax.random.PRNGKey(1))
    assert all(np.isfinite(float(v)) for v in metrics.values())
