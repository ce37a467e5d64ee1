"""JSRL: the switch at step h, the honoured region, the curriculum on a scripted sequence of
evaluations, random horizons, and the loop around it (columns, guide usage, resume)."""

import json

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import guidedrl
from guidedrl.config import Config
from guidedrl.guidance import jsrl
from guidedrl.training import loop
from guidedrl.training.logging import read_metrics
from guidedrl.types import EpisodeClock, GuideFields
from tests.conftest import SMALL
from tests.training.test_loop import InterruptAtStep, _final_rows


def test_the_guide_acts_in_the_first_h_steps_only_and_only_in_its_region():
    config = Config(guidance="jsrl")
    steps = jnp.arange(6, dtype=jnp.int32)
    clock = EpisodeClock(steps, jnp.full(6, 3, jnp.int32))
    guide = GuideFields(jnp.full((6, 1), 0.5), jnp.ones(6))
    actor = jnp.full((6, 1), -0.5)
    action, used = jsrl.behaviour(config, {}, None, actor, guide, jax.random.PRNGKey(0), True, 0, clock)
    np.testing.assert_array_equal(used, [True, True, True, False, False, False])
    np.testing.assert_array_equal(action[:, 0], [0.5, 0.5, 0.5, -0.5, -0.5, -0.5])
    # λ = 0 inside the first h steps: the actor (the region is honoured)
    outside = GuideFields(guide.guide_action, jnp.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
    _, used = jsrl.behaviour(config, {}, None, actor, outside, jax.random.PRNGKey(0), True, 0, clock)
    np.testing.assert_array_equal(used, [False, True, False, False, False, False])
    # no clock (a saved policy acting): the actor
    _, used = jsrl.behaviour(config, {}, None, actor, guide, jax.random.PRNGKey(0), True, 0)
    assert not np.any(used)


def test_horizons_step_from_the_guides_episode_length_to_zero():
    assert jsrl.horizons(1000, 10) == [1000, 900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert jsrl.horizons(7, 3) == [7, 5, 2, 0]


def test_the_curriculum_moves_on_when_the_moving_average_reaches_the_best_so_far():
    curriculum = jsrl.JumpStart("curriculum", stages=4, window=3, tolerance=0.1, seed=0, h1=100)
    assert curriculum.episode_horizon(0) == curriculum.evaluation_horizon == 100
    # the first full window (MA 20) sets the best; then MA 16 < 20 - 0.1·20 = 18 stays; with 25,
    # MA(16, 17, 25) = 19.33 >= 18 moves on, and the best stays 20
    moved = [curriculum.observe(value) for value in (10, 20, 30, 15, 16, 17, 25)]
    assert moved == [False, False, True, False, False, False, True]
    assert curriculum.stage == 2 and curriculum.best == 20.0 and curriculum.recent == []
    assert curriculum.episode_horizon(5) == curriculum.evaluation_horizon == 50
    assert curriculum.row() == {"jsrl_horizon": 50, "jsrl_stage": 2}
    for value in (30.0, 30.0, 30.0):  # MA 30: a new best
        curriculum.observe(value)
    assert curriculum.stage == 3 and curriculum.best == 30.0
    for value in (-1.0, 100.0, 100.0, 100.0):
        curriculum.observe(value)
    assert curriculum.stage == 4 and curriculum.evaluation_horizon == 0
    assert not curriculum.observe(1e9) and curriculum.stage == 4  # the last stage: the agent alone
    # the state survives a checkpoint
    copy = jsrl.JumpStart("curriculum", stages=4, window=3, tolerance=0.1, seed=0)
    copy.load_state_dict(json.loads(json.dumps(curriculum.state_dict())))
    assert copy == curriculum


def test_random_mode_draws_h_per_episode_from_the_stages_and_evaluates_the_agent_alone():
    curriculum = jsrl.JumpStart("random", stages=4, window=3, tolerance=0.1, seed=3, h1=8)
    draws = [curriculum.episode_horizon(e) for e in range(200)]
    assert set(draws) == {8, 6, 4, 2, 0}
    assert draws == [jsrl.JumpStart("random", 4, 3, 0.1, seed=3, h1=8).episode_horizon(e) for e in range(200)]
    assert draws != [jsrl.JumpStart("random", 4, 3, 0.1, seed=4, h1=8).episode_horizon(e) for e in range(200)]
    assert curriculum.evaluation_horizon == 0
    assert not curriculum.observe(5.0) and curriculum.stage == 0


class CountingEnv(gym.Env):
    """Ten-step episodes; the observation is the step within the episode."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(1, self.t, np.float32), 0.0, False, self.t >= 10, {}


def small(**overrides):
    return {**SMALL, **overrides}


class LoggingEnv(CountingEnv):
    """CountingEnv that keeps every action it is given."""

    def __init__(self):
        self.actions = []

    def step(self, action):
        self.actions.append(float(action[0]))
        return super().step(action)


def test_the_loop_gives_the_guide_exactly_the_first_h_steps_of_each_episode():
    """Random mode: each training episode e has h_e from its draw; with a guide trusted
    everywhere (action 0.25), the guide's action is executed at steps 0..h_e-1 of episode e
    and not at step h_e, through the warm-up and the learning steps alike; the guide's share of
    an interval is Σ h_e / steps."""
    guide = guidedrl.guides.scripted(lambda obs: np.array([0.25]), guidedrl.guides.always(), name="always")
    env = LoggingEnv()
    run = guidedrl.train(env, eval_env=CountingEnv(), guide=guide, **small(
        guidance="jsrl", jsrl_mode="random", jsrl_stages=5, steps=400, eval_every=200, eval_episodes=1))
    curriculum = jsrl.JumpStart("random", 5, 3, 0.05, seed=0, h1=10)
    horizons = [curriculum.episode_horizon(e) for e in range(40)]
    assert len(set(horizons)) == 6
    guided = np.asarray(env.actions).reshape(40, 10) == np.float32(0.25)
    for episode, h in enumerate(horizons):
        assert guided[episode, :h].all() and (h == 10 or not guided[episode, h]), (episode, h, guided[episode])
    usage = [row["guide_usage"] for row in run.history[1:]]
    np.testing.assert_allclose(usage, [sum(horizons[:20]) / 200, sum(horizons[20:]) / 200])
    assert [row["jsrl_horizon"] for row in run.history] == [0, 0, 0]  # random mode evaluates the agent alone


def test_curriculum_columns_and_the_guides_length_measured_first(tmp_path):
    guide = guidedrl.guides.scripted(lambda obs: np.array([0.25]), guidedrl.guides.always(), name="always")
    guidedrl.train(CountingEnv(), guide=guide, out=str(tmp_path / "run"), **small(guidance="jsrl", jsrl_stages=2, jsrl_window=1,
                   steps=300, eval_every=100, eval_episodes=1))
    rows = read_metrics(tmp_path / "run")
    # H1 = 10 (the guide alone runs ten-step episodes): stages 10, 5, 0; window 1 moves on each time
    # the evaluation is within 5% of the best (all returns are 0 here)
    assert [(int(row["jsrl_horizon"]), int(row["jsrl_stage"])) for row in rows] == [(10, 0), (5, 1), (0, 2), (0, 2)]
    meta = json.loads((tmp_path / "run" / "checkpoint" / "meta.json").read_text())
    assert meta["curriculum"]["h1"] == 10 and meta["curriculum"]["stage"] == 2


def test_a_jsrl_run_resumed_after_sigint_matches_an_uninterrupted_one(tmp_path):
    settings = small(steps=1000, seed=1, guidance="jsrl", jsrl_mode="curriculum", jsrl_window=1,
                     jsrl_tolerance=0.5, jsrl_stages=4, eval_every=200)
    guidedrl.train("Pendulum-v1", out=str(tmp_path / "ref"), **settings)
    out = tmp_path / "cut"
    with pytest.raises(guidedrl.TrainingInterrupted):
        guidedrl.train(InterruptAtStep(gym.make("Pendulum-v1"), at=711), eval_env="Pendulum-v1",
                       out=str(out), **settings)
    loop.train(Config(resume=str(out), progress=False))
    rows = _final_rows(out)
    assert rows == _final_rows(tmp_path / "ref")
    assert len({row["jsrl_stage"] for row in rows}) > 1  # the curriculum moved within the run
