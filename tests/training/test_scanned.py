"""The jitted path for JAX envs: K seeds in one program are K one-seed runs, a resumed run
continues exactly, a non-finite value is caught and saved as on the host path."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrl.config import Config
from guidedrl.errors import ConfigError, TrainingFailed
from guidedrl.jaxenvs import make_jax_env
from guidedrl.jaxenvs.base import Transition
from guidedrl.jaxenvs.gymnax_envs import GymnaxEnv
from guidedrl.training import scanned
from guidedrl.training.loop import train
from guidedrl.training.logging import TIMING_COLUMNS, read_metrics

SMALL = dict(env="gymnax/Pendulum-v1", algo="sac", guidance="pag", steps=300, eval_every=150, eval_episodes=2,
             hidden_sizes=(16, 16), batch_size=32, learning_starts=100, progress=False)


def _rows(history):
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in history]


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], float) and math.isnan(a[key]):
            assert isinstance(b[key], float) and math.isnan(b[key]), key
        else:
            assert a[key] == b[key], key


def test_seeds_side_by_side_are_one_seed_runs(tmp_path, capsys):
    both = train(Config(**{**SMALL, "progress": True}, seed=3, seeds=2, out=str(tmp_path / "both")))
    out = capsys.readouterr().out
    assert "300/300" in out and "x2" in out  # the progress bar
    alone = train(Config(**SMALL, seed=4, out=str(tmp_path / "alone")))
    second = both.seed_runs[1]
    assert second.config.seed == 4 and second.directory == tmp_path / "both" / "seed4"
    for a, b in zip(_rows(second.history), _rows(alone.history)):
        _same(a, b)
    np.testing.assert_array_equal(_flat(second.state), _flat(alone.state))
    assert len(read_metrics(tmp_path / "both" / "seed3")) == 3
    assert both.history[-1]["gradient_steps"] == 201  # learning from step 100, one step per env step


def _flat(state):
    return np.concatenate([np.asarray(leaf, np.float64).ravel() for leaf in jax.tree_util.tree_leaves(state)])


def test_resume_continues_exactly(tmp_path, monkeypatch):
    whole = train(Config(**SMALL, out=str(tmp_path / "whole")))

    class Stop(scanned.StopFlag):  # Ctrl-C arriving during the first interval
        def __enter__(self):
            super().__enter__()
            self.raised = True
            return self

    monkeypatch.setattr(scanned, "StopFlag", Stop)
    with pytest.raises(KeyboardInterrupt):
        train(Config(**SMALL, out=str(tmp_path / "cut")))
    monkeypatch.undo()
    assert [r["step"] for r in read_metrics(tmp_path / "cut")] == ["0", "150"]
    resumed = train(Config(resume=str(tmp_path / "cut"), progress=False))
    assert _rows(read_metrics(tmp_path / "cut")) == _rows(read_metrics(tmp_path / "whole"))
    np.testing.assert_array_equal(_flat(resumed.state), _flat(whole.state))


@dataclasses.dataclass(frozen=True, eq=False)
class BreaksAt(GymnaxEnv):
    """gymnax's Pendulum, with a NaN reward at step 120 of every episode."""

    def step(self, key, state, action):
        t = super().step(key, state, action)
        return t._replace(reward=jnp.where(state.time == 120, jnp.nan, t.reward))


def test_a_non_finite_reward_is_caught_and_saved(tmp_path):
    base = make_jax_env("gymnax/Pendulum-v1")
    env = BreaksAt(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    with pytest.raises(TrainingFailed, match=r"seed 0 at step 120.*saved at step 0") as failure:
        train(Config(**{**SMALL, "guidance": "none", "env": "gymnax/Pendulum-v1"}, guide=None,
                              out=str(tmp_path / "run")), env=env)
    assert failure.value.saved and failure.value.step == 0
    assert (tmp_path / "run" / "checkpoint" / "meta.json").exists()


def test_seeds_need_a_jax_env():
    with pytest.raises(ConfigError, match="--seeds 2 .* Gymnasium env"):
        train(Config(env="Pendulum-v1", seeds=2, steps=10, progress=False))


def test_the_returned_run_acts_with_its_guide(tmp_path):
    """run.act is the deployed policy, as on the host path: the guide acts where it is trusted;
    so is a loaded run's, with its guide named again as a JaxGuide."""
    import guidedrl
    from guidedrl.jaxenvs import find_jax_guide

    run = train(Config(**{**SMALL, "guidance": "sag"}, guide_region="always", out=str(tmp_path)))
    obs = np.array([0.3, 0.9, -0.5], np.float32)
    guide_action = np.asarray(run.guide(obs)[0], np.float32)
    np.testing.assert_allclose(run.act_normalized(obs), guide_action, atol=1e-6)
    assert not np.allclose(run.act_normalized(obs, guide_free=True), guide_action, atol=1e-3)
    loaded = guidedrl.load(tmp_path, guide=find_jax_guide("default", "gymnax/Pendulum-v1"))
    np.testing.assert_allclose(loaded.act_normalized(obs), guide_action, atol=1e-6)
