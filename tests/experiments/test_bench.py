"""guidedrl bench end to end: the quick suite through a real local Ray, its outputs, re-runs,
a crashing trial; suites and bad names."""

import csv
import json
import math
import sys

import pytest

from guidedrl import cli
from guidedrl.errors import ConfigError, GuidedRLError
from guidedrl.experiments import figures, report, results, runner, tables
from guidedrl.experiments.suites import Trial, build_suite

CRASH = Trial("Pendulum-v1", "pag[broken-guide]", "sac", 0, 2_000, "pag",
              (("guide", "no_such_module_anywhere:factory"),))
"""A trial that crashes inside its Ray worker: its guide cannot be imported."""


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    pytest.importorskip("ray")
    out = tmp_path_factory.mktemp("bench") / "quick"
    trials = build_suite("quick") + [CRASH]
    record = runner.run_suite(trials, out, suite="quick", command="test", progress=False)
    return out, trials, record


def _csv(path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def test_quick_suite_runs_every_trial_and_reports_the_crash(bench):
    out, trials, record = bench
    status = {t["id"]: t for t in record["trials"]}
    assert [status[t.id]["status"] for t in trials] == ["finished"] * 4 + ["crashed"]
    assert "no_such_module_anywhere" in status[CRASH.id]["error"]
    assert record["invocations"][-1]["trials_run"] == 5 and record["wall_time"] > 0
    assert json.loads((out / "trials.json").read_text()) == json.loads(json.dumps(record))
    text = (out / "report.md").read_text()
    crashed = text[text.index("Crashed trials"):]
    assert CRASH.id in crashed and "no_such_module_anywhere" in crashed
    assert "4 finished" in text and "1 crashed" in text


def test_every_output_has_its_schema(bench):
    out, trials, _ = bench
    columns, rows = _csv(out / "results.csv")
    assert tuple(columns) == results.RESULT_COLUMNS
    for trial in trials[:4]:
        mine = [r for r in rows if (r["task"], r["strategy"], r["backbone"], int(r["seed"]))
                == (trial.task, trial.strategy, trial.backbone, trial.seed)]
        config = trial.config()
        assert [int(r["step"]) for r in mine] == list(range(0, trial.steps + 1, config.eval_every))
        assert all(math.isfinite(float(r["eval_return"])) for r in mine)
    assert not any(r["strategy"] == CRASH.strategy for r in rows)
    columns, summary = _csv(out / "summary.csv")
    assert tuple(columns) == report.SUMMARY_COLUMNS
    assert sorted((r["task"], r["strategy"], r["seeds"]) for r in summary) == [
        ("Pendulum-v1", "none", "2"), ("Pendulum-v1", "pag", "2")]
    for name in figures.FIGURES:
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Tune received every evaluation as the trial trained
    logged = sorted(out.glob(f"ray/*/{trials[0].task}__*pag__s1*/result.json"))
    assert len(logged) == 1
    steps = [json.loads(line)["step"] for line in logged[0].read_text().splitlines()]
    assert steps == list(range(0, trials[3].steps + 1, trials[3].config().eval_every))


def test_report_numbers_are_what_results_csv_gives(bench, tmp_path):
    out, _, _ = bench
    expected = results.summarize(results.read_results(out / "results.csv"))
    _, summary = _csv(out / "summary.csv")
    assert len(summary) == len(expected)
    for want, got in zip(expected, summary):
        for key, value in want.items():
            if isinstance(value, float):
                assert float(got[key]) == value or (math.isnan(value) and got[key] in ("", "nan")), key
            else:
                assert str(value) == got[key]
    pag = next(r for r in expected if r["strategy"] == "pag")
    assert tables.format_interval(pag["auc_iqm"], pag["auc_low"], pag["auc_high"], 2) in \
        (out / "report.md").read_text()
    # --report rebuilds the same summary from results.csv alone
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.csv").write_bytes((out / "results.csv").read_bytes())
    assert cli.main(["bench", "--report", str(copy)]) == 0
    assert (copy / "summary.csv").read_text() == (out / "summary.csv").read_text()
    assert (copy / "report.md").exists() and (copy / "figures" / "learning_curves.png").exists()
    # in the bench directory itself, --report first collects the finished runs into results.csv
    before = (out / "results.csv").read_text()
    (out / "results.csv").unlink()
    assert cli.main(["bench", "--report", str(out)]) == 0
    assert (out / "results.csv").read_text() == before


def test_rerun_skips_finished_trials_and_retries_the_crashed_one(bench):
    out, trials, first = bench
    done = {t.id: (out / "runs" / t.id / runner.DONE).stat().st_mtime_ns for t in trials[:4]}
    before = (out / "results.csv").read_text()
    record = runner.run_suite(trials, out, suite="quick", command="test", progress=False)
    assert record["invocations"][-1]["trials_run"] == 1  # only the crashed one ran again
    assert len(record["invocations"]) == 2
    assert [t["status"] for t in record["trials"]] == ["finished"] * 4 + ["crashed"]
    assert {t.id: (out / "runs" / t.id / runner.DONE).stat().st_mtime_ns for t in trials[:4]} == done
    assert (out / "results.csv").read_text() == before
    # the suite alone is all finished: Ray is not even started
    record = runner.run_suite(trials[:4], out, suite="quick", command="test", progress=False)
    assert record["invocations"][-1]["trials_run"] == 0


def test_a_kept_results_csv_counts_its_runs_as_finished(bench, tmp_path):
    """A results.csv kept without the run directories (e.g. in a repository) resumes the grid."""
    out, trials, _ = bench
    kept = tmp_path / "kept"
    kept.mkdir()
    _, rows = _csv(out / "results.csv")
    cut = [r for r in rows if not (r["strategy"] == "pag" and r["seed"] == "1" and int(r["step"]) > 1000)]
    with open(kept / "results.csv", "w", newline="") as handle:  # one run stops half-way: unfinished
        writer = csv.DictWriter(handle, fieldnames=results.RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(cut)
    runs = kept / "runs"
    recorded = runner.recorded_runs(kept)
    assert [runner.is_finished(runs, t, recorded) for t in trials[:4]] == [True, True, True, False]
    assert runner.collect(kept, trials[:3]) == [r for r in rows if r["strategy"] == "none" or r["seed"] == "0"]


def test_suites_have_the_protocol_grid():
    paper = build_suite("paper")
    assert len(paper) == (6 * 6 + 3 * 2) * 5
    assert {t.steps for t in paper if t.task == "Pendulum-v1"} == {20_000}
    assert {t.steps for t in paper if t.task != "Pendulum-v1"} == {100_000}
    assert {(t.task, t.guidance) for t in paper if t.backbone == "td3"} == {
        (task, g) for task in ("PointMass-v0", "SafeCartpole-v0") for g in ("none", "sag", "pag")}
    config = next(t for t in paper if t.task == "SafeCartpole-v0" and t.guidance == "pag").config()
    assert config.pag_schedule and config.period == 10_000 and config.eval_every == 2_000
    assert not next(t for t in paper if t.task == "PointMass-v0" and t.guidance == "pag").config().pag_schedule
    pag = build_suite("sensitivity-pag", seeds=1)
    assert len(pag) == 12 and len({(t.config().phi, t.config().delta) for t in pag}) == 12
    pig = build_suite("sensitivity-pig", seeds=1)
    assert len({(t.config().beta0, t.config().delta) for t in pig}) == 12
    ablation = build_suite("ablation-target", seeds=2)
    assert {t.config().critic_target for t in ablation} == {"switched", "actor"}
    assert len({t.id for t in ablation}) == len(ablation) == 16
    only = build_suite("paper", seeds=2, steps=500, tasks=["PointMass-v0"], strategies=["none", "pag"],
                       backbones=["td3"])
    assert [(t.task, t.guidance, t.backbone, t.seed, t.steps) for t in only] == [
        ("PointMass-v0", g, "td3", s, 500) for g in ("none", "pag") for s in (0, 1)]
    assert Trial.from_dict(json.loads(json.dumps(only[0].to_dict()))) == only[0]


@pytest.mark.parametrize("argv, names", [
    (["--suite", "papr"], "paper, quick, ablation-target, sensitivity-pag, sensitivity-pig"),
    (["--suite", "paper", "--tasks", "CartPole-v1"], "BallInCup-v0, Pendulum-v1, PointCircle-v0"),
    (["--strategies", "pgg"], "none, rg, sag, pig, pag, residual"),
    (["--backbones", "ppo"], "sac, td3"),
    (["--cpus", "0"], "--cpus must be at least 1, not 0"),
])
def test_bad_names_list_the_valid_ones(argv, names, capsys, tmp_path):
    assert cli.main(["bench", *argv, "--out", str(tmp_path / "b")]) == 2
    assert names in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_a_strategy_the_suite_lacks_is_named():
    with pytest.raises(ConfigError, match="has no strategy 'rg'.*none, pag"):
        build_suite("quick", strategies=["rg"])


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(GuidedRLError, match=r'pip install -e "\.\[ray\]"'):
        runner.run_suite(build_suite("quick"), "unused", progress=False)


def test_report_without_results_names_the_file(tmp_path):
    assert cli.main(["bench", "--report", str(tmp_path)]) == 2


def test_iqm_of_hand_made_runs():
    """The per-run AUC behind the report on numbers worked out by hand."""
    rows = [{"task": "T", "strategy": "none", "backbone": "sac", "seed": 0, "step": s, "eval_return": r,
             "train_catastrophes": c} for s, r, c in ((0, 0.0, 0), (10, 10.0, 2), (20, 10.0, 3))]
    rows += [{**r, "strategy": "pag", "eval_return": 10.0, "train_catastrophes": 0} for r in rows]
    runs = results.per_run(rows)
    assert runs["T", "none", "sac", 0] == {"auc": 0.75, "final_return": 10.0, "train_catastrophes": 3.0}
    assert runs["T", "pag", "sac", 0]["auc"] == 1.0
