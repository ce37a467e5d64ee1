"""Bad input gets a clear error before anything is written."""

import json
from pathlib import Path

import pytest

import guidedrl
from guidedrl.config import Config
from guidedrl.errors import CheckpointError, ConfigError, EnvError
from guidedrl.training import loop
from tests.conftest import SMALL


def test_unknown_env_id(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(EnvError, match="unknown environment id 'NoSuchEnv-v0'"):
        guidedrl.train("NoSuchEnv-v0", steps=10, out=str(out))
    assert not out.exists()


def test_non_box_action_space_is_named(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(EnvError, match=r"CartPole-v1.*Discrete\(2\).*Box"):
        guidedrl.train("CartPole-v1", steps=10, out=str(out))
    assert not out.exists()


@pytest.mark.parametrize("steps", [0, -5])
def test_steps_must_be_positive(steps):
    with pytest.raises(ConfigError, match=f"steps must be a positive integer, got {steps}"):
        guidedrl.train("Pendulum-v1", steps=steps)


def test_unknown_option_and_unknown_algo():
    with pytest.raises(ConfigError, match="unknown option.*learning_rate"):
        guidedrl.train("Pendulum-v1", steps=10, learning_rate=1e-3)
    with pytest.raises(ConfigError, match="unknown algo 'ppo'; expected one of sac, td3, awac"):
        guidedrl.train("Pendulum-v1", algo="ppo", steps=10)


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot be created.*is a file"):
        guidedrl.train("Pendulum-v1", steps=10, out=str(blocker / "run"))
    with pytest.raises(ConfigError, match="is a file"):
        guidedrl.train("Pendulum-v1", steps=10, out=str(blocker))


def test_existing_run_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.csv").write_text("step\n")
    with pytest.raises(ConfigError, match="already holds a run.*--resume"):
        guidedrl.train("Pendulum-v1", steps=10, out=str(out))
    assert (out / "metrics.csv").read_text() == "step\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "run"
    loop.train(Config(env="Pendulum-v1", guidance="none", steps=300, out=str(out), **SMALL))
    return out


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src / "checkpoint", dst)
    return dst


def test_corrupt_agent_file(trained, tmp_path):
    ckpt = _copy(trained, tmp_path / "ckpt")
    (ckpt / "agent.msgpack").write_bytes(b"\x93 definitely not msgpack of an agent")
    with pytest.raises(CheckpointError, match="corrupt checkpoint.*agent.msgpack"):
        guidedrl.load(ckpt)


def test_truncated_agent_file(trained, tmp_path):
    ckpt = _copy(trained, tmp_path / "ckpt")
    data = (ckpt / "agent.msgpack").read_bytes()
    (ckpt / "agent.msgpack").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt checkpoint"):
        guidedrl.load(ckpt)


def test_corrupt_meta(trained, tmp_path):
    ckpt = _copy(trained, tmp_path / "ckpt")
    (ckpt / "meta.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match="corrupt checkpoint.*meta.json"):
        guidedrl.load(ckpt)


def test_other_format_version(trained, tmp_path):
    ckpt = _copy(trained, tmp_path / "ckpt")
    meta = json.loads((ckpt / "meta.json").read_text())
    meta["format_version"] = 999
    (ckpt / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format version 999; this guidedrl reads format version 1"):
        guidedrl.load(ckpt)
    with pytest.raises(CheckpointError, match="format version 999"):
        loop.train(Config(resume=str(ckpt)))


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        guidedrl.load(tmp_path)


def test_policy_checkpoint_cannot_be_resumed(trained, tmp_path):
    run = guidedrl.load(trained)
    run.save(tmp_path / "policy")
    with pytest.raises(CheckpointError, match="policy checkpoint"):
        loop.train(Config(resume=str(tmp_path / "policy")))


def test_corrupt_replay_file_refuses_resume(trained, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    (run_dir / "checkpoint" / "replay.msgpack").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="replay.msgpack"):
        loop.train(Config(resume=str(run_dir)))


@pytest.mark.parametrize("options, message", [
    (["--buffer-size", "10", "--batch-size", "256"], "buffer_size (10) is smaller than batch_size (256)"),
    (["--actor-lr", "0"], "actor_lr must be > 0"),
    (["--policy-noise", "-0.1"], "policy_noise must be >= 0"),
])
def test_cross_field_and_range_checks_refuse_before_anything_is_written(tmp_path, capsys, options, message):
    from guidedrl.cli import main

    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--no-progress", *options]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


class _NeedsAMissingModule:
    def __init__(self):
        import guidedrl_no_such_dependency  # noqa: F401


def test_an_env_that_cannot_be_built_is_one_line_naming_the_id_and_the_missing_module(tmp_path):
    import gymnasium as gym

    gym.register(id="NeedsAMissingModule-v0", entry_point=f"{__name__}:_NeedsAMissingModule")
    out = tmp_path / "run"
    with pytest.raises(EnvError) as error:
        guidedrl.train("NeedsAMissingModule-v0", steps=10, out=str(out))
    message = str(error.value)
    assert message.startswith("cannot build environment 'NeedsAMissingModule-v0': ModuleNotFoundError")
    assert "'guidedrl_no_such_dependency'" in message and "\n" not in message
    assert not out.exists()


def test_a_gymnasium_mujoco_task_builds_out_of_the_box():
    from guidedrl.envs import make_env

    env = make_env("HalfCheetah-v5")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (17,) and env.action_space.shape == (6,)
