"""Regions and --guide-region: λ at chosen states under each setting, narrowing per shape, and the
same λ in training, its evaluation and a loaded run."""

import numpy as np
import pytest

import guidedrl
from guidedrl import guides, names
from guidedrl.config import Config
from guidedrl.errors import ConfigError
from guidedrl.guides import Guide
from guidedrl.guides.pendulum import pendulum_lqr

SETTINGS = ("default", "always", "narrow", "none-region")


def confidences(guide, states, obs_dim, action_dim=1):
    """{setting: [λ at each state]} for ``guide`` under every --guide-region."""
    return {setting: [guides.with_region(guide, setting).bind(obs_dim, action_dim)(np.asarray(s, np.float32))[1]
                      for s in states] for setting in SETTINGS}


def test_built_in_guide_safe_cartpole():
    """λ = 1 within 0.15 of the wall after braking (margin 1 - |x| - max(v·sign x, 0)²/12); narrow: 0.075."""
    states = [
        [0.0, 1, 0, 0.0, 0],    # centre: margin 1
        [0.9, 1, 0, 0.0, 0],    # margin 0.1: in the region, not in the narrow one
        [0.95, 1, 0, 0.0, 0],   # margin 0.05: in both
        [-0.5, 1, 0, -2.5, 0],  # fast towards the left wall: margin 0.5 - 6.25/12 = -0.02
        [0.9, 1, 0, -2.0, 0],   # 0.1 from the wall but moving away: margin 0.1
    ]
    assert confidences(names.resolve_guide("default", "SafeCartpole-v0"), states, 5) == {
        "default": [0.0, 1.0, 1.0, 1.0, 1.0],
        "always": [1.0, 1.0, 1.0, 1.0, 1.0],
        "narrow": [0.0, 0.0, 1.0, 1.0, 0.0],
        "none-region": [0.0, 0.0, 0.0, 0.0, 0.0],
    }


def test_built_in_guide_point_mass_and_ball_in_cup():
    point_mass = names.resolve_guide("default", "PointMass-v0")
    assert confidences(point_mass, [[0.05, 0, 0, 0], [0.15, 0, 0, 0], [0.0, 0.25, 0, 0]], 4, 2) == {
        "default": [0.0, 1.0, 1.0], "always": [1.0, 1.0, 1.0], "narrow": [0.0, 0.0, 1.0],
        "none-region": [0.0, 0.0, 0.0]}
    # BallInCup: (cup x, cup z, ball x, ball z, velocities); narrow halves the heights 0.3 and 0.45
    ball = names.resolve_guide("default", "BallInCup-v0")
    states = [[0, 0, 0, 0.1, 0, 0, 0, 0],   # just below the cup: dz 0.1
              [0, 0, 0, 0.2, 0, 0, 0, 0],   # dz 0.2: below 0.3, not below 0.15
              [0, 0, 0.2, 0.2, 0, 0, 0, 0],  # beside (dx 0.2), dz 0.2 < 0.225
              [0, 0, 0.0, 0.35, 0, 0, 0, 0]]  # over the mouth
    assert confidences(ball, states, 8, 2)["default"] == [1.0, 1.0, 1.0, 0.0]
    assert confidences(ball, states, 8, 2)["narrow"] == [1.0, 0.0, 1.0, 0.0]


def test_built_in_pendulum_lqr_narrow_halves_the_ellipse():
    narrow = names.resolve_guide("lqr", "Pendulum-v1", region="narrow")
    assert narrow.confidence.level == pendulum_lqr().level / 2 == 15.0  # 2-D: half the area
    assert narrow.in_region is not None and narrow.level == 30.0  # its own verified region is unchanged
    theta = np.sqrt(20.0 / narrow.P[0, 0])  # x'Px = 20 at rest
    obs = np.array([np.cos(theta), np.sin(theta), 0.0], np.float32)
    assert narrow.bind(3, 1)(obs)[1] == 0.0 and pendulum_lqr().bind(3, 1)(obs)[1] == 1.0


def test_user_guides_built_from_region_constructors():
    policy = lambda obs: np.zeros(1)  # noqa: E731
    square = Guide(policy, guides.box([-1, -1], [1, 1]), name="square")
    assert confidences(square, [[0.6, 0.6], [0.8, 0.0], [1.5, 0.0]], 2) == {
        "default": [1.0, 1.0, 0.0], "always": [1.0, 1.0, 1.0],
        "narrow": [1.0, 0.0, 0.0],  # sides scaled by 2^-1/2 = 0.707: half the area
        "none-region": [0.0, 0.0, 0.0]}
    oval = Guide(policy, guides.ellipse([0, 0], np.diag([1.0, 4.0]), 1.0), name="oval")
    assert confidences(oval, [[0.5, 0.4], [0.5, 0.2]], 2)["narrow"] == [0.0, 1.0]  # 0.89, 0.41 against 0.5
    distance = lambda obs: abs(float(obs[0]))  # noqa: E731
    assert guides.near(distance, 0.4).narrowed().threshold == 0.2
    assert guides.far(distance, 0.1, limit=0.5).narrowed().threshold == 0.3
    band = guides.distance_band(distance, 0.2, 0.6).narrowed()
    assert (band.inner, band.outer) == (0.2, 0.4)
    smooth = guides.sigmoid(distance, threshold=1.0, sharpness=10.0).narrowed()
    assert smooth(np.array([0.5])) == 0.5 and smooth.sharpness == 10.0
    np.testing.assert_allclose(guides.box([0.0], [4.0], index=[1]).narrowed().low, [1.0])


def test_a_region_that_cannot_be_narrowed_is_one_line_naming_the_guide():
    plain = Guide(lambda obs: np.zeros(1), lambda obs: float(obs[0] > 0), name="plain")
    assert [guides.with_region(plain, "always").bind(1, 1)(np.array([x]))[1] for x in (1.0, -1.0)] == [1.0, 1.0]
    with pytest.raises(ConfigError, match="guide 'plain' has a confidence guidedrl cannot narrow") as error:
        guides.with_region(plain, "narrow")
    assert "\n" not in str(error.value)
    for confidence, why in ((guides.always(1.0), "same everywhere"),
                            (guides.far(lambda o: 0.0, 0.1), "limit"),
                            (guides.box([-np.inf], [1.0]), "without a bound"),
                            (guides.distance_band(lambda o: 0.0, -np.inf, 1.0), "unbounded band")):
        with pytest.raises(ConfigError, match=f"guide 'g': the region .* cannot be narrowed: .*{why}"):
            guides.with_region(Guide(lambda obs: np.zeros(1), confidence, name="g"), "narrow")
    with pytest.raises(ConfigError, match="unknown guide region 'wide'; expected one of default, always, narrow"):
        guides.with_region(plain, "wide")


def test_with_region_leaves_the_guide_given_unchanged_and_applies_once():
    guide = names.resolve_guide("default", "SafeCartpole-v0").bind(5, 1)
    narrow = guides.with_region(guide, "narrow")
    assert narrow.name == "cartpole-wall-reflex[narrow]" and narrow.guide_region == "narrow"
    assert guide.guide_region == "default" and guide.confidence.threshold == 0.15
    assert guides.with_region(narrow, "narrow") is narrow and guides.with_region(narrow, "default") is narrow
    with pytest.raises(ConfigError, match="already has the region 'narrow'"):
        guides.with_region(narrow, "always")


def test_a_composed_guide_gets_the_region_of_each_part():
    wall = Guide(lambda obs: np.array([-1.0]), guides.near(lambda obs: 1.0 - float(obs[0]), 0.2), name="wall")
    centre = Guide(lambda obs: np.array([0.3]), guides.box([-0.5], [0.5]), name="centre")
    both = guides.with_region(guides.compose(wall, centre), "narrow").bind(1, 1)
    assert both.name == "wall+centre[narrow]"
    assert both(np.array([0.85]))[1] == 0.0   # 0.15 from the wall: outside near(0.1)
    assert both(np.array([0.95]))[1] == 1.0
    assert both(np.array([0.2]))[1] == 1.0 and both(np.array([0.3]))[1] == 0.0  # 1-D box: [-0.25, 0.25]
    np.testing.assert_allclose(both(np.array([0.2]))[0], [0.3], rtol=1e-6)  # the second part acts there


def test_a_bad_guide_region_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="unknown guide_region 'wide'; expected one of default, always, narrow, "
                                          "none-region") as error:
        guidedrl.train("PointMass-v0", guidance="sag", guide_region="wide", steps=100)
    assert "\n" not in str(error.value)
    assert Config(guide_region="narrow").agent == Config().agent  # host-only: compiled programs are shared


def test_always_and_none_region_in_training_evaluation_and_a_loaded_run(tmp_path):
    """SAG on PointMass-v0: trusted everywhere, the guide gives every training and evaluation
    action; with λ = 0 it gives none. A loaded run gets the region from its files."""
    small = dict(hidden_sizes=(16, 16), batch_size=32, learning_starts=100, eval_every=300, eval_episodes=1,
                 progress=False)
    usage = {}
    for region in ("always", "none-region"):
        run = guidedrl.train("PointMass-v0", guidance="sag", guide="default", guide_region=region, steps=300,
                             seed=0, out=str(tmp_path / region), **small)
        usage[region] = (run.history[-1]["guide_usage"], run.evaluate(episodes=1)["guide_usage"])
    assert usage == {"always": (1.0, 1.0), "none-region": (0.0, 0.0)}
    loaded = guidedrl.load(tmp_path / "always")
    assert loaded.config.guide_region == "always" and loaded.guide.name == "pointmass-medium-sac[always]"
    assert loaded.guide(np.zeros(4, np.float32))[1] == 1.0  # on the target, where the default λ is 0
