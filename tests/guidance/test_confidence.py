"""The learned confidence (guidedrl.confidence): exact values of λ̂ with hand-set critics, when
acting and inside the critic target at s', and what it refuses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrl import agent
from guidedrl.backbones import critic
from guidedrl.config import Config
from guidedrl.errors import ConfigError
from guidedrl import confidence
from guidedrl.guidance import get_strategy
from guidedrl.types import Batch, GuideFields


def test_q_gap_keeps_the_region_where_the_guide_is_rated_at_least_as_high():
    config = Config(guidance="sag", confidence="q-gap")
    lam = jnp.array([1.0, 1.0, 0.5, 0.0, 1.0])
    delta_q = jnp.array([0.3, -0.2, 0.3, 5.0, 0.0])
    np.testing.assert_array_equal(confidence.learned(config, lam, delta_q), [1.0, 0.0, 0.5, 0.0, 1.0])
    margin = Config(guidance="sag", confidence="q-gap", confidence_margin=0.25)
    np.testing.assert_array_equal(confidence.learned(margin, lam, delta_q), [1.0, 1.0, 0.5, 0.0, 1.0])
    # given: λ untouched whatever the critic says
    np.testing.assert_array_equal(confidence.learned(Config(guidance="sag"), lam, delta_q), lam)


def test_q_gap_soft_is_lambda_times_a_sigmoid_of_the_gap():
    config = Config(guidance="pag", confidence="q-gap-soft", confidence_beta=10.0, confidence_margin=0.1)
    lam = jnp.array([1.0, 0.5, 0.0, 1.0])
    delta_q = jnp.array([0.0, -0.1, 3.0, -1.0])
    expected = np.asarray(lam) / (1.0 + np.exp(-10.0 * (np.asarray(delta_q) + 0.1)))
    np.testing.assert_allclose(confidence.learned(config, lam, delta_q), expected, rtol=1e-6)
    np.testing.assert_allclose(expected[:2], [1 / (1 + np.exp(-1.0)), 0.25])  # at the margin: λ/2


def _hand_critic(preferred):
    """min_j Q_j(s, a) = -(a - preferred)², summed over action dimensions: the closer, the better."""
    return lambda config, state, obs, action: -jnp.sum((action - preferred) ** 2, axis=-1)


@pytest.mark.parametrize("algo", ["sac", "td3", "awac"])
def test_acting_narrows_lambda_with_the_current_critics(monkeypatch, algo):
    config = Config(algo=algo, guidance="sag", confidence="q-gap", hidden_sizes=(8, 8))
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    obs = jnp.zeros((3, 3))
    backbone = __import__(f"guidedrl.backbones.{algo}", fromlist=["x"])
    actor = np.asarray(backbone.deterministic_action(config, state.backbone, obs))
    guide_action = jnp.asarray(np.clip(actor + 0.8, -1, 1) * np.array([[1.0], [1.0], [1.0]]), jnp.float32)
    lam = jnp.array([1.0, 1.0, 0.0])
    guide = GuideFields(guide_action, lam)

    # the critic prefers the guide's action: the guide acts wherever the user allows it
    monkeypatch.setattr(backbone, "critic_q", _hand_critic(guide_action))
    action, used = agent.act(config, state, obs, guide, jax.random.PRNGKey(1), True)
    np.testing.assert_array_equal(used, [True, True, False])  # never outside the user's region
    np.testing.assert_allclose(action, np.where(np.asarray(used)[:, None], guide_action, actor), rtol=1e-6)
    np.testing.assert_array_equal(agent.acting_confidence(config, state, obs, guide), [1.0, 1.0, 0.0])

    # the critic prefers the actor's action: λ̂ = 0 everywhere, the actor acts
    monkeypatch.setattr(backbone, "critic_q", _hand_critic(jnp.asarray(actor)))
    action, used = agent.act(config, state, obs, guide, jax.random.PRNGKey(1), True)
    np.testing.assert_array_equal(used, [False, False, False])
    np.testing.assert_allclose(action, actor, rtol=1e-6)
    # with a margin wider than the gap, the guide is kept
    gap = float(np.max(np.sum((np.asarray(guide_action) - actor) ** 2, -1)))
    wide = Config(algo=algo, guidance="sag", confidence="q-gap", confidence_margin=gap + 1e-3, hidden_sizes=(8, 8))
    _, used = agent.act(wide, state, obs, guide, jax.random.PRNGKey(1), True)
    np.testing.assert_array_equal(used, [True, True, False])


class _HandTargetCritic:
    """A stand-in for the twin critic: Q_1 = Q_2 = -(a - preferred)², for the target at s'."""

    def __init__(self, preferred):
        self.preferred = preferred

    def apply(self, params, obs, action):
        q = -jnp.sum((action - self.preferred) ** 2, axis=-1)
        return jnp.stack([q, q + 1.0])  # min over the two is the first


def _batch(next_confidence, next_guide):
    n = len(next_confidence)
    rng = np.random.default_rng(0)
    return Batch(
        obs=jnp.asarray(rng.normal(size=(n, 3)), jnp.float32), action=jnp.zeros((n, 1)),
        reward=jnp.zeros(n), next_obs=jnp.asarray(rng.normal(size=(n, 3)), jnp.float32),
        terminated=jnp.zeros(n), guide_action=jnp.zeros((n, 1)), confidence=jnp.ones(n),
        next_guide_action=jnp.asarray(next_guide, jnp.float32)[:, None],
        next_confidence=jnp.asarray(next_confidence, jnp.float32),
    )


@pytest.mark.parametrize("rule", ["q-gap", "q-gap-soft"])
def test_the_critic_target_uses_lambda_hat_at_s_prime_from_the_target_critics(monkeypatch, rule):
    """Inside the target, λ̂(s') rates the guide's action at s' against the backbone's next action
    a' with the target critics, and the strategy's next value sees λ̂(s') in place of λ(s')."""
    config = Config(guidance="sag", confidence=rule, hidden_sizes=(8, 8))
    next_action = jnp.array([[0.2], [0.2], [0.2], [0.2]])
    batch = _batch([1.0, 1.0, 0.5, 0.0], [0.25, -0.9, 0.25, 0.25])
    monkeypatch.setattr(critic, "critic_net", lambda config: _HandTargetCritic(jnp.float32(0.3)))
    seen = {}
    strategy = get_strategy("sag")

    def spy(config, strategy_state, batch, actor_next_value, target_q, key, env_step):
        seen["next_confidence"] = np.asarray(batch.next_confidence)
        return actor_next_value

    spying = strategy.__class__(**{**strategy.__dict__, "next_value": spy})
    _, _, _, metrics = critic.critic_step(config, None, None, batch, next_action, lambda q: q.min(0), spying, {},
                                       jax.random.PRNGKey(0), 0)
    # ΔQ' = Q̄(s', a_g') - Q̄(s', a'): a_g' = 0.25 -> -0.0025 + 0.01 > 0; -0.9 -> -1.44 + 0.01 < 0
    delta = np.array([-(0.25 - 0.3) ** 2, -(-0.9 - 0.3) ** 2, -(0.25 - 0.3) ** 2, -(0.25 - 0.3) ** 2]) + 0.01
    lam = np.array([1.0, 1.0, 0.5, 0.0])
    expected = lam * (delta >= 0) if rule == "q-gap" else lam / (1 + np.exp(-10.0 * delta))
    np.testing.assert_allclose(seen["next_confidence"], expected, rtol=1e-5)
    np.testing.assert_allclose(metrics["confidence_learned"], expected.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["confidence_kept"], expected.sum() / lam.sum(), rtol=1e-5)
    # given: λ(s') reaches the strategy as stored, and no confidence metrics
    _, _, _, metrics = critic.critic_step(Config(guidance="sag", hidden_sizes=(8, 8)), None, None, batch,
                                       next_action, lambda q: q.min(0), spying, {}, jax.random.PRNGKey(0), 0)
    np.testing.assert_array_equal(seen["next_confidence"], lam)
    assert metrics == {}


def test_pag_rates_its_perturbed_action():
    """For PAG the guide's side of the switch is ã(s) = clip(a_g + β Φ u), not a_g itself."""
    config = Config(guidance="pag", confidence="q-gap", hidden_sizes=(8, 8), phi=0.5)
    state = agent.init(config, jax.random.PRNGKey(0), 3, 1)
    obs = jnp.asarray(np.random.default_rng(2).normal(size=(4, 3)), jnp.float32)
    guide_action = jnp.full((4, 1), 0.1)
    guided = get_strategy("pag").guided_action(config, state.guidance, obs, guide_action, jax.random.PRNGKey(0),
                                               True, 0)
    assert not np.allclose(guided, guide_action)
    np.testing.assert_array_less(np.abs(np.asarray(guided) - 0.1), 0.5 + 1e-6)
    assert get_strategy("sag").guided_action(config, None, obs, guide_action, None, True, 0) is guide_action


@pytest.mark.parametrize("guidance", ["none", "rg", "pig", "residual", "jsrl"])
def test_a_learned_confidence_needs_a_switching_strategy(guidance):
    with pytest.raises(ConfigError, match="use sag or pag"):
        Config(guidance=guidance, confidence="q-gap")


def test_bad_confidence_values_are_refused():
    with pytest.raises(ConfigError, match="unknown confidence"):
        Config(guidance="sag", confidence="learned")
    with pytest.raises(ConfigError, match="confidence_beta"):
        Config(guidance="sag", confidence="q-gap-soft", confidence_beta=0.0)
