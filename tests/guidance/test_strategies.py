"""Exact values of every strategy's hooks, and their wiring into the backbones."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrl import agent
from guidedrl.backbones import sac
from guidedrl.config import Config
from guidedrl.guidance import get_strategy, pag, pig, residual, rg, sag
from guidedrl.guidance.schedules import pag_beta, pig_beta
from guidedrl.networks import tanh_gaussian_sample
from guidedrl.types import Batch, GuideFields


def batch_with(next_confidence, confidence=None, n=4, guide=0.7, next_guide=-0.4):
    rng = np.random.default_rng(0)
    confidence = next_confidence if confidence is None else confidence
    return Batch(
        obs=jnp.asarray(rng.normal(size=(n, 3)), jnp.float32),
        action=jnp.asarray(rng.uniform(-1, 1, (n, 1)), jnp.float32),
        reward=jnp.array([1.0, -0.5, 0.25, 2.0]),
        next_obs=jnp.asarray(rng.normal(size=(n, 3)), jnp.float32),
        terminated=jnp.array([0.0, 1.0, 0.0, 0.0]),
        guide_action=jnp.full((n, 1), guide),
        confidence=jnp.full(n, confidence, jnp.float32),
        next_guide_action=jnp.full((n, 1), next_guide),
        next_confidence=jnp.full(n, next_confidence, jnp.float32),
    )


def fake_target_q(action):
    return 10.0 * jnp.sum(action, axis=-1)


ACTOR_NEXT_VALUE = jnp.array([1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("jit", [False, True])
def test_sag_next_value_is_the_switched_mixture(jit):
    config = Config(guidance="sag")
    fn = lambda b: sag.next_value(config, {}, b, ACTOR_NEXT_VALUE, fake_target_q, None, 0)
    fn = jax.jit(fn) if jit else fn
    np.testing.assert_allclose(fn(batch_with(1.0)), np.full(4, -4.0))  # Q̄(s', a_g(s')) = 10 * -0.4
    np.testing.assert_allclose(fn(batch_with(0.0)), ACTOR_NEXT_VALUE)
    np.testing.assert_allclose(fn(batch_with(0.25)), 0.25 * -4.0 + 0.75 * ACTOR_NEXT_VALUE, rtol=1e-6)
    actor_target = dataclasses.replace(config, critic_target="actor")
    np.testing.assert_allclose(
        sag.next_value(actor_target, {}, batch_with(1.0), ACTOR_NEXT_VALUE, fake_target_q, None, 0),
        ACTOR_NEXT_VALUE,
    )


@pytest.mark.parametrize("next_confidence", [0.0, 1.0])
def test_sag_target_through_the_sac_update(next_confidence):
    """λ' = 1: y = r + γ(1-d) min_j Q̄_j(s', a_g(s')); λ' = 0: SAC's own target."""
    config = Config(guidance="sag", hidden_sizes=(8, 8), init_temperature=0.5)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    batch = batch_with(next_confidence)
    key = jax.random.PRNGKey(3)
    _, metrics = jax.jit(lambda s, b, k: agent.update(config, s, b, k, 0))(state, batch, key)

    bb = state.backbone
    _, next_key, _, _ = jax.random.split(key, 4)
    critic = sac.critic_net(config)
    if next_confidence == 1.0:
        next_value = np.asarray(critic.apply(bb.target_critic_params, batch.next_obs, batch.next_guide_action)).min(0)
    else:
        actor = sac.actor_net(config, 1)
        a, logp = tanh_gaussian_sample(*actor.apply(bb.actor_params, batch.next_obs), next_key)
        next_value = np.asarray(critic.apply(bb.target_critic_params, batch.next_obs, a)).min(0) - 0.5 * np.asarray(logp)
    y = np.asarray(batch.reward) + 0.99 * (1 - np.asarray(batch.terminated)) * next_value
    q = np.asarray(critic.apply(bb.critic_params, batch.obs, batch.action))
    np.testing.assert_allclose(metrics["critic_loss"], ((q - y) ** 2).mean(-1).sum(), rtol=1e-4)


def test_sag_behaviour_switches_with_frequency_lambda():
    config = Config(guidance="sag")
    n = 20_000
    guide = GuideFields(jnp.full((n, 1), 0.5), jnp.full(n, 0.3))
    action, used = sag.behaviour(config, {}, None, jnp.full((n, 1), -0.5), guide,
                                 jax.random.PRNGKey(0), False, 0)
    assert abs(float(used.mean()) - 0.3) < 0.015
    np.testing.assert_array_equal(np.asarray(action[:, 0]), np.where(np.asarray(used), 0.5, -0.5))
    # deterministic acting: the guide acts where λ >= 0.5
    lam = jnp.array([0.0, 0.49, 0.5, 1.0])
    _, used = sag.behaviour(config, {}, None, jnp.zeros((4, 1)), GuideFields(jnp.ones((4, 1)), lam),
                            jax.random.PRNGKey(0), True, 0)
    np.testing.assert_array_equal(used, [False, False, True, True])


def _pag_setup(algo="sac", **overrides):
    settings = dict(algo=algo, guidance="pag", hidden_sizes=(8, 8), pag_schedule=True, period=1000,
                    delta=0.5, phi=0.8)
    config = Config(**{**settings, **overrides})
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    return config, state


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_pag_with_beta_zero_acts_exactly_as_sag(algo):
    config, state = _pag_setup(algo)
    sag_config = Config(algo=algo, guidance="sag", hidden_sizes=(8, 8))
    n = 64
    rng = np.random.default_rng(1)
    obs = jnp.asarray(rng.normal(size=(n, 3)), jnp.float32)
    guide = GuideFields(jnp.asarray(rng.uniform(-1, 1, (n, 1)), jnp.float32),
                        jnp.asarray(rng.uniform(0, 1, n), jnp.float32))
    for deterministic in (False, True):
        for seed in range(3):
            key = jax.random.PRNGKey(seed)
            a_pag, u_pag = agent.act(config, state, obs, guide, key, deterministic, False, 0)  # β_0 = 0
            a_sag, u_sag = agent.act(sag_config, state, obs, guide, key, deterministic, False, 0)
            np.testing.assert_array_equal(u_pag, u_sag)
            np.testing.assert_array_equal(a_pag, a_sag)
    batch = batch_with(0.6)
    v_pag = pag.next_value(config, state.guidance, batch, ACTOR_NEXT_VALUE, fake_target_q, jax.random.PRNGKey(0), 0)
    v_sag = sag.next_value(config, {}, batch, ACTOR_NEXT_VALUE, fake_target_q, None, 0)
    np.testing.assert_allclose(v_pag, v_sag, rtol=1e-6)
    actor_target = dataclasses.replace(config, critic_target="actor")
    np.testing.assert_allclose(
        pag.next_value(actor_target, state.guidance, batch, ACTOR_NEXT_VALUE, fake_target_q, None, 0),
        ACTOR_NEXT_VALUE)
    # after one period β = 1 - 0.5 = 0.5 and the perturbation moves the guide's action
    a_later, _ = agent.act(config, state, obs, GuideFields(guide.guide_action, jnp.ones(n)),
                           jax.random.PRNGKey(0), True, False, 1000)
    assert np.all(np.abs(np.asarray(a_later - guide.guide_action)) <= 0.5 * 0.8 + 1e-6)
    assert not np.allclose(a_later, guide.guide_action)


def test_pag_schedules():
    config, _ = _pag_setup()
    np.testing.assert_allclose([pag_beta(config, t) for t in (0, 999, 1000, 2500)], [0, 0, 0.5, 0.75])
    assert float(pag_beta(dataclasses.replace(config, pag_schedule=False), 0)) == 1.0
    pig_config = Config(guidance="pig", beta0=2.0, delta=0.5, period=100)
    np.testing.assert_allclose([pig_beta(pig_config, t) for t in (0, 150, 250)], [2.0, 1.0, 0.5])


def test_pag_perturbation_loss_and_update():
    # L = mean(α log ξ - λ Q): [0.1*-1 - 1*2, 0.1*0.5 - 0*7] -> mean(-2.1, 0.05)
    value = pag.perturbation_loss(jnp.array([-1.0, 0.5]), jnp.array([2.0, 7.0]), jnp.array([1.0, 0.0]), 0.1)
    np.testing.assert_allclose(value, (-2.1 + 0.05) / 2, rtol=1e-6)
    np.testing.assert_allclose(pag.perturbed_action(jnp.array([0.9, -0.2]), jnp.array([1.0, -1.0]), 0.5, 0.4),
                               [1.0, -0.4], rtol=1e-6)
    config, state = _pag_setup(pag_schedule=False, phi=0.5, actor_lr=1e-2)
    batch = batch_with(1.0, guide=0.0)  # ã = 0.5 u is never clipped
    # a critic that prefers large actions: ξ must learn to push the guide's action up
    critic_q = lambda obs, action: 5.0 * action[..., 0]
    guidance = state.guidance
    step = jax.jit(lambda g, k: pag.update(config, g, batch, critic_q, k, 0))
    u0, _ = pag.perturbation(config, guidance.params, batch.obs, batch.guide_action, None, True)
    for i in range(200):
        guidance, metrics = step(guidance, jax.random.PRNGKey(i))
    u, _ = pag.perturbation(config, guidance.params, batch.obs, batch.guide_action, None, True)
    # ξ learned to push the guide's action up, where this critic is higher
    assert float(jnp.min(u)) > 0.5 and float(jnp.mean(u)) > float(jnp.mean(u0)) + 0.4
    assert float(metrics["pag_beta"]) == 1.0 and float(metrics["perturbation"]) > 0.2


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_pig_term(algo):
    config = Config(algo=algo, guidance="pig", hidden_sizes=(16, 16), beta0=1.0)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    np.testing.assert_allclose(pig.guide_term(jnp.array([0.0, 1.0]), jnp.array([5.0, 3.0]), 2.0), 3.0)
    backbone = __import__(f"guidedrl.backbones.{algo}", fromlist=["x"])
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(32, 3)), jnp.float32)

    def term(actor_params, confidence):
        net = backbone.actor_net(config, 1)
        batch = dataclasses.replace(batch_with(0.0, n=4), obs=obs, confidence=confidence,
                                    guide_action=jnp.full((32, 1), 0.9))
        if algo == "sac":
            mean, log_std = net.apply(actor_params, obs)
            penalty = lambda: -__import__("guidedrl.networks", fromlist=["x"]).tanh_gaussian_log_prob(
                mean, log_std, batch.guide_action)
        else:
            penalty = lambda: jnp.sum((net.apply(actor_params, obs) - batch.guide_action) ** 2, -1)
        return pig.actor_extra_loss(config, batch, penalty, 0)

    params = state.backbone.actor_params
    zero = jnp.zeros(32)
    assert float(term(params, zero)) == 0.0
    grads = jax.grad(term)(params, zero)
    assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree_util.tree_leaves(grads))
    # with λ = 1 a few gradient steps on the term move the actor's deterministic action towards a_g
    before = backbone.deterministic_action(config, state.backbone, obs)
    for _ in range(20):
        grads = jax.grad(term)(params, jnp.ones(32))
        params = jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads)
    after = backbone.deterministic_action(config, dataclasses.replace(state.backbone, actor_params=params), obs)
    assert float(jnp.mean(jnp.abs(after - 0.9))) < float(jnp.mean(jnp.abs(before - 0.9)))


@pytest.mark.parametrize("jit", [False, True])
def test_rg_reward(jit):
    fn = jax.jit(rg.shaped_reward) if jit else rg.shaped_reward
    value = fn(jnp.array([1.0, 1.0, -2.0]), jnp.array([[0.5, 0.0], [0.5, 0.0], [1.0, 1.0]]),
               jnp.array([[0.0, 0.0], [0.0, 0.0], [0.0, -1.0]]), jnp.array([1.0, 0.0, 0.5]), 2.0)
    # 1 - 2*1*0.25; 1 - 0; -2 - 2*0.5*(1 + 4)
    np.testing.assert_allclose(value, [0.5, 1.0, -7.0])
    config = Config(guidance="rg", rg_coef=2.0)
    batch = batch_with(0.0, confidence=1.0)
    expected = batch.reward - 2.0 * jnp.sum((batch.action - 0.7) ** 2, -1)
    np.testing.assert_allclose(rg.reward(config, batch, 0), expected, rtol=1e-6)


def test_residual_composed_action():
    config = Config(guidance="residual", phi=0.5)
    guide = GuideFields(jnp.array([[0.2], [0.9], [-0.9]]), jnp.zeros(3))
    actor = jnp.array([[1.0], [0.6], [-1.0]])
    np.testing.assert_allclose(residual.compose(config, actor, guide), [[0.7], [1.0], [-1.0]], rtol=1e-6)
    action, used = residual.behaviour(config, {}, None, actor, guide, None, True, 0)
    np.testing.assert_allclose(action, [[0.7], [1.0], [-1.0]], rtol=1e-6)
    assert bool(used.all())


@pytest.mark.parametrize("algo", ["sac", "td3"])
@pytest.mark.parametrize("name", ["none", "rg", "sag", "pig", "pag", "residual"])
def test_every_strategy_runs_on_every_backbone(algo, name):
    config = Config(algo=algo, guidance=name, hidden_sizes=(8, 8))
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    batches = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), batch_with(0.5))
    new_state, metrics = jax.jit(lambda s, b, k: agent.update_many(config, s, b, k, 0))(
        state, batches, jax.random.PRNGKey(1))
    assert int(new_state.gradient_steps) == 2
    assert all(np.isfinite(float(v)) for k, v in metrics.items() if k != "actor_loss")
    assert get_strategy(name).name == name
