"""A user's own env: a ``gym.Wrapper`` instance or a zero-argument factory, as ``guidedrl.train``
takes it; the evaluation env is a deep copy of the instance or a fresh one from the factory."""

import threading

import gymnasium as gym
import numpy as np
import pytest

import guidedrl
from guidedrl.envs import make_env
from guidedrl.errors import EnvError
from tests.conftest import SMALL

SETTINGS = dict(steps=400, seed=0, **SMALL)


class Shaped(gym.Wrapper):
    """A user's wrapper that does not record its constructor arguments (Gymnasium cannot re-make it
    from the spec) and changes the reward, so the copy must be this wrapper, not plain Pendulum."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward - 1000.0, terminated, truncated, info


def test_a_wrapper_instance_trains_and_is_evaluated_on_copies_of_itself(tmp_path):
    run = guidedrl.train(Shaped(gym.make("Pendulum-v1")), out=str(tmp_path / "run"), **SETTINGS)
    # 200 steps of Pendulum at -1000 each: evaluated on the user's wrapper, not a re-made Pendulum-v1
    assert run.history[-1]["eval_return"] < -200_000
    assert run.config.env == "Pendulum-v1"


def test_a_factory_makes_the_training_and_every_evaluation_env(tmp_path):
    made = []

    def factory():
        made.append(1)
        return Shaped(gym.make("Pendulum-v1"))

    run = guidedrl.train(factory, out=str(tmp_path / "run"), **SETTINGS)
    assert len(made) == 1 + SMALL["eval_episodes"]  # one to train on, one per evaluation episode
    assert run.history[-1]["eval_return"] < -200_000


class Uncopyable(Shaped):
    def __init__(self, env):
        super().__init__(env)
        self.lock = threading.Lock()  # deepcopy cannot copy a lock


def test_an_instance_that_cannot_be_copied_asks_for_a_factory():
    with pytest.raises(EnvError, match="pass a zero-argument factory"):
        make_env(Uncopyable(gym.make("Pendulum-v1")), copy_instance=True)
    with pytest.raises(EnvError, match="returned int, expected a gymnasium.Env"):
        make_env(lambda: 3)
    with pytest.raises(EnvError, match="zero-argument factory"):
        make_env(3.5)
    env = make_env(lambda: Uncopyable(gym.make("Pendulum-v1")))
    assert np.asarray(env.reset(seed=0)[0]).shape == (3,)
