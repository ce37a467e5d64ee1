"""A run survives its own failures: the guide, the env or the update failing mid-run is saved at
the step before, named in one line, and resumed exactly once fixed; a full disk is named and
leaves the last good checkpoint; one process owns a run directory."""

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import guidedrl
from guidedrl import guides
from guidedrl.errors import RunLockedError, TrainingFailed, WriteError
from guidedrl import checkpoint
from guidedrl.training import loop
from guidedrl.training.lock import LOCK, RunLock, owner_of
from guidedrl.training.logging import TIMING_COLUMNS, read_metrics
from tests.conftest import SMALL

SETTINGS = dict(algo="sac", guidance="sag", steps=1000, seed=4, **SMALL)  # evaluations every 400 steps


def pd_policy(obs):
    return np.clip(-10.0 * np.arctan2(obs[1], obs[0]) - 2.0 * obs[2], -2.0, 2.0) / 2.0


def pd_confidence(obs):
    return float(abs(np.arctan2(obs[1], obs[0])) < 0.3)


class Flaky:
    """A guide policy that fails once, on its ``at``-th call: raises, or returns NaN."""

    def __init__(self, at, mode):
        self.at, self.mode, self.calls = at, mode, 0

    def __call__(self, obs):
        self.calls += 1
        if self.calls == self.at:
            if self.mode == "raise":
                raise TimeoutError("sensor read timed out")
            return np.array([np.nan])
        return pd_policy(obs)


def pd_guide(policy=pd_policy):
    return guides.scripted(policy, confidence=pd_confidence, name="pd")


class FlakyEnv(gym.Wrapper):
    """Pendulum that fails once, on its ``at``-th step: raises or returns a NaN observation; or,
    from its ``at``-th step on, rewards so large that the critic's update overflows."""

    def __init__(self, at, mode):
        super().__init__(gym.make("Pendulum-v1"))
        self.at, self.mode, self.steps = at, mode, 0

    def step(self, action):
        self.steps += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.steps == self.at:
            if self.mode == "raise":
                raise ConnectionError("plant offline")
            if self.mode == "nan":
                obs = np.full_like(obs, np.nan)
        if self.mode == "huge" and self.steps >= self.at:
            reward = 3e38
        return obs, reward, terminated, truncated, info


def rows(out):
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in read_metrics(out)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    run = guidedrl.train("Pendulum-v1", guide=pd_guide(), out=str(out), **SETTINGS)
    return out, run


def _fails(out, **kwargs) -> TrainingFailed:
    with pytest.raises(TrainingFailed) as failed:
        guidedrl.train(out=str(out), **{**SETTINGS, **kwargs})
    return failed.value


def _check_saved_before(failure, out, failing_step):
    message = str(failure)
    assert "\n" not in message and "Traceback" not in message
    assert failure.saved and failure.step == failing_step - 1
    assert checkpoint.read_meta(out)["step"] == failing_step - 1
    assert not list(out.glob("checkpoint.tmp-*"))
    assert f"at step {failing_step}" in message
    assert f"the run is saved at step {failing_step - 1}" in message


@pytest.mark.parametrize("mode, cause", [("raise", "TimeoutError: sensor read timed out"),
                                         ("nan", "non-finite action")])
def test_a_failing_guide_is_saved_at_the_step_before_and_resumes_exactly(tmp_path, reference, mode, cause):
    out = tmp_path / "run"
    env = FlakyEnv(at=-1, mode="none")  # counts the steps
    failure = _fails(out, env=env, eval_env="Pendulum-v1", guide=pd_guide(Flaky(at=600, mode=mode)))
    # the guide is asked about the state a step reached: that step is the failing one
    _check_saved_before(failure, out, env.steps)
    assert failure.source == "the guide 'pd'" and cause in str(failure)
    assert f"resume={str(out)!r}, guide=" in str(failure)  # a guide from Python resumes from Python
    assert 0 < env.steps < SETTINGS["steps"]
    resumed = guidedrl.train(resume=str(out), guide=pd_guide(), **SETTINGS)
    assert rows(out) == rows(reference[0])
    obs = np.random.default_rng(0).normal(size=(4, 3))
    for o in obs:
        np.testing.assert_array_equal(resumed.act(o), reference[1].act(o))


@pytest.mark.parametrize("mode, cause", [("raise", "ConnectionError: plant offline"),
                                         ("nan", "non-finite observation")])
def test_a_failing_env_is_saved_at_the_step_before_and_resumes_exactly(tmp_path, reference, mode, cause):
    out = tmp_path / "run"
    failure = _fails(out, env=FlakyEnv(at=650, mode=mode), eval_env="Pendulum-v1", guide=pd_guide())
    _check_saved_before(failure, out, 650)
    assert failure.source == "the env 'Pendulum-v1'" and cause in str(failure)
    meta = checkpoint.read_meta(out)
    assert meta["progress"]["episode_length"] == 649 % 200  # mid-episode, replayed on resume
    guidedrl.train(resume=str(out), guide=pd_guide(), **SETTINGS)
    assert rows(out) == rows(reference[0])


def test_an_update_that_overflows_is_taken_back(tmp_path):
    out = tmp_path / "run"
    failure = _fails(out, env=FlakyEnv(at=500, mode="huge"), eval_env="Pendulum-v1", guide=pd_guide())
    assert failure.source == "the update" and "non-finite value" in str(failure)
    failing_step = failure.step + 1  # the first update whose minibatch held a huge reward
    assert 500 <= failing_step < SETTINGS["steps"]
    _check_saved_before(failure, out, failing_step)
    # the checkpoint holds the state before the failing step: finite parameters, one gradient
    # step per training step so far, and the failing step's transition taken back out of the buffer
    run = guidedrl.load(out, guide=pd_guide())
    leaves = [np.asarray(x) for x in __import__("jax").tree_util.tree_leaves(run.state)]
    assert all(np.all(np.isfinite(x)) for x in leaves if x.dtype.kind == "f")
    assert int(run.state.gradient_steps) == failure.step - SMALL["learning_starts"] + 1
    replay = checkpoint.load_replay_state(checkpoint.read_meta(out))
    assert replay["size"] == failure.step


def test_a_guide_failing_during_an_evaluation_resumes_with_that_evaluation(tmp_path, reference):
    out = tmp_path / "run"
    # 1 call at the first state, 400 in the step-0 evaluation (the guide is asked in the deployed
    # policy's 2 episodes of 200 steps, not the actor alone's), 400 training steps (+2 resets):
    # the 1000th call is in the evaluation at step 400
    failure = _fails(out, env="Pendulum-v1", guide=pd_guide(Flaky(at=1000, mode="raise")))
    assert failure.step == 400 and "while evaluating at step 400" in str(failure)
    assert checkpoint.read_meta(out)["progress"]["evaluation_pending"]
    assert [int(r["step"]) for r in read_metrics(out)] == [0]
    guidedrl.train(resume=str(out), guide=pd_guide(), **SETTINGS)
    assert rows(out) == rows(reference[0])


def test_without_a_run_directory_the_failure_says_nothing_was_saved():
    with pytest.raises(TrainingFailed, match="nothing was saved"):
        guidedrl.train(env=FlakyEnv(at=30, mode="raise"), eval_env="Pendulum-v1", guide=pd_guide(),
                       out=None, **{**SETTINGS, "steps": 100})


FLAKY_MODULE = textwrap.dedent('''
    import numpy as np
    from guidedrl import guides

    def make():
        calls = [0]
        def policy(obs):
            calls[0] += 1
            if calls[0] == 600:
                raise TimeoutError("sensor read timed out")
            return np.clip(-10.0 * np.arctan2(obs[1], obs[0]) - 2.0 * obs[2], -2.0, 2.0) / 2.0
        return guides.scripted(policy, confidence=lambda obs: float(abs(np.arctan2(obs[1], obs[0])) < 0.3),
                               name="flaky-pd")
''')


def _cli(args, tmp_path, **env):
    environ = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **env}
    return subprocess.run([sys.executable, "-m", "guidedrl.cli", *args], capture_output=True, text=True,
                          env=environ, timeout=600)


CLI_SETTINGS = ["--env", "Pendulum-v1", "--guidance", "sag", "--steps", "600", "--seed", "4",
                "--hidden-sizes", "32", "32", "--batch-size", "64", "--learning-starts", "200",
                "--eval-every", "400", "--eval-episodes", "2", "--checkpoint-every", "400", "--no-progress"]


def test_cli_names_the_failure_in_one_line_and_debug_shows_the_traceback(tmp_path):
    (tmp_path / "flaky_guide.py").write_text(FLAKY_MODULE)
    out = tmp_path / "run"
    done = _cli(["train", "--out", str(out), "--guide", "flaky_guide:make", *CLI_SETTINGS], tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("guidedrl: error: the guide 'flaky-pd' failed at step ")
    assert "TimeoutError: sensor read timed out" in lines[0]
    assert f"resume with: guidedrl train --resume {out} --guide flaky_guide:make" in lines[0]
    step = checkpoint.read_meta(out)["step"]
    assert f"failed at step {step + 1}:" in lines[0]
    again = _cli(["train", "--out", str(tmp_path / "again"), "--guide", "flaky_guide:make", *CLI_SETTINGS],
                 tmp_path, GUIDEDRL_DEBUG="1")
    assert again.returncode == 1 and "Traceback" in again.stderr and "sensor read timed out" in again.stderr


# -- a full disk ---------------------------------------------------------------------------------


def test_a_full_disk_is_named_and_the_last_checkpoint_stays_good(tmp_path, monkeypatch):
    out = tmp_path / "run"
    real_write = checkpoint.write_file
    saves = []

    def full_at_second_save(path, data):
        if path.name == checkpoint.AGENT:
            saves.append(path)
        if len(saves) >= 2 and path.name == checkpoint.REPLAY:
            with open(path, "wb") as handle:  # half the file, then the disk is full
                handle.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))  # as write_file names it
        real_write(path, data)

    monkeypatch.setattr(checkpoint, "write_file", full_at_second_save)
    with pytest.raises(WriteError) as failed:
        guidedrl.train("Pendulum-v1", out=str(out), **{**SETTINGS, "guidance": "none", "steps": 1200})
    message = str(failed.value)
    assert "\n" not in message and "No space left on device" in message
    assert f"cannot write {out / 'checkpoint.tmp-'}" in message and "replay.msgpack at step 800" in message
    assert "the last good checkpoint (step 400)" in message
    assert not list(out.glob("checkpoint.tmp-*")) and not (out / "checkpoint.old").exists()
    monkeypatch.undo()
    assert checkpoint.read_meta(out)["step"] == 400
    guidedrl.load(out)  # readable
    guidedrl.train(resume=str(out), progress=False)  # and resumable once there is room
    assert int(read_metrics(out)[-1]["step"]) == 1200


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def test_a_really_full_disk_from_the_command_line(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "600k"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        out = disk / "run"
        done = _cli(["train", "--out", str(out), *CLI_SETTINGS, "--guidance", "none", "--steps", "4000",
                     "--checkpoint-every", "200", "--eval-every", "2000"], tmp_path)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0], done.stderr
        assert lines[0].startswith(f"guidedrl: error: cannot write {out}")
        assert not list(out.glob("checkpoint.tmp-*"))
        meta = checkpoint.read_meta(out)  # the last good checkpoint is intact and readable
        assert 0 < meta["step"] < 4000 and f"(step {meta['step']})" in lines[0]
        guidedrl.load(out)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# -- one owner per run directory -----------------------------------------------------------------


def test_a_second_run_on_a_held_directory_is_refused_with_the_owners_pid(tmp_path):
    out = tmp_path / "run"
    with RunLock(out):
        with pytest.raises(RunLockedError, match=f"in use by process {os.getpid()}"):
            guidedrl.train("Pendulum-v1", out=str(out), **{**SETTINGS, "guidance": "none", "steps": 50})
        assert [p.name for p in out.iterdir()] == [LOCK]  # nothing written
    run = guidedrl.train("Pendulum-v1", out=str(out), **{**SETTINGS, "guidance": "none", "steps": 50})
    assert (out / "metrics.csv").exists() and run.directory == out.resolve()
    with RunLock(out):  # --resume takes it the same way
        with pytest.raises(RunLockedError, match="in use by process"):
            guidedrl.train(resume=str(out), progress=False)


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from guidedrl.training.lock import RunLock
        RunLock({str(out)!r}).acquire()
        print("held", flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert owner_of(out) == holder.pid
    with pytest.raises(RunLockedError, match=f"in use by process {holder.pid}"):
        guidedrl.train("Pendulum-v1", out=str(out), **{**SETTINGS, "guidance": "none", "steps": 50})
    holder.kill()
    holder.wait()
    guidedrl.train("Pendulum-v1", out=str(out), **{**SETTINGS, "guidance": "none", "steps": 50})
    assert (out / "metrics.csv").exists()


def test_two_processes_on_one_directory_one_is_refused(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--out", str(out), *CLI_SETTINGS, "--guidance", "none", "--steps", "50000"]
    first = subprocess.Popen([sys.executable, "-m", "guidedrl.cli", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = __import__("time").time() + 120
        while owner_of(out) != first.pid and __import__("time").time() < deadline:
            __import__("time").sleep(0.05)
        second = _cli(args, tmp_path)
        assert second.returncode == 2
        assert f"is in use by process {first.pid}" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    finally:
        first.kill()
        first.wait()
