"""Offline datasets: every test writes its Minari datasets into its own store under tmp_path."""

import warnings

import gymnasium as gym
import numpy as np
import pytest

PENDULUM_OBS = gym.spaces.Box(np.array([-1.0, -1.0, -8.0], np.float32), np.array([1.0, 1.0, 8.0], np.float32))
PENDULUM_ACTIONS = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty local Minari store (MINARI_DATASETS_PATH) for this test."""
    path = tmp_path / "store"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(path))
    return path


def write_buffers(dataset_id, episodes, observation_space=PENDULUM_OBS, action_space=PENDULUM_ACTIONS):
    """A Minari dataset written with Minari's own buffers API from hand-made episodes (dicts of
    observations, actions, rewards, terminations, truncations), with no env and no check."""
    import minari
    from minari.data_collector import EpisodeBuffer

    buffers = [EpisodeBuffer(id=index, observations=episode["observations"], actions=episode["actions"],
                             rewards=list(episode["rewards"]), terminations=list(episode["terminations"]),
                             truncations=list(episode["truncations"]))
               for index, episode in enumerate(episodes)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Minari's "author is None" and the like
        return minari.create_dataset_from_buffers(dataset_id, buffers, observation_space=observation_space,
                                                  action_space=action_space, algorithm_name="hand-made")


def hand_episode(steps, start=0.0, terminated=False, obs_dim=3, action_dim=1):
    """An episode of ``steps`` steps with distinct values everywhere: observation t is
    start + t + [0, 0.1, 0.2, ...] (within Pendulum's bounds for small values), action t is
    (t % 5 - 2) * 0.4 + 0.1 per dim, reward -t - start."""
    t = np.arange(steps + 1, dtype=np.float32)[:, None]
    observations = (start + t) / 100.0 + np.arange(obs_dim, dtype=np.float32) / 10.0
    actions = np.repeat(((np.arange(steps) % 5 - 2) * 0.4 + 0.1)[:, None], action_dim, axis=1).astype(np.float32)
    terminations = [False] * steps
    truncations = [False] * steps
    if terminated:
        terminations[-1] = True
    else:
        truncations[-1] = True
    return {"observations": observations.astype(np.float32), "actions": actions,
            "rewards": -(np.arange(steps, dtype=np.float64) + start), "terminations": terminations,
            "truncations": truncations}


class DictObsEnv(gym.Env):
    """A Dict-observation env with asymmetric action bounds [0, 4] x [-1, 3]: a point that moves
    by the centred action; 6 steps an episode."""

    observation_space = gym.spaces.Dict({
        "velocity": gym.spaces.Box(-10.0, 10.0, (1,), np.float64),
        "position": gym.spaces.Box(-10.0, 10.0, (2,), np.float32),
    })
    action_space = gym.spaces.Box(np.array([0.0, -1.0], np.float32), np.array([4.0, 3.0], np.float32))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._position = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        self._velocity = np.zeros(1)
        self._t = 0
        return self._obs(), {}

    def _obs(self):
        return {"velocity": self._velocity.copy(), "position": self._position.copy()}

    def step(self, action):
        move = np.asarray(action, np.float32) - np.array([2.0, 1.0], np.float32)
        self._velocity = np.array([float(np.sum(move))])
        self._position = (self._position + 0.1 * move).astype(np.float32)
        self._t += 1
        return self._obs(), -float(np.sum(self._position ** 2)), False, self._t >= 6, {}
