import os

os.environ.setdefault("MUJOCO_GL", "disable")

import gymnasium as gym
import numpy as np
import pytest

from guidedrl.config import Config


class MirrorEnv(gym.Env):
    """One-step task built for a quick learning test: the reward is -(a + s)², so the
    optimal action mirrors the state. A uniform-random policy scores about -0.67."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._state = self.np_random.uniform(-1.0, 1.0, (1,)).astype(np.float32)
        return self._state.copy(), {}

    def step(self, action):
        reward = -float((np.clip(action, -1, 1)[0] + self._state[0]) ** 2)
        return self._state.copy(), reward, True, False, {}


@pytest.fixture
def mirror_env():
    return MirrorEnv()


SMALL = dict(
    hidden_sizes=(32, 32),
    batch_size=64,
    learning_starts=200,
    eval_every=400,
    eval_episodes=2,
    checkpoint_every=400,
    progress=False,
)


@pytest.fixture
def small_config(tmp_path):
    """A fast Pendulum config writing to a temporary directory."""
    return Config(env="Pendulum-v1", guidance="none", steps=800, out=str(tmp_path / "run"), **SMALL)


class WallEnv(MirrorEnv):
    """MirrorEnv whose far-off actions are catastrophes: |a + s| > 1 sets info["catastrophe"]."""

    def step(self, action):
        obs, reward, terminated, truncated, _ = super().step(action)
        miss = abs(float(np.clip(action, -1, 1)[0] + self._state[0]))
        return obs, reward, terminated, truncated, {"catastrophe": miss > 1.0, "cost": float(miss > 1.0)}
