"""guidedrl bench --suite offline end to end with tiny budgets on Pendulum-v1, through a real
local Ray with one CPU: the dataset built first into OUT/minari, the trials reading it, the
phase columns in results.csv, the offline report; a re-run builds and trains nothing."""

import csv
import json

import pytest

from guidedrl.experiments import figures, report, results, runner
from guidedrl.experiments.suites import build_suite

TRIALS = dict(seeds=1, steps=200, offline_steps=100, tasks=["Pendulum-v1"], strategies=["awac", "awac+pag", "sac"])


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MINARI_DATASETS_PATH", raising=False)
        out = tmp_path_factory.mktemp("bench") / "offline"
        trials = build_suite("offline", **TRIALS)
        record = runner.run_suite(trials, out, suite="offline", command="test", progress=False, cpus=1,
                                  dataset_options={"episodes": 3})
        yield out, trials, record


def test_the_suite_builds_its_dataset_then_trains_from_it(bench):
    out, trials, record = bench
    assert [t["status"] for t in record["trials"]] == ["finished"] * 3
    (dataset,) = json.loads((out / "datasets.json").read_text())["datasets"]
    assert dataset["id"] == "guidedrl/pendulum-lqr-noise30-v0" and dataset["episodes"] == 3
    assert dataset["path"] == str(out / "minari" / "guidedrl" / "pendulum-lqr-noise30-v0")
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == results.RESULT_COLUMNS
    awac = [r for r in rows if r["strategy"] == "awac"]
    assert [(r["phase"], int(r["offline_step"]), int(r["step"])) for r in awac] == (
        [("offline", s, 0) for s in range(0, 101, 10)] + [("online", 100, s) for s in range(20, 201, 20)])
    sac = [r for r in rows if r["strategy"] == "sac"]
    assert {r["phase"] for r in sac} == {"online"} and [int(r["step"]) for r in sac] == list(range(0, 201, 20))
    pag = [r for r in rows if r["strategy"] == "awac+pag" and r["phase"] == "online"]
    assert all(0.0 <= float(r["guide_usage"]) <= 1.0 for r in pag)  # the LQR's region is rarely reached in 200 steps
    config = json.loads((out / "runs" / trials[0].id / "config.json").read_text())
    assert (config["dataset"], config["offline_steps"], config["batch_size"]) == (dataset["id"], 100, 128)


def test_the_offline_report_is_written(bench):
    out, _, _ = bench
    with open(out / "summary.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == report.OFFLINE_SUMMARY_COLUMNS
        summary = {row["strategy"]: row for row in reader}
    assert set(summary) == {"awac", "awac+pag", "sac"}
    assert summary["awac"]["offline_end_iqm"] != "" and summary["sac"]["offline_end_iqm"] == ""
    assert summary["awac"]["p_improvement"] != ""
    text = (out / "report.md").read_text()
    assert "## Datasets" in text and "guidedrl/pendulum-lqr-noise30-v0" in text and "- Suite: `offline`" in text
    for name in figures.FIGURES:
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rerun_builds_and_trains_nothing(bench, capsys):
    out, trials, _ = bench
    before = (out / "results.csv").read_text()
    record = runner.run_suite(trials, out, suite="offline", command="test", progress=False, cpus=1,
                              dataset_options={"episodes": 3}, report=False)
    assert record["invocations"][-1]["trials_run"] == 0
    assert "building" not in capsys.readouterr().err
    assert (out / "results.csv").read_text() == before
