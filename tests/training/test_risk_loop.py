"""The risk confidence in the loop: the catastrophe label stored per step, a run resumed exactly
with its risk critic, a bad catastrophe flag named in one line with the run saved at the step
before, the fallback to q-gap on an env that reports no catastrophe, and dataset labels."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest

import guidedrl
from guidedrl import guides
from guidedrl.errors import TrainingFailed
from guidedrl import checkpoint
from guidedrl.training.logging import TIMING_COLUMNS, read_metrics
from tests.conftest import SMALL

SETTINGS = dict(algo="sac", guidance="sag", confidence="risk", steps=1000, seed=2, **SMALL)


class SpinningPendulum(gym.Wrapper):
    """Pendulum-v1 where spinning faster than 6 rad/s is a catastrophe that ends the episode;
    ``bad_at``: from that step on, the flag is ``bad`` instead; ``fail_at``: that step raises."""

    def __init__(self, bad_at=None, bad=None, fail_at=None):
        super().__init__(gym.make("Pendulum-v1"))
        self.bad_at, self.bad, self.fail_at, self.steps = bad_at, bad, fail_at, 0

    def step(self, action):
        self.steps += 1
        if self.steps == self.fail_at:
            raise ConnectionError("plant offline")
        obs, reward, terminated, truncated, info = self.env.step(action)
        catastrophe = bool(abs(obs[2]) > 6.0)
        info = {**info, "catastrophe": catastrophe, "cost": float(catastrophe)}
        if self.bad_at is not None and self.steps >= self.bad_at:
            info["catastrophe"] = self.bad
        return obs, reward, terminated or catastrophe, truncated, info


def guide():
    def policy(obs):  # brake the spin
        return np.clip([-0.5 * obs[2]], -1.0, 1.0)

    return guides.scripted(policy, confidence=lambda obs: float(abs(obs[2]) > 4.0), name="brake")


def rows(out):
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in read_metrics(out)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("risk") / "run"
    run = guidedrl.train(SpinningPendulum(), eval_env=SpinningPendulum(), guide=guide(), out=str(out), **SETTINGS)
    return out, run


def test_a_risk_run_logs_its_critic_and_stores_the_labels(reference):
    out, run = reference
    logged = read_metrics(out)
    for column in ("risk_loss", "risk_mean", "confidence_kept", "confidence_kept_risk", "confidence_kept_return",
                   "confidence_learned"):
        assert column in logged[0], column
        assert np.isfinite(float(logged[-1][column])), column
    assert json.loads((out / "config.json").read_text())["confidence"] == "risk"
    replay = checkpoint.load_replay_state(checkpoint.read_meta(out))
    costs = np.asarray(replay["data"]["cost"])
    assert set(np.unique(costs)) <= {0.0, 1.0}  # every step labelled by the env
    caught = int(costs.sum())
    assert caught == int(logged[-1]["train_catastrophes"])  # the buffer holds every catastrophe once
    assert run.state.risk is not None


def test_a_risk_run_resumes_exactly_after_a_failure(tmp_path, reference):
    out = tmp_path / "run"
    with pytest.raises(TrainingFailed) as failed:
        guidedrl.train(SpinningPendulum(fail_at=650), eval_env=SpinningPendulum(), guide=guide(), out=str(out),
                       **SETTINGS)
    assert checkpoint.read_meta(out)["step"] == 649 and failed.value.saved
    resumed = guidedrl.train(SpinningPendulum(), eval_env=SpinningPendulum(), resume=str(out), guide=guide(),
                             **SETTINGS)
    assert rows(out) == rows(reference[0])
    for obs in np.random.default_rng(0).normal(size=(4, 3)):
        np.testing.assert_array_equal(resumed.act(obs), reference[1].act(obs))


@pytest.mark.parametrize("bad, shown", [(np.array([True, False]), "array([ True, False])"), ("maybe", "'maybe'")])
def test_a_bad_catastrophe_flag_is_named_and_the_run_saved_at_the_step_before(tmp_path, bad, shown):
    out = tmp_path / "run"
    with pytest.raises(TrainingFailed) as failed:
        guidedrl.train(SpinningPendulum(bad_at=300, bad=bad), eval_env=SpinningPendulum(), guide=guide(),
                       out=str(out), **SETTINGS)
    message = str(failed.value)
    assert "\n" not in message and "the env" in message and "at step 300" in message
    assert "info['catastrophe'] must be a bool" in message and shown in message
    assert checkpoint.read_meta(out)["step"] == 299


def test_a_non_finite_cost_is_named(tmp_path):
    class NaNCost(SpinningPendulum):
        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            if self.steps == 120:
                info = {"cost": float("inf")}
            return obs, reward, terminated, truncated, info

    with pytest.raises(TrainingFailed, match=r"at step 120: BadInfo: info\['cost'\] must be a finite number, got inf"):
        guidedrl.train(NaNCost(), eval_env=SpinningPendulum(), guide=guide(), out=str(tmp_path / "run"), **SETTINGS)


def test_an_env_without_catastrophes_runs_as_q_gap_and_says_so_once(tmp_path):
    out = tmp_path / "run"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = guidedrl.train("Pendulum-v1", guide=guide(), out=str(out), **{**SETTINGS, "steps": 400})
    said = [w for w in seen if "reports no info['catastrophe']" in str(w.message)]
    assert len(said) == 1 and "runs as q-gap" in str(said[0].message)
    assert json.loads((out / "config.json").read_text())["confidence"] == "q-gap"
    assert run.config.confidence == "q-gap" and run.state.risk is None
    assert "risk_loss" not in read_metrics(out)[0]


def test_dataset_labels_are_read_from_step_infos_and_unknown_without_them(tmp_path, monkeypatch):
    import minari
    from minari.data_collector import EpisodeBuffer

    from guidedrl.offline.datasets import load_transitions
    from tests.offline.conftest import PENDULUM_ACTIONS, PENDULUM_OBS, hand_episode

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "store"))
    episode = hand_episode(6, terminated=True)
    labels = np.array([False] * 6 + [True])  # one per observation: the reset's, then each step's

    def write(dataset_id, infos):
        buffer = EpisodeBuffer(id=0, observations=episode["observations"], actions=episode["actions"],
                               rewards=list(episode["rewards"]), terminations=list(episode["terminations"]),
                               truncations=list(episode["truncations"]), infos=infos)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            minari.create_dataset_from_buffers(dataset_id, [buffer], observation_space=PENDULUM_OBS,
                                               action_space=PENDULUM_ACTIONS, algorithm_name="hand-made")

    write("test/labelled-v0", {"catastrophe": labels})
    write("test/unlabelled-v0", None)
    env = gym.make("Pendulum-v1")
    np.testing.assert_array_equal(load_transitions("test/labelled-v0", env).cost, [0, 0, 0, 0, 0, 1])
    # no labels: unknown (-1), never taken as 0 (the risk critic learns nothing from those rows)
    np.testing.assert_array_equal(load_transitions("test/unlabelled-v0", env).cost, [-1] * 6)
    out = tmp_path / "run"
    guidedrl.train(SpinningPendulum(), eval_env=SpinningPendulum(), guide=guide(), out=str(out),
                   dataset="test/unlabelled-v0", **{**SETTINGS, "steps": 300})
    replay = checkpoint.load_replay_state(checkpoint.read_meta(out))
    np.testing.assert_array_equal(replay["dataset"]["cost"], [-1] * 6)
    assert set(np.unique(replay["data"]["cost"])) <= {0.0, 1.0}


def test_guidedrls_own_datasets_carry_the_catastrophe_labels(tmp_path, monkeypatch):
    """``guidedrl dataset collect`` (and ``from-run``) write each step's catastrophe flag into the
    step infos, so a dataset made by guidedrl gives the risk critic its labels."""
    from guidedrl.cli import main
    from guidedrl.envs import make_env
    from guidedrl.offline.datasets import load_transitions

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "store"))
    assert main(["dataset", "collect", "--env", "SafeCartpole-v0", "--policy", "random", "--episodes", "2",
                 "--id", "test/cartpole-random-v0"]) == 0
    transitions = load_transitions("test/cartpole-random-v0", make_env("SafeCartpole-v0"))
    # random actions hit a wall in every episode: each episode's last step is its catastrophe
    np.testing.assert_array_equal(transitions.cost, transitions.terminated)
    assert transitions.cost.sum() == 2 and set(np.unique(transitions.cost)) == {0.0, 1.0}
