"""Loading never runs code a file names: a module:attr guide or a module:EnvName env id in a run's
meta.json is refused, without importing it, unless trusted or named again."""

import json
import shutil
import sys
import uuid

import pytest

import guidedrl
from guidedrl import guides
from guidedrl.checkpoint import META
from guidedrl.cli import main
from guidedrl.envs import check_env_id
from guidedrl.errors import ConfigError
from guidedrl.names import resolve_guide
from tests.conftest import SMALL

PROBE = '''
import pathlib

import gymnasium as gym
import numpy as np

import guidedrl

pathlib.Path({marker!r}).write_text("imported")
if "TrustProbe-v0" not in gym.registry:
    gym.register("TrustProbe-v0", entry_point="gymnasium.envs.classic_control.pendulum:PendulumEnv",
                 max_episode_steps=200)


def make():
    return guidedrl.Guide(lambda obs: np.zeros(1), lambda obs: 0.0, name="probe")
'''


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny Pendulum run (no guidance), trained once for the module."""
    out = tmp_path_factory.mktemp("trained") / "run"
    guidedrl.train("Pendulum-v1", guidance="none", steps=300, out=str(out), **SMALL)
    return out


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A module, importable from tmp_path, that writes a marker file when imported: (name, marker)."""
    name = f"trust_probe_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / f"{name}.imported"
    (tmp_path / f"{name}.py").write_text(PROBE.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, marker
    sys.modules.pop(name, None)


def not_imported(probe) -> bool:
    name, marker = probe
    return not marker.exists() and name not in sys.modules


def crafted(trained, tmp_path, **config):
    """A copy of the trained run whose checkpoint's meta.json config has ``config`` changed."""
    run_dir = tmp_path / "crafted"
    shutil.copytree(trained, run_dir)
    meta_path = run_dir / "checkpoint" / META
    meta = json.loads(meta_path.read_text())
    meta["config"].update(config)
    meta_path.write_text(json.dumps(meta))
    return run_dir, meta_path


def refusal(source, spec):
    module, _, attr = spec.partition(":")
    return (f"{source} names the guide '{spec}', which would import the module '{module}' and call "
            f"{attr}; name it again (--guide {spec}, or guide= in Python) or pass --trust-code "
            "(trust_code=True) if you trust this file")


def test_load_refuses_a_guide_that_names_code_without_importing_it(trained, tmp_path, probe):
    spec = f"{probe[0]}:make"
    run_dir, meta_path = crafted(trained, tmp_path, guide=spec, trust_code=True)  # the file's trust is ignored
    with pytest.raises(ConfigError) as refused:
        guidedrl.load(run_dir)
    assert str(refused.value) == refusal(meta_path, spec)
    assert not_imported(probe)
    assert guidedrl.load(run_dir, trust_code=True).guide.name == "probe"
    assert probe[1].exists()


def test_load_uses_the_guide_named_again(trained, tmp_path, probe):
    run_dir, _ = crafted(trained, tmp_path, guide=f"{probe[0]}:make")
    assert guidedrl.load(run_dir, guide=f"{probe[0]}:make").guide.name == "probe"
    assert guidedrl.load(run_dir, guide="lqr").guide.name == "pendulum-lqr"


def test_cli_eval_refuses_then_trusts(trained, tmp_path, probe, capsys):
    spec = f"{probe[0]}:make"
    run_dir, meta_path = crafted(trained, tmp_path, guide=spec)
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err == f"guidedrl: error: {refusal(meta_path, spec)}\n"
    assert not_imported(probe)
    assert main(["eval", str(run_dir), "--episodes", "1", "--json", "--trust-code"]) == 0
    assert probe[1].exists()


def test_cli_eval_uses_the_guide_named_again(trained, tmp_path, probe, capsys):
    spec = f"{probe[0]}:make"
    run_dir, _ = crafted(trained, tmp_path, guide=spec)
    assert main(["eval", str(run_dir), "--episodes", "1", "--json", "--guide", spec]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 1
    assert probe[1].exists()


def test_an_env_id_that_names_a_module_is_refused_without_importing_it(trained, tmp_path, probe, capsys):
    env_id = f"{probe[0]}:TrustProbe-v0"
    run_dir, meta_path = crafted(trained, tmp_path, env=env_id)
    run = guidedrl.load(run_dir)  # loading makes no env
    message = (f"{meta_path} names the env '{env_id}', which would import the module '{probe[0]}' "
               "(Gymnasium imports the part before ':' to register the env); name the env again (env= in "
               "Python) or pass --trust-code (trust_code=True) if you trust this file")
    with pytest.raises(ConfigError) as refused:
        run.evaluate(episodes=1)
    assert str(refused.value) == message
    with pytest.raises(ConfigError):
        guidedrl.evaluate(run, episodes=1)
    assert guidedrl.evaluate(run, "Pendulum-v1", episodes=1)["episodes"] == 1  # named again
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "1"]) == 2
    assert capsys.readouterr().err == f"guidedrl: error: {message}\n"
    assert not_imported(probe)
    assert guidedrl.load(run_dir, trust_code=True).evaluate(episodes=1)["episodes"] == 1
    assert probe[1].exists()


def test_cli_eval_trusts_the_env_id_with_trust_code(trained, tmp_path, probe, capsys):
    run_dir, _ = crafted(trained, tmp_path, env=f"{probe[0]}:TrustProbe-v0")
    assert main(["eval", str(run_dir), "--episodes", "1", "--json", "--trust-code"]) == 0
    assert json.loads(capsys.readouterr().out)["env"] == f"{probe[0]}:TrustProbe-v0"
    assert probe[1].exists()


def test_a_policy_checkpoint_is_held_to_the_same_rule(trained, tmp_path, probe):
    spec = f"{probe[0]}:make"
    policy = tmp_path / "policy"
    guidedrl.load(trained).save(policy)
    meta = json.loads((policy / META).read_text())
    assert meta["config"]["trust_code"] is False  # a file never records a trust
    meta["config"].update(guide=spec, guidance="sag")
    (policy / META).write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="names the guide"):
        guidedrl.load(policy)
    # as a guide (--guide PATH) only its actor acts: the guide its file names is never resolved
    guide = resolve_guide(str(policy), "Pendulum-v1").bind(3, 1)
    assert guide([0.6, 0.8, -1.0])[0].shape == (1,)
    with pytest.raises(ConfigError, match=rf"guidance 'sag' and the guide '{spec}'; .*pass it as guide="):
        guides.from_checkpoint(policy, guide_free=False)
    assert not_imported(probe)
    assert guidedrl.load(policy, trust_code=True).guide.name == "probe"


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "guidedrl/SafeCartpole-v0", "NoSuchEnv-v0",
                                    "guidedrl:guidedrl/SafeCartpole-v0"])
def test_ids_that_import_nothing_pass(env_id):
    check_env_id(env_id, trust_code=False, source="meta.json")


def test_a_module_env_id_passes_only_when_trusted():
    with pytest.raises(ConfigError, match="meta.json names the env 'antigravity:Fly-v0', which would import "
                                          "the module 'antigravity'"):
        check_env_id("antigravity:Fly-v0", trust_code=False, source="meta.json")
    check_env_id("antigravity:Fly-v0", trust_code=True, source="meta.json")  # not imported either
    assert "antigravity" not in sys.modules
