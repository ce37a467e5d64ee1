"""The offline phase: a dataset kept beside the replay buffer, gradient steps on it alone, then
online fine-tuning; phase columns, exact resume (a kill during the offline phase), same seed
same numbers, the dataset never evicted, the guide asked about every dataset state."""

import os
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest

import guidedrl
import guidedrl.cli
from guidedrl import checkpoint
from guidedrl.errors import CheckpointError, ConfigError
from guidedrl.training import jitted
from guidedrl.training import offline as offline_phase
from guidedrl.checkpoint import load_replay_state
from guidedrl.training.logging import TIMING_COLUMNS, read_metrics

DATASET = "test/pendulum-noisy-v0"
SMALL = dict(hidden_sizes=(16, 16), batch_size=64, eval_episodes=1, progress=False)


def _controller(obs):
    """A rough energy-free swing-up-less PD law on Pendulum (normalised torque)."""
    theta = np.arctan2(obs[1], obs[0])
    return np.clip(-(4.0 * theta + 0.8 * obs[2]) / 2.0, -1.0, 1.0)


def write_pendulum_dataset(dataset_id=DATASET, episodes=6, length=200, seed=0):
    """A Minari dataset written with Minari's own buffers API (not guidedrl's writer): noisy PD
    rollouts on Pendulum-v1, actions in the env's units (torque in [-2, 2])."""
    import minari
    from minari.data_collector import EpisodeBuffer

    env = gym.make("Pendulum-v1", max_episode_steps=length)
    rng = np.random.default_rng(seed)
    buffers = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed * 100 + episode)
        observations, actions, rewards, terminations, truncations = [obs], [], [], [], []
        done = False
        while not done:
            action = np.clip(_controller(obs) + 0.3 * rng.normal(), -1.0, 1.0)
            obs, reward, terminated, truncated, _ = env.step(np.array([2.0 * action], np.float32))
            observations.append(obs)
            actions.append(np.array([2.0 * action], np.float32))
            rewards.append(reward)
            terminations.append(terminated)
            truncations.append(truncated)
            done = terminated or truncated
        buffers.append(EpisodeBuffer(observations=np.array(observations), actions=np.array(actions),
                                     rewards=rewards, terminations=terminations, truncations=truncations))
    minari.create_dataset_from_buffers(dataset_id, buffers, env=env, algorithm_name="noisy PD")
    return buffers


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return write_pendulum_dataset()


def _reproducible(out):
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in read_metrics(out)]


def test_offline_then_online_rows_and_the_dataset_is_never_evicted(tmp_path, dataset):
    out = tmp_path / "awac"
    run = guidedrl.train("Pendulum-v1", algo="awac", dataset=DATASET, offline_steps=600, offline_eval_every=200,
                         steps=400, eval_every=200, checkpoint_every=200, buffer_size=100, out=str(out), **SMALL)
    rows = read_metrics(out)
    assert [(r["phase"], int(r["offline_step"]), int(r["step"])) for r in rows] == [
        ("offline", 0, 0), ("offline", 200, 0), ("offline", 400, 0), ("offline", 600, 0),
        ("online", 600, 200), ("online", 600, 400)]
    # one gradient step per offline step, then one per environment step (no warm-up for awac)
    assert [int(r["gradient_steps"]) for r in rows] == [0, 200, 400, 600, 800, 1000]
    assert int(run.state.gradient_steps) == 1000
    # 400 online transitions went through a 100-row ring; the dataset's 1200 rows are intact
    replay = load_replay_state(checkpoint.read_meta(out))
    assert int(replay["size"]) == 100
    stored = np.asarray(replay["dataset"]["obs"])
    expected = np.concatenate([np.asarray(b.observations[:-1], np.float32) for b in dataset])
    np.testing.assert_array_equal(stored, expected)
    actions = np.concatenate([np.asarray(b.actions, np.float32) for b in dataset]) / 2.0  # normalised
    np.testing.assert_allclose(np.asarray(replay["dataset"]["action"]), actions, rtol=1e-6)


def test_same_seed_same_numbers_and_steps_zero_is_offline_only(tmp_path, dataset):
    settings = dict(algo="awac", dataset=DATASET, offline_steps=400, offline_eval_every=200, steps=0, seed=3, **SMALL)
    first = guidedrl.train("Pendulum-v1", out=str(tmp_path / "a"), **settings)
    guidedrl.train("Pendulum-v1", out=str(tmp_path / "b"), **settings)
    assert _reproducible(tmp_path / "a") == _reproducible(tmp_path / "b")
    assert [r["phase"] for r in first.history] == ["offline"] * 3
    assert first.history[-1]["train_episodes"] == 0 and int(first.state.gradient_steps) == 400
    # a different seed draws other minibatches
    guidedrl.train("Pendulum-v1", out=str(tmp_path / "c"), **{**settings, "seed": 4})
    assert _reproducible(tmp_path / "c") != _reproducible(tmp_path / "a")


def test_sac_with_the_dataset_preloaded_learns_from_the_first_step(tmp_path, dataset):
    run = guidedrl.train("Pendulum-v1", algo="sac", guidance="none", dataset=DATASET, steps=300, eval_every=300,
                         **SMALL)
    assert [r["phase"] for r in run.history] == ["online", "online"]
    assert int(run.state.gradient_steps) == 300  # no warm-up: the data are there


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_sac_and_td3_take_offline_steps_too(tmp_path, dataset, algo):
    run = guidedrl.train("Pendulum-v1", algo=algo, guidance="none", dataset=DATASET, offline_steps=200,
                         offline_eval_every=100, steps=100, eval_every=100, **SMALL)
    assert [(r["phase"], r["offline_step"], r["step"]) for r in run.history] == [
        ("offline", 0, 0), ("offline", 100, 0), ("offline", 200, 0), ("online", 200, 100)]
    assert int(run.state.gradient_steps) == 300
    assert all(np.isfinite(r["critic_loss"]) for r in run.history[1:])


def test_the_guide_is_asked_about_every_dataset_state(tmp_path, dataset):
    out = tmp_path / "sag"
    guide = guidedrl.Guide(policy=lambda obs: np.array([0.25 * obs[2]]), confidence=lambda obs: float(obs[0] > 0),
                           name="test-guide")
    guidedrl.train("Pendulum-v1", algo="awac", guidance="sag", guide=guide, dataset=DATASET, offline_steps=100,
                   steps=0, out=str(out), **SMALL)
    stored = load_replay_state(checkpoint.read_meta(out))["dataset"]
    obs, next_obs = np.asarray(stored["obs"]), np.asarray(stored["next_obs"])
    np.testing.assert_allclose(np.asarray(stored["guide_action"])[:, 0], np.clip(0.25 * obs[:, 2], -1, 1), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(stored["confidence"]), (obs[:, 0] > 0).astype(np.float32))
    np.testing.assert_array_equal(np.asarray(stored["next_confidence"]), (next_obs[:, 0] > 0).astype(np.float32))


def test_offline_options_need_a_dataset():
    with pytest.raises(ConfigError, match="needs a dataset"):
        guidedrl.Config(algo="awac", offline_steps=10)
    with pytest.raises(ConfigError, match="steps 0 trains offline only"):
        guidedrl.Config(algo="awac", steps=0)
    with pytest.raises(ConfigError, match="offline_ratio must be in"):
        guidedrl.Config(dataset="a/b-v0", offline_ratio=1.5)


def test_no_retracing_of_the_offline_chunks(tmp_path, dataset):
    settings = dict(algo="awac", dataset=DATASET, offline_steps=400, offline_eval_every=200, offline_chunk=100,
                    steps=0, **SMALL)
    guidedrl.train("Pendulum-v1", **settings)
    size = jitted.offline_update._cache_size()
    guidedrl.train("Pendulum-v1", **{**settings, "seed": 5, "offline_steps": 600})
    assert jitted.offline_update._cache_size() == size


def test_resume_after_kill_during_the_offline_phase(tmp_path, dataset):
    settings = ["--env", "Pendulum-v1", "--algo", "awac", "--dataset", DATASET, "--offline-steps", "6000",
                "--offline-eval-every", "1000", "--offline-chunk", "100", "--steps", "200", "--eval-every", "100",
                "--checkpoint-every", "200", "--hidden-sizes", "16", "16", "--batch-size", "64",
                "--eval-episodes", "1", "--seed", "1", "--no-progress"]
    assert guidedrl.cli.main(["train", "--out", str(tmp_path / "ref"), *settings]) == 0
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "guidedrl.cli", "train", "--out", str(out), *settings],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))

    def saved_offline_step():
        try:
            return checkpoint.read_meta(out)["progress"]["offline_step"]
        except (CheckpointError, KeyError):
            return None

    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if (saved_offline_step() or 0) >= 1000:
            break
        time.sleep(0.02)
    process.kill()
    process.wait()
    saved = saved_offline_step()
    assert saved is not None and 1000 <= saved < 6000, f"killed at offline step {saved}: not inside the phase"
    assert guidedrl.cli.main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert _reproducible(out) == _reproducible(tmp_path / "ref")


def test_a_dataset_that_does_not_fit_is_refused_before_anything_is_written(tmp_path, dataset):
    from guidedrl.errors import DatasetError

    out = tmp_path / "refused"
    with pytest.raises(DatasetError, match="no dataset 'test/missing-v0'.*local datasets: test/pendulum-noisy-v0"):
        guidedrl.train("Pendulum-v1", algo="awac", dataset="test/missing-v0", offline_steps=10, out=str(out), **SMALL)
    with pytest.raises(DatasetError, match=r"episode 0: observations of shape \(3,\).*shape \(4,\)"):
        guidedrl.train("PointMass-v0", algo="awac", dataset=DATASET, offline_steps=10, out=str(out), **SMALL)
    assert not out.exists()


def test_the_offline_phase_draws_minibatches_of_the_batch_size(dataset, monkeypatch):
    seen = []
    real = offline_phase.offline_update

    def recording(*args):
        seen.append(args[-1])  # batch_size, the last argument
        return real(*args)

    monkeypatch.setattr(offline_phase, "offline_update", recording)
    guidedrl.train("Pendulum-v1", algo="awac", dataset=DATASET, offline_steps=100, steps=0, **SMALL)
    assert seen == [64]  # SMALL's batch_size, not AWAC's default 1024
