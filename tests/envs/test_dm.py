"""The dm_control tasks, their guides, the registry and the bad inputs around them."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import guidedrl
from guidedrl.envs import GUIDE_DIR, TASKS, default_guide, make_env, stored_alone
from guidedrl.envs import dm
from guidedrl.envs.make_guide import measure_alone
from guidedrl.errors import EnvError
from guidedrl.guides import GuideError

DM_IDS = ["SafeCartpole-v0", "PointMass-v0", "BallInCup-v0"]
BUILT_IN = [task_id for task_id in TASKS if task_id != "Pendulum-v1"]


@pytest.mark.parametrize("task_id", BUILT_IN)
def test_check_env_passes_through_gymnasium_make(task_id):
    env = gym.make("guidedrl/" + task_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    # the observation bounds are ±inf on purpose (velocities are unbounded); nothing else
    assert [str(w.message) for w in caught if "infinity" not in str(w.message)] == []
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    _, _, _, _, info = env.step(env.action_space.sample())
    assert isinstance(info["catastrophe"], bool) and isinstance(info["cost"], float)


@pytest.mark.parametrize("task_id", BUILT_IN)
def test_seeding_reproduces_episodes(task_id):
    def rollout(seed):
        env = gym.make("guidedrl/" + task_id)
        obs, _ = env.reset(seed=seed)
        actions = np.random.default_rng(0).uniform(-1, 1, (60,) + env.action_space.shape).astype(np.float32)
        trace = [obs]
        for action in actions:
            obs, reward, terminated, truncated, _ = env.step(action)
            trace.append(np.append(obs, reward))
            if terminated or truncated:
                break
        return np.concatenate(trace)

    first, again, other = rollout(3), rollout(3), rollout(4)
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_driving_into_the_wall_is_a_catastrophe_that_ends_the_episode():
    env = gym.make("guidedrl/SafeCartpole-v0")
    env.reset(seed=0)
    for step in range(200):
        obs, reward, terminated, truncated, info = env.step(np.ones(1, np.float32))
        if terminated:
            break
        assert info == {"catastrophe": False, "cost": 0.0}
    assert terminated and not truncated
    assert info == {"catastrophe": True, "cost": 1.0}
    assert reward == -100.0 and obs[0] > dm.CARTPOLE_WALL


def test_time_limit_truncates():
    env = gym.make("guidedrl/PointMass-v0")
    env.reset(seed=0)
    for step in range(1, dm.EPISODE_STEPS + 1):
        _, _, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        assert not terminated and info["catastrophe"] is False
        if truncated:
            break
    assert truncated and step == dm.EPISODE_STEPS == TASKS["PointMass-v0"].max_episode_steps


def test_cartpole_guide_keeps_the_cart_off_the_walls_from_its_region():
    # Full episodes from states inside the region, fast motion towards the wall included.
    result = dm.verify_cartpole_guide(states=150, horizon=dm.EPISODE_STEPS, seed=1)
    assert result["failures"] == 0, result


def test_cartpole_region_test_can_fail():
    # Started past the braking distance, or with bang-bang towards the centre, the cart hits a wall.
    beyond = dm.verify_cartpole_guide(states=60, horizon=300, seed=2, margins=(-0.4, -0.1))
    bang_bang = dm.verify_cartpole_guide(states=60, horizon=300, seed=2,
                                         policy=lambda obs: np.array([-np.sign(obs[0])]))
    assert beyond["failures"] > 10 and bang_bang["failures"] > 10


@pytest.mark.parametrize("actor", ["towards the wall", "random"])
def test_guide_switched_in_where_trusted_prevents_catastrophes(actor):
    # SAG's deployed policy with the worst actor: the region cannot be crossed in one step.
    env = make_env("SafeCartpole-v0")
    guide = default_guide("SafeCartpole-v0").bind(5, 1)
    rng = np.random.default_rng(0)
    trusted = 0
    for episode in range(3):
        obs, _ = env.reset(seed=episode)
        for _ in range(dm.EPISODE_STEPS):
            guide_action, confidence = guide(obs)
            trusted += confidence == 1.0
            own = np.sign([obs[0] or 1.0]) if actor == "towards the wall" else rng.uniform(-1, 1, 1)
            action = guide_action if confidence == 1.0 else own
            obs, _, terminated, _, info = env.step(np.asarray(action, np.float32))
            assert not info["catastrophe"]
    assert not terminated and (actor != "towards the wall" or trusted > 100)


@pytest.mark.parametrize("task_id", ["PointMass-v0", "BallInCup-v0"])
def test_attractive_guide_files_load_act_and_reproduce_their_stored_return(task_id):
    meta = json.loads((GUIDE_DIR / f"{task_id}.json").read_text())
    assert meta["env"] == task_id and meta["command"].startswith("python -m guidedrl.envs.make_guide")
    assert (GUIDE_DIR / f"{task_id}.msgpack").stat().st_size < 100_000
    guide = default_guide(task_id)
    env = make_env(task_id)
    obs, _ = env.reset(seed=0)
    guide.bind(obs.shape[0], env.action_space.shape[0], task_id)
    action, confidence = guide(obs)
    assert action.shape == env.action_space.shape and np.all(np.abs(action) <= 1.0)
    assert confidence in (0.0, 1.0)
    # the guide's own return, stored beside it and in `guidedrl envs`, is reproduced
    stored = stored_alone()[task_id]
    assert meta["alone"]["mean_return"] == pytest.approx(stored["mean_return"], rel=1e-6)
    measured = measure_alone(default_guide(task_id), task_id, episodes=2)
    np.testing.assert_allclose(measured["returns"], stored["returns"][:2], rtol=1e-5, atol=1e-6)


def test_every_built_in_guide_has_stored_numbers():
    stored = stored_alone()
    assert set(stored) == set(TASKS)
    for numbers in stored.values():
        assert numbers["episodes"] == 20 and len(numbers["returns"]) == 20


def test_point_mass_confidence_is_the_distance_to_the_target():
    assert dm.point_mass_confidence(np.array([0.05, 0.05, 0, 0])) == 0.0
    assert dm.point_mass_confidence(np.array([0.2, 0.0, 0, 0])) == 1.0


def test_ball_in_cup_confidence():
    cup = np.zeros(8)
    below, in_cup, beside = cup.copy(), cup.copy(), cup.copy()
    below[3] = 0.1  # ball 0.3 under the cup's bottom
    in_cup[3] = 0.35  # the ball inside the cup
    beside[2:4] = 0.2, 0.42  # beside the cup, just above its rim
    assert dm.ball_in_cup_confidence(below) == 1.0
    assert dm.ball_in_cup_confidence(in_cup) == 0.0
    assert dm.ball_in_cup_confidence(beside) == 1.0


def test_unknown_id_lists_the_built_in_tasks():
    with pytest.raises(EnvError, match="SafeCartpole-v0.*PointMass-v0"):
        make_env("SafeCartpol-v0")


def test_guide_for_another_task_is_refused_naming_both_shapes(tmp_path):
    with pytest.raises(GuideError, match=r"\(4,\).*'SafeCartpole-v0' has observations of shape \(5,\)"):
        guidedrl.train("SafeCartpole-v0", guidance="sag", guide=default_guide("PointMass-v0"),
                       steps=10, out=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_train_on_a_built_in_task_with_its_default_guide(tmp_path):
    run = guidedrl.train("SafeCartpole-v0", guidance="pag", guide="default", steps=400, seed=0,
                         hidden_sizes=(16, 16), batch_size=32, learning_starts=100, eval_every=400,
                         eval_episodes=1, out=str(tmp_path / "run"), progress=False)
    assert run.config.env == "SafeCartpole-v0" and run.config.guide == "default"
    assert run.history[-1]["step"] == 400
    assert run.guide.name == "cartpole-wall-reflex"
    assert guidedrl.load(tmp_path / "run").guide.name == "cartpole-wall-reflex"
