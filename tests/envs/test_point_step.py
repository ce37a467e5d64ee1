"""The point robots' per-step arithmetic on Python floats gives the vectorised functions' numbers
bit for bit: the envs against references that step as point.py did before (np.clip, then
circle_observation / circle_reward / reach_observation / obstacle_clearance on the arrays)."""

import copy
import pickle

import mujoco
import numpy as np
import pytest

from guidedrl.envs.point import tasks as point
from guidedrl.envs.point import PointCircleEnv, PointReachEnv


class ReferenceCircle(PointCircleEnv):
    def step(self, action):
        self.data.ctrl[:] = np.clip(np.asarray(action, float).reshape(2), -1.0, 1.0)
        mujoco.mj_step(self.model, self.data, nstep=point.N_SUBSTEPS)
        catastrophe = bool(point.circle_wall_distance(self.data.qpos) < 0.0)
        reward = float(point.circle_reward(self.data.qpos, self.data.qvel))
        return self._observation(), reward, catastrophe, False, {"catastrophe": catastrophe, "cost": float(catastrophe)}

    def _observation(self):
        return point.circle_observation(self.data.qpos, self.data.qvel)


class ReferenceReach(PointReachEnv):
    def step(self, action):
        self.data.ctrl[:] = np.clip(np.asarray(action, float).reshape(2), -1.0, 1.0)
        mujoco.mj_step(self.model, self.data, nstep=point.N_SUBSTEPS)
        xy = self.data.qpos[:2].copy()
        goal_distance = float(np.linalg.norm(self.goal - xy))
        reward = point.PROGRESS_SCALE * (self._goal_distance - goal_distance)
        goal_reached = goal_distance < point.GOAL_RADIUS
        if goal_reached:
            reward += point.GOAL_BONUS
            self.goal = point._draw_goal(self.np_random, xy, self.obstacles)
            goal_distance = float(np.linalg.norm(self.goal - xy))
        self._goal_distance = goal_distance
        catastrophe = bool(point.obstacle_clearance(xy, self.obstacles) < 0.0)
        info = {"catastrophe": catastrophe, "cost": float(catastrophe), "goal_reached": bool(goal_reached)}
        return self._observation(), float(reward), catastrophe, False, info

    def _observation(self):
        return point.reach_observation(self.data.qpos, self.data.qvel, self.goal, self.obstacles)


def _towards_the_goal(obs, rng):
    """Turn to the goal (seen in the robot's frame) and drive at it: reaches goals, and hits obstacles."""
    forward, left = obs[0], obs[1]
    return np.array([np.clip(2.0 * forward, -1, 1), np.clip(3.0 * np.arctan2(left, forward), -1, 1)], np.float32)


def _policies(env_cls):
    def random(obs, rng):
        return rng.uniform(-1.5, 1.5, 2).astype(np.float32)  # beyond the bounds: both clip

    def straight(obs, rng):
        return np.array([1.0, rng.uniform(-0.1, 0.1)], np.float32)  # into a wall or an obstacle

    return [random, straight] + ([_towards_the_goal] if env_cls is PointReachEnv else [])


@pytest.mark.parametrize("env_cls, reference_cls", [(PointCircleEnv, ReferenceCircle), (PointReachEnv, ReferenceReach)])
def test_envs_step_as_the_vectorised_functions(env_cls, reference_cls):
    env, reference = env_cls(), reference_cls()
    rng, policies = np.random.default_rng(0), _policies(env_cls)
    episodes, steps_in_episode, catastrophes, goals = 0, 0, 0, 0
    obs, expected = env.reset(seed=0)[0], reference.reset(seed=0)[0]
    for _ in range(6000):
        np.testing.assert_array_equal(obs, expected)
        action = policies[episodes % len(policies)](obs, rng)
        obs, reward, terminated, truncated, info = env.step(action)
        expected, expected_reward, expected_terminated, expected_truncated, expected_info = reference.step(action)
        assert type(reward) is float and reward == expected_reward
        assert (terminated, truncated, info) == (expected_terminated, expected_truncated, expected_info)
        assert type(terminated) is bool and all(type(info[k]) is type(v) for k, v in expected_info.items())
        goals += info.get("goal_reached", False)
        steps_in_episode += 1
        if terminated or steps_in_episode == point.MAX_EPISODE_STEPS:
            catastrophes += terminated
            episodes, steps_in_episode = episodes + 1, 0
            seed = episodes if episodes % 2 else None  # seeded, and Gymnasium's generator going on
            obs, expected = env.reset(seed=seed)[0], reference.reset(seed=seed)[0]
    assert episodes >= 6 and catastrophes >= 3 and (env_cls is PointCircleEnv or goals >= 5)


@pytest.mark.parametrize("env_cls", [PointCircleEnv, PointReachEnv])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_is_an_independent_env_in_the_same_state(env_cls, how):
    env = env_cls()
    env.reset(seed=2)
    env.step(np.ones(2, np.float32))
    twin = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 2)).astype(np.float32)
    for action in actions:
        expected, actual = env.step(action), twin.step(action)
        np.testing.assert_array_equal(actual[0], expected[0])
        assert actual[1:] == expected[1:]
