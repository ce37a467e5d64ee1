"""The loop in phases gives the metrics.csv the single-function loop gave (recorded at 64c2eb4,
tests/training/recorded.py), apart from the timing columns."""

import csv
import json

import pytest

from guidedrl.config import Config
from guidedrl.training import loop
from guidedrl.training.logging import TIMING_COLUMNS, read_metrics
from tests.training.recorded import HERE, RUNS, platform_key

COUNTS = ("step", "train_episodes", "train_catastrophes", "gradient_steps")


@pytest.mark.parametrize("name", sorted(RUNS))
def test_same_seed_gives_the_recorded_metrics(tmp_path, name):
    loop.train(Config(**RUNS[name], out=str(tmp_path / name)))
    rows = read_metrics(tmp_path / name)
    # columns added since the recording: a run without a dataset is online from its first row
    assert [(row["phase"], row["offline_step"]) for row in rows] == [("online", "0")] * len(rows)
    with open(HERE / f"{name}.csv", newline="") as handle:
        old = [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(handle)]
    new = [{k: row[k] for k in old[0]} for row in rows]
    assert [{k: r[k] for k in COUNTS} for r in new] == [{k: r[k] for k in COUNTS} for r in old]
    recorded_on = json.loads((HERE / "platform.json").read_text())
    if recorded_on != platform_key():
        pytest.skip(f"floating-point columns were recorded on {recorded_on}, this is {platform_key()}")
    assert new == old
