"""The risk confidence (guidedrl.risk, guidedrl.confidence's ``risk`` rule): the risk target on
hand-made transitions, the loss's weights, the switching rule on hand-set critics, λ̂ ≤ λ, the
pessimistic start, and the catastrophe label read from a step's info."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrl import agent, confidence, risk
from guidedrl.backbones import critic
from guidedrl.config import Config
from guidedrl.errors import ConfigError
from guidedrl.guidance import get_strategy
from guidedrl.training.state import BadInfo
from guidedrl.training.step import catastrophe_label
from guidedrl.types import Batch, GuideFields


def test_the_risk_target_on_hand_made_transitions():
    # rows: catastrophe (terminal), terminal without one, truncated/ongoing, catastrophe that does not
    # end the episode, unknown label (ongoing)
    cost = jnp.array([1.0, 0.0, 0.0, 1.0, -1.0])
    terminated = jnp.array([1.0, 1.0, 0.0, 0.0, 0.0])
    next_risk = jnp.array([0.7, 0.7, 0.5, 0.2, 0.4])
    target = risk.risk_target(cost, terminated, next_risk, 0.9)
    np.testing.assert_allclose(target, [1.0, 0.0, 0.45, 1.0, 0.36], rtol=1e-6)
    # jitted: the same numbers
    np.testing.assert_allclose(jax.jit(risk.risk_target, static_argnums=3)(cost, terminated, next_risk, 0.9),
                               target, rtol=1e-6)


def test_the_risk_at_s_prime_is_the_switched_policys():
    """The guide's risk where it keeps s' for risk (λ' · 1[actor's risk > ε]), the actor's elsewhere."""
    config = Config(guidance="sag", confidence="risk", risk_threshold=0.1)
    lam = jnp.array([1.0, 1.0, 0.0, 0.5])
    actor_risk = jnp.array([0.6, 0.05, 0.6, 0.6])
    guide_risk = jnp.array([0.02, 0.3, 0.02, 0.02])
    np.testing.assert_allclose(risk.switched_risk(config, lam, actor_risk, guide_risk),
                               [0.02, 0.05, 0.6, 0.31], rtol=1e-6)


def test_conservative_gap_is_the_data_risk_less_the_actors():
    data = jnp.array([[0.0, 2.0], [1.0, -1.0]])
    actor = jnp.array([[1.0, 1.0], [0.0, 0.0]])
    sig = lambda z: 1 / (1 + np.exp(-np.asarray(z)))  # noqa: E731
    expected = np.sum(sig(data).mean(-1) - sig(actor).mean(-1))
    np.testing.assert_allclose(risk.conservative_gap(data, actor), expected, rtol=1e-6)
    np.testing.assert_allclose(risk.conservative_gap(data, data), 0.0, atol=1e-7)  # the actor's action is the data's


def test_the_loss_drops_unknown_rows_and_weights_catastrophes():
    weight = risk.row_weights(jnp.array([1.0, 0.0, -1.0, 0.5]), 30.0)
    np.testing.assert_allclose(weight, [30.0, 1.0, 0.0, 15.5])
    logits = jnp.array([[0.3, -1.0, 2.0, 0.1], [0.5, -2.0, -3.0, 0.0]])
    target = jnp.array([1.0, 0.0, 0.5, 0.25])

    def bce(z, y):
        p = 1 / (1 + np.exp(-z))
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))

    z, y, w = np.asarray(logits), np.asarray(target), np.asarray(weight)
    expected = sum(np.sum(bce(z[j], y) * w) / w.sum() for j in range(2))
    np.testing.assert_allclose(risk.risk_loss(logits, target, weight), expected, rtol=1e-5)
    # every label unknown: no loss, no gradient
    none = jnp.zeros(4)
    assert float(risk.risk_loss(logits, target, none)) == 0.0
    grad = jax.grad(lambda z: risk.risk_loss(z, target, none))(logits)
    np.testing.assert_array_equal(grad, 0.0)


def test_the_rule_keeps_the_guide_where_the_actors_action_is_risky_or_not_better():
    config = Config(guidance="sag", confidence="risk", risk_threshold=0.1)
    lam = jnp.array([1.0, 1.0, 1.0, 0.0, 0.5, 1.0])
    delta_q = jnp.array([-1.0, -1.0, 0.2, -1.0, -1.0, 0.0])
    risk_ = jnp.array([0.5, 0.05, 0.05, 0.9, 0.5, 0.1])
    narrowed = confidence.learned(config, lam, delta_q, risk_)
    # risky actor action -> guide; safe and better -> agent; safe, guide better -> guide;
    # outside the region -> never the guide; fractional λ kept as λ; at the threshold: not risky, tie -> guide
    np.testing.assert_array_equal(narrowed, [1.0, 0.0, 1.0, 0.0, 0.5, 1.0])
    assert np.all(np.asarray(narrowed) <= np.asarray(lam))
    metrics = confidence.summary(config, lam, narrowed, risk_)
    np.testing.assert_allclose(metrics["confidence_kept"], 3.5 / 4.5, rtol=1e-6)
    np.testing.assert_allclose(metrics["confidence_kept_risk"], 1.5 / 4.5, rtol=1e-6)  # rows 0 and 4
    np.testing.assert_allclose(metrics["confidence_kept_return"], 2.0 / 4.5, rtol=1e-6)  # rows 2 and 5


def test_lambda_hat_never_exceeds_lambda():
    config = Config(guidance="pag", confidence="risk")
    rng = np.random.default_rng(0)
    lam = jnp.asarray(rng.uniform(size=1000), jnp.float32)
    narrowed = confidence.learned(config, lam, jnp.asarray(rng.normal(size=1000)), jnp.asarray(rng.uniform(size=1000)))
    assert np.all(np.asarray(narrowed) <= np.asarray(lam))


@pytest.mark.parametrize("algo", ["sac", "td3", "awac"])
def test_unknown_means_guide_a_fresh_risk_critic_keeps_the_whole_region(monkeypatch, algo):
    """Before any data every risk is near the prior (0.5 > the threshold): the guide keeps its
    region even where the task critic rates the actor's action far above the guide's."""
    config = Config(algo=algo, guidance="sag", confidence="risk", hidden_sizes=(8, 8))
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    obs = jnp.asarray(np.random.default_rng(1).normal(size=(5, 3)), jnp.float32)
    actor = agent.get_backbone(algo).deterministic_action(config, state.backbone, obs)
    backbone = __import__(f"guidedrl.backbones.{algo}", fromlist=["x"])
    monkeypatch.setattr(backbone, "critic_q", lambda c, s, o, a: -jnp.sum((a - actor) ** 2, axis=-1))
    lam = jnp.array([1.0, 1.0, 0.5, 0.0, 1.0])
    guide = GuideFields(jnp.clip(actor + 0.7, -1, 1), lam)
    np.testing.assert_allclose(risk.probability(config, state.risk, obs, actor), 0.5, atol=0.2)
    np.testing.assert_array_equal(agent.acting_confidence(config, state, obs, guide), lam)
    # the same critics with q-gap hand every state to the actor
    plain = Config(algo=algo, guidance="sag", confidence="q-gap", hidden_sizes=(8, 8))
    np.testing.assert_array_equal(agent.acting_confidence(plain, state, obs, guide), 0.0)
    # a risk critic that learned the actor's action is safe: the actor takes the region, as with q-gap
    safe = state.replace(risk=risk.init(config.replace(risk_prior=0.001), jax.random.PRNGKey(3), 3, 1))
    np.testing.assert_array_equal(agent.acting_confidence(config, safe, obs, guide), 0.0)


class _HandTargetCritic:
    def __init__(self, preferred):
        self.preferred = preferred

    def apply(self, params, obs, action):
        q = -jnp.sum((action - self.preferred) ** 2, axis=-1)
        return jnp.stack([q, q + 1.0])


def test_the_critic_target_keeps_the_guide_at_s_prime_where_the_actor_is_risky(monkeypatch):
    config = Config(guidance="sag", confidence="risk", hidden_sizes=(8, 8), risk_threshold=0.1)
    n = 4
    batch = Batch(obs=jnp.zeros((n, 3)), action=jnp.zeros((n, 1)), reward=jnp.zeros(n), next_obs=jnp.zeros((n, 3)),
                  terminated=jnp.zeros(n), guide_action=jnp.zeros((n, 1)), confidence=jnp.ones(n),
                  next_guide_action=jnp.full((n, 1), -0.9), next_confidence=jnp.array([1.0, 1.0, 0.5, 0.0]))
    monkeypatch.setattr(critic, "critic_net", lambda config: _HandTargetCritic(jnp.float32(0.3)))
    seen = {}
    strategy = get_strategy("sag")

    def spy(config, strategy_state, batch, actor_next_value, target_q, key, env_step):
        seen["next_confidence"] = np.asarray(batch.next_confidence)
        return actor_next_value

    spying = strategy.__class__(**{**strategy.__dict__, "next_value": spy})
    next_action = jnp.full((n, 1), 0.3)  # the actor's a' is the critic's favourite: q-gap would drop the guide
    next_risk = jnp.array([0.5, 0.01, 0.5, 0.9])
    _, _, _, metrics = critic.critic_step(config, None, None, batch, next_action, lambda q: q.min(0), spying, {},
                                       jax.random.PRNGKey(0), 0, next_risk)
    np.testing.assert_array_equal(seen["next_confidence"], [1.0, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(metrics["confidence_kept_risk"], 1.5 / 2.5, rtol=1e-6)


def test_one_update_learns_a_catastrophe_and_reports_its_metrics():
    config = Config(guidance="sag", confidence="risk", hidden_sizes=(16, 16), batch_size=8, buffer_size=8)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    rng = np.random.default_rng(0)
    n = 8
    batch = Batch(obs=jnp.asarray(rng.normal(size=(n, 3)), jnp.float32), action=jnp.zeros((n, 1)),
                  reward=jnp.zeros(n), next_obs=jnp.asarray(rng.normal(size=(n, 3)), jnp.float32),
                  terminated=jnp.array([1.0] + [0.0] * 7), guide_action=jnp.zeros((n, 1)), confidence=jnp.ones(n),
                  next_guide_action=jnp.zeros((n, 1)), next_confidence=jnp.ones(n),
                  cost=jnp.array([1.0] + [0.0] * 7))
    before = risk.probability(config, state.risk, batch.obs, batch.action)
    new, metrics = jax.jit(agent.update, static_argnums=0)(config, state, batch, jax.random.PRNGKey(1))
    after = risk.probability(config, new.risk, batch.obs, batch.action)
    assert float(after[0] - before[0]) > 0  # the catastrophe's risk went up
    assert float(jnp.mean(after[1:] - before[1:])) < 0  # the safe steps' went down
    for name in ("risk_loss", "risk_mean", "confidence_kept_risk", "confidence_kept_return", "confidence_learned"):
        assert np.isfinite(float(metrics[name])), name
    # without the risk rule there is no risk critic and no risk metric
    plain = agent.init(config.replace(confidence="q-gap"), jax.random.PRNGKey(0), 3, 1)
    assert plain.risk is None


@pytest.mark.parametrize("info, label", [
    ({"catastrophe": True, "cost": 1.0}, 1.0), ({"catastrophe": False, "cost": 0.0}, 0.0),
    ({"catastrophe": np.bool_(True)}, 1.0), ({"catastrophe": 0}, 0.0), ({"cost": 0.25}, 0.25), ({"cost": 3.0}, 1.0),
    ({}, -1.0), ({"other": 1}, -1.0),
])
def test_the_catastrophe_label_of_a_step(info, label):
    assert catastrophe_label(info) == label


@pytest.mark.parametrize("info, shown", [
    ({"catastrophe": np.array([True, False])}, "array([ True, False])"), ({"catastrophe": "yes"}, "'yes'"),
    ({"catastrophe": 2}, "2"), ({"cost": float("nan")}, "nan"), ({"cost": "high"}, "'high'"),
])
def test_a_bad_catastrophe_flag_or_cost_is_named(info, shown):
    with pytest.raises(BadInfo, match="info") as caught:
        catastrophe_label(info)
    assert shown in str(caught.value)


def test_the_risk_settings_are_checked():
    for bad in (dict(risk_gamma=1.0), dict(risk_threshold=0.0), dict(risk_prior=1.0),
                dict(risk_catastrophe_weight=0.5), dict(risk_conservatism=-1.0), dict(risk_spread=-0.1)):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            Config(guidance="sag", confidence="risk", **bad)
    with pytest.raises(ConfigError, match="no such switch"):
        Config(guidance="pig", confidence="risk")
