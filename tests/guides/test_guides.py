"""Guides: checks on every call, composition, constructors, and their use by the loop."""

import json

import numpy as np
import pytest

import guidedrl
from guidedrl import guides, names
from guidedrl.errors import ConfigError
from guidedrl.guides import Guide, GuideError
from guidedrl.guides.pendulum import pendulum_lqr, verify_region
from guidedrl import checkpoint
from tests.conftest import SMALL


def bound(guide, action_dim=1):
    return guide.bind(obs_dim=3, action_dim=action_dim)


def test_wrong_shape_names_the_guide_and_the_shapes():
    guide = bound(Guide(lambda obs: np.zeros(2), lambda obs: 1.0, name="reflex"))
    with pytest.raises(GuideError, match=r"guide 'reflex' returned an action of shape \(2,\); expected \(1,\)"):
        guide(np.zeros(3))


def test_non_finite_action():
    guide = bound(Guide(lambda obs: np.array([np.nan]), lambda obs: 1.0, name="broken"))
    with pytest.raises(GuideError, match=r"guide 'broken' returned a non-finite action \[nan\]"):
        guide(np.zeros(3))


@pytest.mark.parametrize("value", [1.5, -0.1, float("nan"), "high"])
def test_confidence_outside_unit_interval(value):
    guide = bound(Guide(lambda obs: np.zeros(1), lambda obs: value, name="lqr"))
    with pytest.raises(GuideError, match=r"guide 'lqr' returned confidence .*; expected a float in \[0, 1\]"):
        guide(np.zeros(3))


def test_env_space_actions_are_converted_and_clipped():
    guide = bound(Guide(lambda obs: np.array([obs[0]]), lambda obs: 1.0, action_low=[-2.0], action_high=[2.0]))
    np.testing.assert_allclose(guide(np.array([1.0, 0, 0]))[0], [0.5])
    np.testing.assert_allclose(guide(np.array([-2.0, 0, 0]))[0], [-1.0])
    np.testing.assert_allclose(guide(np.array([5.0, 0, 0]))[0], [1.0])  # beyond the bound: clipped


def test_stochastic_guides_draw_from_the_seeded_generator():
    def noisy(obs, rng):
        return rng.uniform(-1, 1, size=1)

    a = [bound(Guide(noisy, lambda o: 1.0)).seed(3)(np.zeros(3))[0] for _ in range(2)]
    b = bound(Guide(noisy, lambda o: 1.0)).seed(4)(np.zeros(3))[0]
    np.testing.assert_array_equal(a[0], a[1])
    assert not np.array_equal(a[0], b)


def test_composition_first_confident_guide_acts():
    repulsive = Guide(lambda obs: np.array([-1.0]), lambda obs: float(obs[0] > 0.8), name="wall")
    attractive = Guide(lambda obs: np.array([0.3]), lambda obs: float(abs(obs[0]) < 0.9), name="lqr")
    both = bound(guides.compose(repulsive, attractive))
    assert both.name == "wall+lqr"
    action, lam = both(np.array([0.85, 0, 0]))  # both trusted: the first acts
    np.testing.assert_allclose(action, [-1.0]) and lam == 1.0
    action, lam = both(np.array([0.1, 0, 0]))   # only the second
    np.testing.assert_allclose(action, [0.3], rtol=1e-6) and lam == 1.0
    action, lam = both(np.array([-0.95, 0, 0]))  # neither
    assert lam == 0.0


def test_confidence_helpers():
    assert guides.box([-1, -1], [1, 1])(np.array([0.5, -0.5])) == 1.0
    assert guides.box([-1], [1], index=[1])(np.array([5.0, 2.0])) == 0.0
    assert guides.ellipse([0, 0], np.diag([1.0, 4.0]), 1.0)(np.array([0.5, 0.4])) == 1.0  # 0.25+0.64
    assert guides.ellipse([0, 0], np.diag([1.0, 4.0]), 1.0)(np.array([0.5, 0.5])) == 0.0  # 0.25+1
    band = guides.distance_band(lambda obs: abs(obs[0]), 0.5, 1.0)
    assert (band(np.array([0.7])), band(np.array([0.2]))) == (1.0, 0.0)
    smooth = guides.sigmoid(lambda obs: abs(obs[0]), threshold=1.0, sharpness=10.0)
    assert smooth(np.array([1.0])) == pytest.approx(0.5)
    assert smooth(np.array([0.0])) > 0.99 and smooth(np.array([2.0])) < 0.01


def test_lqr_gains_solve_their_riccati_equations():
    A, B = np.array([[0.0, 1.0], [2.0, 0.0]]), np.array([[0.0], [1.0]])
    Q, R = np.eye(2), np.array([[0.5]])
    K, P = guides.lqr_gain(A, B, Q, R)
    np.testing.assert_allclose(A.T @ P + P @ A - P @ B @ np.linalg.solve(R, B.T @ P) + Q, 0, atol=1e-8)
    assert np.all(np.linalg.eigvals(A - B @ K).real < 0)
    Ad, Bd = np.eye(2) + 0.05 * A, 0.05 * B
    Kd, Pd = guides.lqr_gain(Ad, Bd, Q, R, discrete=True)
    np.testing.assert_allclose(
        Ad.T @ Pd @ Ad - Pd - Ad.T @ Pd @ Bd @ np.linalg.solve(R + Bd.T @ Pd @ Bd, Bd.T @ Pd @ Ad) + Q,
        0, atol=1e-8)
    assert np.all(np.abs(np.linalg.eigvals(Ad - Bd @ Kd)) < 1)
    # saturation, equilibrium offset and the level-set region
    guide = bound(guides.lqr(A, B, Q, R, x_eq=[1.0, 0.0], u_max=2.0, level=1.0))
    action, lam = guide(np.array([1.0, 0.0]))
    np.testing.assert_allclose(action, [0.0])
    assert lam == 1.0
    action, lam = guide(np.array([10.0, 0.0]))
    np.testing.assert_allclose(action, [-1.0])  # -K x saturates at -2, i.e. -1 normalised
    assert lam == 0.0


def test_pendulum_lqr_region_is_verified_by_simulation():
    """From every grid state inside x'Px < LEVEL the saturated LQR brings the pole up."""
    result = verify_region(pendulum_lqr().level, resolution=241, horizon=200)
    assert result["inside"] > 4000 and result["failed"] == 0
    # and the region is not trivially small: outside a larger set the LQR does fail
    assert verify_region(pendulum_lqr().level * 4, resolution=121)["failed"] > 0


def test_pendulum_lqr_in_the_real_env():
    import gymnasium as gym

    guide = bound(pendulum_lqr())
    env = gym.make("Pendulum-v1")
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        env.unwrapped.state = np.array([0.3, -0.5])  # inside the region
        obs = env.unwrapped._get_obs()
        assert guide(obs)[1] == 1.0
        for _ in range(100):
            action, _ = guide(obs)
            obs, *_ = env.step(2.0 * action)
        assert abs(np.arctan2(obs[1], obs[0])) < 0.05


def test_resolve_guide_names():
    assert names.resolve_guide("lqr", "Pendulum-v1").name == "pendulum-lqr"
    with pytest.raises(ConfigError, match="built-in guide 'lqr' exists for Pendulum-v1, not for 'MountainCarContinuous-v0'"):
        names.resolve_guide("lqr", "MountainCarContinuous-v0")
    assert names.resolve_guide("guidedrl.guides.pendulum:pendulum_lqr", "Pendulum-v1").name == "pendulum-lqr"
    with pytest.raises(ConfigError, match="unknown guide 'nope'"):
        names.resolve_guide("nope", "Pendulum-v1")
    with pytest.raises(ConfigError, match="cannot load guide"):
        names.resolve_guide("guidedrl.guides:missing", "Pendulum-v1")


def test_a_guide_spec_from_a_file_imports_nothing_unless_trusted():
    import sys

    assert "antigravity" not in sys.modules
    with pytest.raises(ConfigError) as refused:
        names.resolve_guide("antigravity:geohash", "Pendulum-v1", trust_code=False, source="run/checkpoint/meta.json")
    assert str(refused.value) == (
        "run/checkpoint/meta.json names the guide 'antigravity:geohash', which would import the module "
        "'antigravity' and call geohash; name it again (--guide antigravity:geohash, or guide= in Python) "
        "or pass --trust-code (trust_code=True) if you trust this file")
    assert "antigravity" not in sys.modules
    # names that import nothing a file names resolve either way
    assert names.resolve_guide("lqr", "Pendulum-v1", trust_code=False).name == "pendulum-lqr"
    assert names.resolve_guide("default", "Pendulum-v1", trust_code=False).name == "pendulum-lqr"


def test_a_bad_guide_is_refused_before_anything_is_written(tmp_path):
    bad = Guide(lambda obs: np.zeros(3), lambda obs: 1.0, name="three-d")
    out = tmp_path / "run"
    with pytest.raises(GuideError, match="three-d"):
        guidedrl.train("Pendulum-v1", guidance="sag", guide=bad, steps=100, out=str(out))
    assert not out.exists()
    with pytest.raises(ConfigError, match="needs a guide.*'MountainCarContinuous-v0' has no default guide"):
        guidedrl.train("MountainCarContinuous-v0", guidance="pag", steps=100)


def test_the_guide_acts_from_the_first_step(tmp_path):
    """During the uniform warm-up the guide still acts where trusted (here: where θ̇ > 0)."""
    guide = Guide(lambda obs: np.array([0.25]), lambda obs: float(obs[2] > 0.0), name="half")
    run = guidedrl.train("Pendulum-v1", guidance="sag", guide=guide, steps=400, seed=0,
                         out=str(tmp_path / "run"), **{**SMALL, "learning_starts": 1000, "eval_every": 400})
    replay = checkpoint.load_replay_state(checkpoint.read_meta(tmp_path / "run"))["data"]
    trusted = np.asarray(replay["confidence"]) == 1.0
    assert 0 < trusted.sum() < 400
    np.testing.assert_allclose(np.asarray(replay["action"])[trusted, 0], 0.25, rtol=1e-6)
    assert not np.allclose(np.asarray(replay["action"])[~trusted, 0], 0.25)
    # guide fields for s and s' are recorded, and usage is the fraction of guide actions
    np.testing.assert_allclose(np.asarray(replay["guide_action"])[:, 0], 0.25)
    np.testing.assert_array_equal(np.asarray(replay["next_confidence"])[:-1][np.asarray(replay["terminated"])[:-1] == 0][:5],
                                  np.asarray(replay["confidence"])[1:][np.asarray(replay["terminated"])[:-1] == 0][:5])
    assert run.history[-1]["guide_usage"] == pytest.approx(trusted.mean())


def test_from_checkpoint_guide_acts_as_the_trained_policy(tmp_path):
    run = guidedrl.train("Pendulum-v1", steps=300, out=str(tmp_path / "run"), **SMALL)
    guide = bound(guides.from_checkpoint(tmp_path / "run", confidence=0.5))
    obs = np.array([0.6, 0.8, -1.0], np.float32)
    action, lam = guide(obs)
    np.testing.assert_allclose(action, run.act_normalized(obs), rtol=1e-6)
    assert lam == 0.5


def test_cli_trains_with_the_builtin_guide(tmp_path, capsys):
    from guidedrl import cli

    out = tmp_path / "pag"
    assert cli.main(["train", "--env", "Pendulum-v1", "--guidance", "pag", "--guide", "lqr", "--steps", "300", "--out", str(out),
                     "--hidden-sizes", "16", "16", "--batch-size", "32", "--learning-starts", "100",
                     "--eval-every", "150", "--eval-episodes", "2", "--phi", "0.3", "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["guide"] == "pendulum-lqr" and config["phi"] == 0.3
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    for column in ("guide_usage", "eval_return_guide_free", "pag_beta", "perturbation", "train_catastrophes"):
        assert column in header
    # the checkpoint knows its guide by name: load() and eval resolve it again
    assert guidedrl.load(out).guide.name == "pendulum-lqr"
    assert cli.main(["eval", str(out), "--episodes", "2", "--json"]) == 0
