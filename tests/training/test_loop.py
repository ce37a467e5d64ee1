"""The training loop: determinism, checkpoints, resume, no retracing, learning, metrics."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import guidedrl
import guidedrl.cli
import jax
from guidedrl import agent
from guidedrl.config import Config
from guidedrl.errors import CheckpointError
from guidedrl import checkpoint
from guidedrl.training import loop
from guidedrl.training import jitted as phases
from guidedrl.training.logging import TIMING_COLUMNS, read_metrics
from tests.conftest import SMALL

REQUIRED = ["step", "eval_return", "eval_return_std", "train_episodes", "train_catastrophes",
            "steps_per_second", "wall_time", "eval_return_guide_free", "guide_usage"]


def reproducible(rows):
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


def test_metrics_csv_and_run_directory(small_config):
    run = loop.train(small_config)
    out = Path(small_config.out)
    rows = read_metrics(out)
    assert [int(r["step"]) for r in rows] == [0, 400, 800]
    for column in REQUIRED:
        assert column in rows[0]
    assert int(rows[-1]["train_episodes"]) == 4  # Pendulum episodes are 200 steps
    assert int(rows[-1]["gradient_steps"]) == 800 - 200 + 1
    assert json.loads((out / "config.json").read_text())["steps"] == 800
    assert any(p.name.startswith("events") for p in (out / "tb").iterdir())
    assert (out / "checkpoint" / "meta.json").exists()
    assert run.metrics == rows


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_same_seed_same_metrics(tmp_path, algo):
    runs = [
        loop.train(Config(env="Pendulum-v1", algo=algo, guidance="none", steps=600, seed=3, out=str(tmp_path / f"r{i}"), **SMALL))
        for i in range(2)
    ]
    a, b = (reproducible(read_metrics(tmp_path / f"r{i}")) for i in range(2))
    assert a == b
    other = loop.train(Config(env="Pendulum-v1", algo=algo, guidance="none", steps=600, seed=4, **SMALL))
    assert reproducible(other.history) != reproducible(runs[0].history)


def test_checkpoint_round_trip_gives_identical_actions(small_config, tmp_path):
    run = loop.train(small_config)
    obs = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    for path in (Path(small_config.out), run.save(tmp_path / "policy")):
        loaded = guidedrl.load(path)
        for o in obs:
            np.testing.assert_array_equal(loaded.act(o), run.act(o))
    # actions come back in the env's units: Pendulum's torque is in [-2, 2]
    for o in obs:
        np.testing.assert_allclose(run.act(o), 2.0 * run.act_normalized(o), rtol=1e-6)


def _final_rows(out):
    return reproducible(read_metrics(out))


class InterruptAtStep(gym.Wrapper):
    """Sends this process a SIGINT (a Ctrl-C) from inside its ``at``-th step."""

    def __init__(self, env, at):
        super().__init__(env)
        self.at, self.steps = at, 0

    def step(self, action):
        self.steps += 1
        if self.steps == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return self.env.step(action)


@pytest.mark.parametrize("cut_during_swap", [False, True])
def test_resume_after_sigint_matches_an_uninterrupted_run(tmp_path, cut_during_swap):
    settings = dict(steps=1000, seed=1, **SMALL)
    reference = guidedrl.train("Pendulum-v1", out=str(tmp_path / "ref"), **settings)
    out = tmp_path / "cut"
    with pytest.raises(guidedrl.TrainingInterrupted) as stopped:
        guidedrl.train(InterruptAtStep(gym.make("Pendulum-v1"), at=711), eval_env="Pendulum-v1",
                       out=str(out), **settings)
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    # the checkpoint is at the interrupted step, in the middle of an episode and of an interval
    assert meta["step"] == stopped.value.step == 711
    assert meta["progress"]["episode_length"] == 111 and meta["config"]["env"] == "Pendulum-v1"
    if cut_during_swap:
        # killed while writing the next checkpoint, after the last one was moved aside and
        # before the new one was renamed into place: only checkpoint.old and a partial tmp remain
        (out / "checkpoint").rename(out / "checkpoint.old")
        (out / "checkpoint.tmp-1").mkdir()
        (out / "checkpoint.tmp-1" / "agent.msgpack").write_bytes(b"partial")
    resumed = loop.train(Config(resume=str(out), progress=False))
    if cut_during_swap:
        assert (out / "checkpoint" / "meta.json").exists() and not (out / "checkpoint.old").exists()
    assert _final_rows(out) == _final_rows(tmp_path / "ref")
    for o in np.random.default_rng(1).normal(size=(5, 3)):
        np.testing.assert_array_equal(resumed.act(o), reference.act(o))


def test_resume_after_kill_loses_at_most_one_checkpoint_interval(tmp_path):
    settings = ["--steps", "1200", "--seed", "2", "--hidden-sizes", "32", "32", "--batch-size", "64",
                "--learning-starts", "200", "--eval-every", "300", "--eval-episodes", "2",
                "--checkpoint-every", "300", "--no-progress"]
    assert guidedrl.cli.main(["train", "--out", str(tmp_path / "ref"), *settings]) == 0
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "guidedrl.cli", "train", "--out", str(out), *settings],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    def saved_step():  # the checkpoint may be mid-swap when read: the previous one is then aside
        try:
            return checkpoint.read_meta(out)["step"]
        except CheckpointError:
            return None

    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if (saved_step() or 0) >= 600:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    step = saved_step()
    assert step is not None, "no checkpoint was written before the kill"
    assert step < 1200, "the run finished before it could be killed"
    assert guidedrl.cli.main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert _final_rows(out) == _final_rows(tmp_path / "ref")


def test_no_retracing_after_the_first_update(tmp_path):
    config = Config(env="Pendulum-v1", guidance="none", steps=700, seed=9, hidden_sizes=(16, 16), batch_size=32,
                    learning_starts=100, eval_every=350, eval_episodes=1, progress=False)
    loop.train(config)
    jitted = (phases.learn_and_behave, phases.behave, phases.init_agent)
    sizes = [f._cache_size() for f in jitted]
    # another seed, budget, evaluation schedule and output directory: loop-only settings, so
    # every compiled program is reused, and nothing is compiled per step
    loop.train(config.replace(steps=900, seed=10, eval_every=300, out=str(tmp_path / "r")))
    assert [f._cache_size() for f in jitted] == sizes
    # an agent hyperparameter is part of the compiled program: exactly one new one each
    loop.train(config.replace(tau=0.01))
    assert [f._cache_size() for f in jitted] == [n + 1 for n in sizes]


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_each_backbone_learns_a_tiny_task_in_seconds(mirror_env, algo):
    run = guidedrl.train(mirror_env, algo=algo, steps=1500, seed=0, hidden_sizes=(32, 32),
                         batch_size=64, learning_starts=200, eval_every=1500, eval_episodes=50,
                         progress=False)
    final = run.history[-1]["eval_return"]
    start = run.history[0]["eval_return"]
    # a uniform-random policy scores about -0.67 here; the optimum is 0
    assert final > -0.05, (start, final)


def test_evaluate_reports_returns_and_catastrophes(small_config):
    run = loop.train(small_config)
    stats = guidedrl.evaluate(run, "Pendulum-v1", episodes=3)
    assert len(stats["returns"]) == 3 and stats["catastrophes"] == 0
    assert stats["mean_return"] == pytest.approx(np.mean(stats["returns"]))
    assert all(length == 200 for length in stats["lengths"])


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_pendulum_reaches_minus_250_in_20k_steps(algo):
    run = guidedrl.train("Pendulum-v1", algo=algo, steps=20_000, seed=0, progress=False)
    assert run.history[-1]["eval_return"] >= -250


def test_catastrophes_are_counted_from_info(tmp_path):
    from guidedrl import checkpoint
    from tests.conftest import WallEnv

    run = guidedrl.train(WallEnv(), steps=300, seed=0, hidden_sizes=(16, 16), batch_size=32,
                         learning_starts=300, eval_every=300, eval_episodes=50,
                         out=str(tmp_path / "run"), progress=False)
    # a catastrophe here is |a + s| > 1, i.e. a reward below -1: count them in the stored transitions
    replay = checkpoint.load_replay_state(checkpoint.read_meta(tmp_path / "run"))
    expected = int(np.sum(np.asarray(replay["data"]["reward"]) < -1.0))
    assert expected > 0
    assert run.history[-1]["train_catastrophes"] == expected
    stats = guidedrl.evaluate(run, WallEnv(), episodes=50)
    assert stats["catastrophes"] == sum(1 for r in stats["returns"] if r < -1.0)


def test_side_by_side_evaluation_equals_one_episode_after_another():
    """Episodes run in lockstep over copies of the env give the sequential results (up to float32
    rounding: XLA's batched matmul sums in another order), including catastrophes and the
    guide's share, with more episodes than copies."""
    from guidedrl.envs import default_guide, make_env
    from guidedrl.training.evaluate import evaluate_policy

    config = Config(env="SafeCartpole-v0", guidance="sag", guide="default", **{**SMALL, "steps": 10})
    state = agent.init(config.agent, jax.random.PRNGKey(3), 5, 1)
    guide = default_guide("SafeCartpole-v0")
    guide.bind(5, 1, "SafeCartpole-v0")
    one = evaluate_policy(config.agent, state, make_env("SafeCartpole-v0"), 5, 7, guide)
    three = evaluate_policy(config.agent, state, [make_env("SafeCartpole-v0") for _ in range(3)], 5, 7, guide)
    np.testing.assert_allclose(one["returns"], three["returns"], rtol=5e-3)  # chaos amplifies rounding
    assert one["lengths"] == three["lengths"]
    assert one["catastrophes"] == three["catastrophes"] and one["guide_usage"] == three["guide_usage"]
    assert len(set(one["returns"])) > 1  # the episodes differ, so a mix-up of seeds would show


def test_both_policies_side_by_side_equal_each_evaluated_alone():
    """The deployed policy's and the actor alone's episodes in one batched call per step give what
    each gives evaluated on its own (up to float32 rounding), and the guide is asked only in the
    deployed policy's episodes."""
    from guidedrl.envs import default_guide, make_env
    from guidedrl.training.evaluate import evaluate_policies, evaluate_policy

    config = Config(env="SafeCartpole-v0", guidance="sag", guide="default", **{**SMALL, "steps": 10})
    state = agent.init(config.agent, jax.random.PRNGKey(3), 5, 1)
    guide = default_guide("SafeCartpole-v0")
    guide.bind(5, 1, "SafeCartpole-v0")
    calls = []
    counted = guidedrl.Guide(lambda obs: (calls.append(1), guide(obs)[0])[1], lambda obs: guide(obs)[1], name="counted")
    counted.bind(5, 1)
    separate = [evaluate_policy(config.agent, state, [make_env("SafeCartpole-v0") for _ in range(3)], 3, 7, guide,
                                guide_free=free) for free in (False, True)]
    envs = [make_env("SafeCartpole-v0") for _ in range(6)]
    together = evaluate_policies(config.agent, state, envs, 3, 7, counted, modes=(False, True))
    for alone, both in zip(separate, together):
        np.testing.assert_allclose(alone["returns"], both["returns"], rtol=5e-3)
        assert alone["lengths"] == both["lengths"] and alone["catastrophes"] == both["catastrophes"]
        assert alone["guide_usage"] == both["guide_usage"]
    assert together[1]["guide_usage"] == 0 and together[0]["guide_usage"] > 0
    assert len(calls) == sum(together[0]["lengths"])  # one call per deployed step (first obs included, last not)
