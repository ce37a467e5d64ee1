"""Export (guidedrl.export, guidedrl.export_onnx) checked against the real runtimes: the ONNX file
in onnxruntime and the .npz in guidedrl.deploy act as ``run.act`` does on 1,000 states an
evaluation visited (max |difference| <= 1e-5 in the env's units), for each backbone and for SAG,
PAG and the learned confidences; deploy imports without JAX; bad inputs are refused in one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import guidedrl
from guidedrl import deploy, guides
from guidedrl.cli import main
from guidedrl.errors import ConfigError
from guidedrl.guides.pendulum import pendulum_lqr
from tests.conftest import SMALL

ort = pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5


class Spinning(gym.Wrapper):
    """Pendulum-v1 where spinning faster than 6 rad/s is a catastrophe (for the risk confidence)."""

    def __init__(self):
        super().__init__(gym.make("Pendulum-v1"))

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        catastrophe = bool(abs(obs[2]) > 6.0)
        return obs, reward, terminated or catastrophe, truncated, {**info, "catastrophe": catastrophe}


CASES = {
    "sac": dict(algo="sac", guidance="none"),
    "td3": dict(algo="td3", guidance="none"),
    "awac": dict(algo="awac", guidance="none"),
    "sag": dict(algo="sac", guidance="sag", guide="lqr"),
    "pag": dict(algo="sac", guidance="pag", guide="lqr", phi=0.5),
    "td3-pag-q-gap": dict(algo="td3", guidance="pag", guide="lqr", confidence="q-gap"),
    "sag-risk": dict(algo="sac", guidance="sag", confidence="risk", risk_spread=1.0),
    "residual": dict(algo="sac", guidance="residual", guide="lqr"),
}


_TRAINED = {}


def train_case(name, folder):
    """The run of ``CASES[name]`` (trained once per test session) and its directory."""
    if name not in _TRAINED:
        settings = dict(CASES[name])
        out = folder / name
        kwargs = dict(steps=600, seed=1, out=str(out), **{**SMALL, "eval_every": 600, "eval_episodes": 1})
        if name == "sag-risk":
            lqr = pendulum_lqr()
            guide = guides.scripted(lambda obs: lqr.policy(obs), confidence=lambda obs: float(abs(obs[2]) > 3.0),
                                    name="brake")
            run = guidedrl.train(Spinning(), eval_env=Spinning(), guide=guide, **kwargs, **settings)
        else:
            run = guidedrl.train("Pendulum-v1", **kwargs, **settings)
        _TRAINED[name] = (name, run, out)
    return _TRAINED[name]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("export")


@pytest.fixture(params=sorted(CASES))
def trained(request, folder):
    return train_case(request.param, folder)


@pytest.fixture
def pag(folder):
    return train_case("pag", folder)


@pytest.fixture
def sag(folder):
    return train_case("sag", folder)


def visited_states(run, count=1000):
    """States an evaluation of the deployed policy visits (episodes of Pendulum from seeds 0, 1, ...)."""
    env, states, episode = gym.make("Pendulum-v1"), [], 0
    while len(states) < count:
        obs, _ = env.reset(seed=episode)
        done = False
        while not done and len(states) < count:
            states.append(np.asarray(obs, np.float32))
            obs, _, terminated, truncated, _ = env.step(run.act(obs))
            done = terminated or truncated
        episode += 1
    return np.stack(states)


def test_exported_policies_act_as_run_act_in_both_runtimes(trained, tmp_path):
    name, run, out = trained
    states = visited_states(run)
    expected = np.stack([run.act(s) for s in states])
    expected_free = np.stack([run.act(s, guide_free=True) for s in states])
    npz, onnx_file = run.export(tmp_path / "p.npz", "numpy"), run.export(tmp_path / "p.onnx", "onnx")
    exported = deploy.load(str(npz))
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if run.guide is None:
        assert names == ["obs"]
        numpy_actions = exported.act(states)
        onnx_actions = session.run(None, {"obs": states})[0]
    else:
        guided = deploy.GuidedPolicy(exported, run.guide)
        numpy_actions = guided.act(states)
        guide_action, confidence = guided.guide_fields(states)
        onnx_actions, from_guide = session.run(None, {"obs": states, "guide_action": guide_action,
                                                      "confidence": confidence})
        np.testing.assert_array_equal(from_guide, guided.last_from_guide)
        if name in ("sag", "pag"):
            assert 0 < np.mean(from_guide) < 1, "the test states should cross the guide's region"
        # one observation at a time, as a control loop calls it
        np.testing.assert_allclose(guided.act(states[0]), expected[0], atol=TOLERANCE, rtol=0)
    for got in (numpy_actions, onnx_actions):
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected)) <= TOLERANCE, (name, float(np.max(np.abs(got - expected))))
    # the actor alone: load(...).act and a --guide-free export
    free = run.export(tmp_path / "free.onnx", "onnx", guide_free=True)
    free_session = ort.InferenceSession(str(free), providers=["CPUExecutionProvider"])
    assert [i.name for i in free_session.get_inputs()] == ["obs"]
    for got in (exported.act(states), free_session.run(None, {"obs": states})[0]):
        assert np.max(np.abs(got - expected_free)) <= TOLERANCE


def test_the_cli_exports_and_refuses_an_existing_path(pag, tmp_path, capsys):
    name, run, out = pag
    assert main(["export", str(out), "--format", "numpy"]) == 0
    assert (out / "policy.npz").exists() and "wrote" in capsys.readouterr().out
    assert main(["export", str(out), "--format", "numpy"]) == 2
    err = capsys.readouterr().err
    assert "exists; choose another --out or pass --force" in err and "\n" not in err.strip()
    assert main(["export", str(out), "--format", "numpy", "--force"]) == 0
    assert main(["export", str(out / "checkpoint"), "--out", str(tmp_path / "x.onnx")]) == 0


def test_refusals_name_what_was_wrong(sag, tmp_path):
    name, run, out = sag
    path = run.export(tmp_path / "p.npz", "numpy")
    with pytest.raises(ConfigError, match="exists"):
        run.export(path, "numpy")
    with pytest.raises(ConfigError, match="unknown export format 'tflite'"):
        run.export(tmp_path / "q", "tflite")
    exported = deploy.load(str(path))
    with pytest.raises(deploy.DeployError, match=r"observation of shape \(4,\), expected \(3,\) or \(N, 3\)"):
        exported.act(np.zeros(4))
    with pytest.raises(deploy.DeployError, match=r"guide returned an action of shape \(2,\), expected \(1,\)"):
        deploy.GuidedPolicy(exported, lambda obs: (np.zeros(2), 1.0)).act(np.zeros(3))
    # a file of a format version this deploy does not know
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    manifest = json.loads(str(arrays["__manifest__"]))
    arrays["__manifest__"] = np.asarray(json.dumps({**manifest, "format_version": 99}))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(deploy.DeployError, match="version 99; this guidedrl.deploy reads 'guidedrl-policy' version 1"):
        deploy.load(str(tmp_path / "future.npz"))
    # a run of a checkpoint format the exporter does not know
    meta_path = out / "checkpoint" / "meta.json"
    saved = meta_path.read_text()
    try:
        meta_path.write_text(json.dumps({**json.loads(saved), "format_version": 7}))
        assert main(["export", str(out), "--out", str(tmp_path / "y.npz"), "--format", "numpy"]) == 2
    finally:
        meta_path.write_text(saved)


def test_deploy_acts_where_jax_cannot_be_imported(pag, tmp_path):
    name, run, out = pag
    path = run.export(tmp_path / "p.npz", "numpy")
    obs = [0.3, 0.9, -1.0]
    code = (
        "import sys\n"
        "for name in ('jax', 'jaxlib', 'flax', 'optax', 'gymnasium', 'scipy', 'tyro', 'rich'):\n"
        "    sys.modules[name] = None  # import fails, as where it is not installed\n"
        "from guidedrl import deploy\n"
        f"policy = deploy.load({str(path)!r})\n"
        "guided = deploy.GuidedPolicy(policy, lambda obs: ([0.5], 1.0 if obs[2] < 0 else 0.0))\n"
        f"print(guided.act({obs}).tolist(), guided.last_from_guide)\n"
        "print(sorted(m for m in sys.modules if m.startswith('guidedrl')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    action_line, modules_line = result.stdout.strip().splitlines()
    assert modules_line == "['guidedrl', 'guidedrl.deploy', 'guidedrl.version']"
    # the same as the run with a guide giving the same outputs
    reference = deploy.GuidedPolicy(deploy.load(str(path)), lambda o: ([0.5], 1.0 if o[2] < 0 else 0.0))
    assert action_line == f"{reference.act(obs).tolist()} {reference.last_from_guide}"


@pytest.mark.parametrize("name", ["sac", "pag"])  # a plain and a guided policy
def test_the_docs_onnx_example_runs(name, folder, tmp_path):
    name, run, out = train_case(name, folder)
    example = ROOT / "docs" / "examples" / "deploy_onnx.py"
    assert example.read_text() in (ROOT / "docs" / "DEPLOY.md").read_text()  # the page shows the file as it is
    path = run.export(tmp_path / "p.onnx", "onnx")
    result = subprocess.run([sys.executable, str(example), str(path)], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("action [")
