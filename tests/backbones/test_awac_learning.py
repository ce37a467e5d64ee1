"""AWAC learns from a competent controller's logs offline, and online fine-tuning keeps it.

The data: 30 episodes of the built-in swing-up controller (``--guide swing-up``: energy shaping
and a PD catch near the top; mean return about -150 with the noise below, where a uniform-random
policy scores about -1,200 to -1,600), written with ``guidedrl.offline.collect``. About 25
seconds on two cores. λ = 10 suits Pendulum's reward scale: with λ = 1 and 3 some seeds dip by
hundreds online (``python -m benchmarks.studies.awac_lambda``, docs/OFFLINE.md), with 10 none did.
"""

import numpy as np
import pytest

import guidedrl
from guidedrl.offline.collect import collect

DATASET = "test/pendulum-swingup-v0"


@pytest.fixture
def swing_up_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    collect("Pendulum-v1", "guide", 30, DATASET, noise=0.2, seed=0, guide="swing-up")
    return guidedrl.offline.dataset_info(DATASET)


def test_awac_learns_offline_and_fine_tuning_does_not_collapse(swing_up_dataset):
    assert swing_up_dataset["mean_return"] > -250  # the data are competent
    run = guidedrl.train("Pendulum-v1", algo="awac", dataset=DATASET, offline_steps=3000, offline_eval_every=1000,
                         steps=1000, eval_every=250, awac_lambda=10.0, hidden_sizes=(64, 64), batch_size=256,
                         eval_episodes=10, seed=0, progress=False)
    offline = [r for r in run.history if r["phase"] == "offline"]
    online = [r for r in run.history if r["phase"] == "online"]
    assert offline[0]["eval_return"] < -1000  # the untrained policy cannot swing up
    offline_score = offline[-1]["eval_return"]
    assert offline_score > -350, f"AWAC offline reached {offline_score:.1f}"
    # the first four online evaluations (the first 1000 steps) stay within 100 of the offline score
    assert len(online) == 4
    assert min(r["eval_return"] for r in online) > offline_score - 100, [r["eval_return"] for r in online]
