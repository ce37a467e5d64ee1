"""guidedrl.envs.mj, the dm_control tasks on MuJoCo directly, against guidedrl.envs.dm: the same
observations, rewards, terminations, truncations and infos, step for step, from the same seeds."""

import copy
import os
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from guidedrl.envs import default_guide, dm, mj
from guidedrl.errors import EnvError

NAMES = {"SafeCartpole-v0": "SafeCartpole", "PointMass-v0": "PointMass", "BallInCup-v0": "BallInCup"}
TOLERANCE = 1e-12
"""Largest absolute difference allowed (measured: 0.0 for every task, observations and rewards)."""


def _pair(task_id, episode_steps=dm.EPISODE_STEPS, **kwargs):
    """The dm_control version and the MuJoCo one, each under the registration's time limit."""
    name = NAMES[task_id]
    return tuple(gym.wrappers.TimeLimit(getattr(module, name)(**kwargs), episode_steps) for module in (dm, mj))


def _policies(task_id):
    """The actors the comparison cycles through, one per episode: random actions beyond the
    bounds (both envs clip), the task's default guide with noise (reaches the rewarded states:
    the target, the ball in the cup), and for SafeCartpole full force into a wall and a swing-up
    (energy pumping, towards the centre)."""
    guide = default_guide(task_id).policy
    action_shape = (1,) if task_id == "SafeCartpole-v0" else (2,)

    def random(obs, rng):
        return rng.uniform(-1.5, 1.5, action_shape).astype(np.float32)

    def guided(obs, rng):
        return (np.asarray(guide(obs), np.float64) + rng.normal(0.0, 0.3, action_shape)).astype(np.float32)

    def into_the_wall(obs, rng):
        return np.ones(action_shape, np.float32) if rng.random() < 0.9 else random(obs, rng)

    def swing_up(obs, rng):
        x, cosine, _, velocity, pole_velocity = obs
        return np.array([-np.sign(pole_velocity * cosine) - x - 0.5 * velocity + rng.normal(0.0, 0.1)], np.float32)

    return [random, guided, into_the_wall, swing_up] if task_id == "SafeCartpole-v0" else [random, guided]


def lockstep(reference, candidate, policies, steps, seed=0):
    """Run both envs on the same actions for ``steps`` steps, resetting both when an episode
    ends (episode k with seed k for k < 5, then unseeded: Gymnasium's generator goes on).
    Asserts equal outcomes; returns the largest differences and what the run went through."""
    rng = np.random.default_rng(seed)
    seen = {"observation": 0.0, "reward": 0.0, "episodes": 0, "catastrophes": 0, "truncations": 0, "rewards": [],
            "draws": []}

    def compare(expected, actual):
        assert actual.dtype == expected.dtype == np.float32 and actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)
        seen["observation"] = max(seen["observation"], float(np.max(np.abs(actual.astype(np.float64) - expected))))

    def reset(episode):
        options = {"seed": episode} if episode < 5 else {}
        (expected, expected_info), (actual, actual_info) = reference.reset(**options), candidate.reset(**options)
        compare(expected, actual)
        assert actual_info == expected_info == {}
        # the start state's generator: the same state after the same draws (pos: 32-bit words used)
        state, new_state = reference.unwrapped._env.task.random.get_state(), candidate.unwrapped.random.get_state()
        assert all(np.array_equal(a, b) for a, b in zip(state, new_state))
        seen["draws"].append(int(new_state[2]))
        return expected

    obs = reset(0)
    for _ in range(steps):
        action = policies[seen["episodes"] % len(policies)](obs, rng)
        obs, reward, terminated, truncated, info = reference.step(action)
        new_obs, new_reward, new_terminated, new_truncated, new_info = candidate.step(action)
        compare(obs, new_obs)
        assert type(new_reward) is float and abs(new_reward - reward) <= TOLERANCE, (reward, new_reward)
        seen["reward"] = max(seen["reward"], abs(new_reward - reward))
        assert (new_terminated, new_truncated) == (terminated, truncated)
        assert type(new_terminated) is bool and new_info == info
        assert type(new_info["catastrophe"]) is bool and type(new_info["cost"]) is float
        seen["rewards"].append(reward)
        if terminated or truncated:
            seen["catastrophes"] += info["catastrophe"]
            seen["truncations"] += truncated
            seen["episodes"] += 1
            obs = reset(seen["episodes"])
    return seen


@pytest.mark.parametrize("task_id", list(NAMES))
def test_same_numbers_as_dm_control_step_for_step(task_id):
    reference, candidate = _pair(task_id)
    seen = lockstep(reference, candidate, _policies(task_id), steps=6000)
    print(f"{task_id}: largest differences: observation {seen['observation']}, reward {seen['reward']}; "
          f"{seen['episodes']} episodes")
    rewards = np.array(seen["rewards"])
    # what the run went through: episodes ended both ways, and the rewarded states were reached
    assert seen["episodes"] >= 6 and seen["truncations"] >= 3
    if task_id == "SafeCartpole-v0":
        assert seen["catastrophes"] >= 2 and np.sum(rewards == -100.0) == seen["catastrophes"]
        assert rewards.max() > 0.6  # pole up-ish, cart near the centre
    elif task_id == "PointMass-v0":
        assert np.sum(rewards > 0.8) > 100  # on the target (reward 1 there, times small control)
    else:
        assert set(np.unique(rewards)) == {0.0, 1.0} and np.sum(rewards == 1.0) > 50  # ball in the cup


def test_ball_in_cup_redraws_a_start_touching_the_cup_as_dm_py():
    # With dm_control's own start, ball z ~ U(0.2, 0.5), about one start in five touches the cup
    # and is drawn again (the registered low start never does): 60 short episodes.
    reference, candidate = _pair("BallInCup-v0", episode_steps=20, ball_start=(0.2, 0.5))
    seen = lockstep(reference, candidate, _policies("BallInCup-v0")[:1], steps=1200, seed=1)
    assert seen["episodes"] == 60
    assert 4 in seen["draws"] and 8 in seen["draws"]  # one draw of (x, z): 4 words; a second: 8


def test_set_state_gives_dm_controls_state_and_what_follows():
    reference, candidate = dm.SafeCartpole(), mj.SafeCartpole()
    reference.reset(seed=0), candidate.reset(seed=0)
    guide = dm.cartpole_guide().policy
    rng = np.random.default_rng(0)
    for _ in range(20):
        state = (rng.uniform(-1.2, 1.2), rng.uniform(-np.pi, np.pi), rng.uniform(-6, 6), rng.uniform(-10, 10))
        obs = reference.set_state(*state)
        np.testing.assert_array_equal(candidate.set_state(*state), obs)
        for _ in range(50):
            expected, actual = reference.step(guide(obs)), candidate.step(guide(obs))
            np.testing.assert_array_equal(actual[0], expected[0])
            assert actual[1:] == expected[1:]
            obs = expected[0]
            if expected[2]:
                break


@pytest.mark.parametrize("task_id", list(NAMES))
def test_spaces_and_constructor_arguments_are_dm_pys(task_id):
    name = NAMES[task_id]
    reference, candidate = getattr(dm, name)(), getattr(mj, name)()
    for space in ("observation_space", "action_space"):
        expected, actual = getattr(reference, space), getattr(candidate, space)
        assert actual == expected and actual.dtype == expected.dtype == np.float32
    assert mj.SafeCartpole(catastrophe_reward=-5.0, wall=0.5).wall == 0.5
    assert mj.BallInCup(ball_start=(0.1, 0.2)).ball_start == (0.1, 0.2)
    assert mj.PointMass(catastrophe_reward=-1.0).catastrophe_reward == -1.0


@pytest.mark.parametrize("task_id", list(NAMES))
def test_check_env_passes(task_id):
    env = getattr(mj, NAMES[task_id])()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught if "infinity" not in str(w.message)] == []


def test_catastrophe_ends_the_episode_with_its_reward():
    env = mj.SafeCartpole(catastrophe_reward=-7.0, wall=0.3)
    env.reset(seed=0)
    for _ in range(200):
        obs, reward, terminated, truncated, info = env.step(np.ones(1, np.float32))
        assert env.catastrophe() == terminated == info["catastrophe"]
        if terminated:
            break
    assert terminated and not truncated and reward == -7.0 and obs[0] > 0.3
    assert info == {"catastrophe": True, "cost": 1.0}


@pytest.mark.parametrize("make", [dm.SafeCartpole, mj.SafeCartpole])
def test_a_nan_action_is_an_invalid_physics_state_in_both(make):
    env = make()
    env.reset(seed=0)
    with pytest.raises(Exception, match="mjWARN_BADCTRL") as raised:
        env.step(np.array([np.nan], np.float32))
    assert make is dm.SafeCartpole or isinstance(raised.value, EnvError)


def test_actions_are_read_as_dm_py_reads_them():
    reference, candidate = dm.PointMass(), mj.PointMass()
    reference.reset(seed=0), candidate.reset(seed=0)
    for action in ([0.5, -2.0], (0.1, 0.2), np.array([3.0, 0.1]), np.float32([[0.3, -0.4]]), np.int64([1, -1])):
        expected, actual = reference.step(action), candidate.step(action)
        np.testing.assert_array_equal(actual[0], expected[0])
        assert actual[1:] == expected[1:]
    for wrong in (np.zeros(3), "one"):
        for env in (reference, candidate):
            with pytest.raises(ValueError):
                env.step(wrong)


class _PlainStep:
    """A candidate that steps with plain ``mj_step``: the right qpos and qvel, stale positions."""

    def _advance(self):
        mujoco.mj_step(self.model, self.data, self.n_sub_steps)


@pytest.mark.parametrize("task_id", ["SafeCartpole-v0", "PointMass-v0"])
def test_the_comparison_sees_a_wrong_stepping_sequence(task_id):
    # dm_control's legacy step ends with mj_step1, so that the cartpole's pole angle (from xmat)
    # and the point mass's position in its reward are of the new state; plain mj_step leaves
    # them a step behind.
    name = NAMES[task_id]
    plain = type("Plain" + name, (_PlainStep, getattr(mj, name)), {})
    reference = gym.wrappers.TimeLimit(getattr(dm, name)(), dm.EPISODE_STEPS)
    with pytest.raises(AssertionError):
        lockstep(reference, gym.wrappers.TimeLimit(plain(), dm.EPISODE_STEPS), _policies(task_id)[1:2], steps=500)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_is_an_independent_env_in_the_same_state(how):
    env = mj.BallInCup()
    env.reset(seed=3)
    env.step(np.ones(2, np.float32))
    twin = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 2)).astype(np.float32)
    expected = [env.step(a)[:2] for a in actions]
    actual = [twin.step(a)[:2] for a in actions]
    for (obs, reward), (twin_obs, twin_reward) in zip(expected, actual):
        np.testing.assert_array_equal(twin_obs, obs)
        assert twin_reward == reward


def test_reward_sigmoids_are_dm_controls_bit_for_bit():
    from dm_control.utils import rewards

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-3, 3, 3000), rng.uniform(-0.05, 0.05, 1000), [0.0, 1.0, -1.0]])
    differ = 0
    for margin in (2.0, 5.0):
        scalar = [rewards.tolerance(value, margin=margin) for value in x]  # a float: pow
        array = rewards.tolerance(x, margin=margin).tolist()  # an array: square
        assert [mj.gaussian_tolerance(abs(value) / margin) for value in x] == scalar
        assert [mj.gaussian_tolerance(abs(value) / margin, from_array=True) for value in x] == array
        differ += sum(a != b for a, b in zip(scalar, array))
    assert differ > 0  # dm_control's two paths do differ, in the last bit: from_array matters
    quadratic = rewards.tolerance(x, margin=1, value_at_margin=0, sigmoid="quadratic")
    assert [mj.quadratic_tolerance(abs(value) / 1) for value in x] == quadratic.tolist()


def test_the_model_files_are_dm_controls():
    from dm_control.suite import ball_in_cup, cartpole, point_mass

    for name, module in (("cartpole", cartpole), ("point_mass", point_mass), ("ball_in_cup", ball_in_cup)):
        xml, assets = module.get_model_and_assets()
        assert mj.suite_files(name) == (xml.decode(), assets)


def test_making_and_stepping_does_not_import_dm_control():
    code = ("import sys; from guidedrl.envs import mj; e = mj.BallInCup(); e.reset(seed=0); "
            "e.step(e.action_space.sample()); mj.SafeCartpole().reset(seed=0); mj.PointMass().reset(seed=0); "
            "print('dm_control' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "MUJOCO_GL": "disable"})
    assert result.stdout.strip() == "False"
