"""Policy files: a trained actor exported as a guide acts exactly as the run's actor."""

import json

import numpy as np
import pytest

import guidedrl
from guidedrl.guides import GuideError, export_policy, from_policy_file
from guidedrl.names import resolve_guide
from tests.conftest import SMALL, MirrorEnv


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_exported_actor_matches_the_runs_actor(tmp_path, algo):
    run = guidedrl.train(MirrorEnv(), algo=algo, steps=300, seed=0, **SMALL)
    path = export_policy(run, tmp_path / "guide", note="test")
    meta = json.loads((tmp_path / "guide.json").read_text())
    assert path.suffix == ".msgpack" and meta["note"] == "test" and meta["algo"] == algo
    guide = from_policy_file(path, confidence=0.5).bind(run.obs_dim, run.action_dim)
    for obs in np.random.default_rng(0).uniform(-1, 1, (20, run.obs_dim)).astype(np.float32):
        action, confidence = guide(obs)
        np.testing.assert_allclose(action, run.act_normalized(obs, guide_free=True), atol=1e-5)
        assert confidence == 0.5
    # --guide PATH.msgpack resolves to the same guide
    again, _ = resolve_guide(str(path), "MirrorEnv").bind(run.obs_dim, run.action_dim)(obs)
    np.testing.assert_allclose(again, action)


def test_bad_policy_files_are_refused(tmp_path):
    with pytest.raises(GuideError, match="cannot read policy file"):
        from_policy_file(tmp_path / "missing.msgpack")
    (tmp_path / "other.msgpack").write_bytes(b"\x80")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else/9", "obs_dim": 1, "action_dim": 1}))
    with pytest.raises(GuideError, match="format 'something-else/9'"):
        from_policy_file(tmp_path / "other.msgpack")
