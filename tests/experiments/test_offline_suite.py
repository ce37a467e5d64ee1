"""The offline suite: its trials and their configs (methods, budgets, labels, filters), and the
report's offline-to-online measures on a hand-made results.csv with known values."""

import csv
import json
import math

import numpy as np
import pytest

from guidedrl import cli
from guidedrl.errors import ConfigError
from guidedrl.experiments import figures, report, results, tables
from guidedrl.experiments.datasets import RECIPES
from guidedrl.experiments.suites import OFFLINE_METHODS, OFFLINE_TASKS, Trial, build_suite

GUIDED = {"PointMass-v0", "BallInCup-v0", "SafeCartpole-v0", "Pendulum-v1"}


def test_every_task_has_each_method_with_its_backbone_and_data():
    trials = build_suite("offline")
    assert len(trials) == (4 * 6 + 4) * 5  # HalfCheetah-v5 has no default guide: no awac+sag/pag
    assert len({t.id for t in trials}) == len(trials)
    assert {t.task for t in trials} == set(OFFLINE_TASKS)
    assert {t.seed for t in trials} == set(range(5))
    for task in OFFLINE_TASKS:
        labels = {t.strategy for t in trials if t.task == task}
        expected = set(OFFLINE_METHODS) if task in GUIDED else {"awac", "sac-preloaded", "sac-offline", "sac"}
        assert labels == expected, task
    for trial in trials:
        method = OFFLINE_METHODS[trial.strategy]
        config = trial.config()
        assert (config.algo, config.guidance) == (method.backbone, method.guidance)
        assert config.dataset == (RECIPES[trial.task].dataset_id if method.dataset else None)
        assert config.offline_steps == (25_000 if method.offline else 0)
        assert config.guide == ("default" if method.guidance != "none" else None)
        # the suites' shared settings, evaluation every 2k online and 2.5k offline
        assert config.hidden_sizes == (64, 64) and config.minibatch_size == 128 and config.eval_episodes == 5
        assert config.eval_every == 2_000 and config.offline_evaluation_interval == (2_500 if method.offline else 2_000)
        # data from the first step: no uniform warm-up, except SAC from scratch
        assert config.warmup_steps == (1_000 if trial.strategy == "sac" else 0)
        assert config.steps == trial.steps == (20_000 if trial.task == "Pendulum-v1" else 100_000)
        assert Trial.from_dict(json.loads(json.dumps(trial.to_dict()))) == trial
    # PAG grows its perturbation on the repulsive task, as in the paper suite
    pag = {t.task: t.config() for t in trials if t.strategy == "awac+pag" and t.seed == 0}
    assert pag["SafeCartpole-v0"].pag_schedule and pag["SafeCartpole-v0"].period == 10_000
    assert not pag["PointMass-v0"].pag_schedule


def test_budgets_are_overridden_for_a_smoke_run():
    trials = build_suite("offline", seeds=2, steps=300, offline_steps=100, tasks=["Pendulum-v1"])
    assert len(trials) == 12
    for trial in trials:
        config = trial.config()
        assert config.steps == 300 and config.eval_every == 30
        if OFFLINE_METHODS[trial.strategy].offline:
            assert config.offline_steps == 100 and config.offline_evaluation_interval == 10
    assert build_suite("offline", seeds=1, offline_steps=50_000)[0].config().offline_eval_every == 2_500


@pytest.mark.parametrize("selection, expected", [
    (dict(strategies=["awac+pag"]), {"awac+pag"}),
    (dict(strategies=["pag"]), {"awac+pag"}),  # a guidance name selects every trial with it
    (dict(strategies=["none"]), {"awac", "sac-preloaded", "sac-offline", "sac"}),
    (dict(strategies=["sac", "sac-offline"]), {"sac", "sac-offline"}),
    (dict(backbones=["awac"]), {"awac", "awac+sag", "awac+pag"}),
    (dict(backbones=["sac"]), {"sac-preloaded", "sac-offline", "sac"}),
    (dict(backbones=["awac"], strategies=["none"]), {"awac"}),
])
def test_filters_select_methods(selection, expected):
    trials = build_suite("offline", seeds=1, tasks=["SafeCartpole-v0"], **selection)
    assert {t.strategy for t in trials} == expected


def test_bad_selections_name_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown strategy 'awca'; valid: none, rg, sag, pig, pag, residual, jsrl, "
                                          r"awac, awac\+sag, awac\+pag, sac-preloaded, sac-offline, sac"):
        build_suite("offline", strategies=["awca"])
    with pytest.raises(ConfigError, match="has no strategy 'rg'"):
        build_suite("offline", strategies=["rg"])
    with pytest.raises(ConfigError, match="unknown task 'PointCircle-v0'.*HalfCheetah-v5"):
        build_suite("offline", tasks=["PointCircle-v0"])
    with pytest.raises(ConfigError, match="no trial with tasks=.'HalfCheetah-v5'., strategies=.'sag'"):
        build_suite("offline", tasks=["HalfCheetah-v5"], strategies=["sag"])
    with pytest.raises(ConfigError, match="offline_steps applies to the offline suite, not to 'paper'"):
        build_suite("paper", offline_steps=100)
    with pytest.raises(ConfigError, match="offline_steps must be a positive integer, got 0"):
        build_suite("offline", offline_steps=0)


def test_cli_refuses_offline_steps_outside_the_offline_suite(capsys, tmp_path):
    assert cli.main(["bench", "--suite", "quick", "--offline-steps", "10", "--out", str(tmp_path / "b")]) == 2
    assert "offline_steps applies to the offline suite" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


# -- the measures on a hand-made results.csv ---------------------------------------------------

ONLINE_STEPS = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


def _run(task, strategy, backbone, seed, offline, online, catastrophes=None, usage=None):
    """metrics.csv-like rows: ``offline`` (offline step, return) pairs, then online returns at
    ONLINE_STEPS (from step 10 when there is an offline phase: its end is the start)."""
    rows = [{"step": 0, "phase": "offline", "offline_step": step, "eval_return": value, "train_catastrophes": 0,
             "guide_usage": 0.0} for step, value in offline]
    end = offline[-1][0] if offline else 0
    steps = ONLINE_STEPS[1:] if offline else ONLINE_STEPS
    catastrophes = catastrophes or [0] * len(steps)
    usage = usage or [0.0] * len(steps)
    rows += [{"step": step, "phase": "online", "offline_step": end, "eval_return": value,
              "train_catastrophes": catastrophes[i], "guide_usage": usage[i]}
             for i, (step, value) in enumerate(zip(steps, online))]
    return results.run_rows(rows, task, strategy, backbone, seed)


def _hand_made():
    """Task "T": AWAC (offline end 50 + seed, dips to 40 at step 10), naive SAC fine-tuning
    (offline end 50, collapses to 0 at 10), and SAC from scratch (0 at step 0); 3 seeds."""
    rows = []
    for seed in range(3):
        rows += _run("T", "awac", "awac", seed, [(0, 0.0), (50, 30.0), (100, 50.0 + seed)],
                     [40.0, 60, 60, 60, 60, 70, 70, 70, 80, 90],
                     catastrophes=[1, 1, 2, 2, 2, 3, 3, 3, 3, 3], usage=[0.5, 0.5, 0.0, 0.0, 0, 0, 0, 0, 0, 0])
        rows += _run("T", "sac-offline", "sac", seed, [(0, 0.0), (50, 30.0), (100, 50.0)],
                     [0.0, 10, 20, 30, 40, 50, 60, 70, 80, 100 + seed])
        rows += _run("T", "sac", "sac", seed, [], [0.0, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90 - seed],
                     catastrophes=[0, 2, 4, 6, 8, 10, 10, 10, 10, 10, 10])
    return rows


def test_offline_measures_have_their_known_values():
    runs = results.offline_per_run(_hand_made())
    awac, naive, scratch = runs["T", "awac", "awac", 1], runs["T", "sac-offline", "sac", 0], runs["T", "sac", "sac", 2]
    assert awac["offline_end"] == 51.0 and naive["offline_end"] == 50.0 and math.isnan(scratch["offline_end"])
    # first 10% of the online budget: step 10 only
    assert awac["dip"] == 40.0 - 51.0 and naive["dip"] == 0.0 - 50.0 and scratch["dip"] == 0.0 - 0.0
    # normalised by the online curves' range on the task: lowest 0, highest 102 (naive SAC, seed 2)
    low, high = 0.0, 102.0
    curve = [51.0, 40, 60, 60, 60, 60, 70, 70, 70, 80, 90]
    assert awac["online_auc"] == pytest.approx(np.trapezoid((np.array(curve) - low) / (high - low), ONLINE_STEPS) / 100)
    # the last 10% of the online budget: steps 90 and 100
    assert awac["final_return"] == 85.0 and naive["final_return"] == 90.0 and scratch["final_return"] == 84.0
    assert awac["train_catastrophes"] == 3.0 and scratch["train_catastrophes"] == 10.0
    assert awac["guide_usage"] == pytest.approx(0.1) and scratch["guide_usage"] == 0.0
    # a window without evaluations (a coarse smoke run) falls back to the first online one
    coarse = [r for r in _hand_made() if r["strategy"] == "awac" and r["seed"] == 0
              and (r["phase"] == "offline" or r["step"] in (50, 100))]
    assert results.offline_per_run(coarse)["T", "awac", "awac", 0]["dip"] == 60.0 - 50.0


@pytest.fixture(scope="module")
def offline_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("offline-report")
    results.write_results(out / "results.csv", _hand_made())
    (out / "datasets.json").write_text(json.dumps({"store": "/s", "datasets": [
        {"task": "T", "id": "test/t-medium-v0", "kind": "medium", "episodes": 4, "steps": 400, "mean_return": 12.5,
         "std_return": 1.5, "commands": ["guidedrl dataset collect --env T --policy guide --id test/t-medium-v0"]}]}))
    paths = report.write_report(out, reps=300, seed=0)
    return out, paths


def test_offline_report_tables_the_measures(offline_report):
    out, paths = offline_report
    with open(paths["summary"], newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == report.OFFLINE_SUMMARY_COLUMNS
        summary = {row["strategy"]: row for row in reader}
    assert float(summary["awac"]["offline_end_iqm"]) == pytest.approx(51.0)
    assert float(summary["awac"]["dip_iqm"]) == pytest.approx(-11.0)
    assert float(summary["sac-offline"]["dip_iqm"]) == pytest.approx(-50.0)
    assert summary["sac"]["offline_end_iqm"] == ""  # no offline phase
    # AWAC's AUC and dip beat every run of their baselines'
    assert float(summary["awac"]["p_improvement"]) == 1.0 and float(summary["awac"]["p_smaller_dip"]) == 1.0
    assert summary["sac"]["p_improvement"] == "" and summary["sac-offline"]["p_smaller_dip"] == ""
    text = paths["report"].read_text()
    assert "offline-to-online" in text and "`test/t-medium-v0`" in text and "12.5 ± 1.5" in text
    assert "guidedrl dataset collect --env T" in text
    lines = text.split("## T\n", 1)[1].splitlines()
    table = [line for line in lines if line.startswith("| ")][1:]
    assert [line.split(" | ")[0] for line in table] == ["| awac", "| sac-offline", "| sac"]  # the methods' order
    assert tables.format_interval(float(summary["awac"]["dip_iqm"]), float(summary["awac"]["dip_low"]),
                                  float(summary["awac"]["dip_high"]), 1) in table[0]
    for name in figures.FIGURES:
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_phase_axis_puts_the_online_part_after_the_offline_one():
    rows = _hand_made()
    switches = figures.phase_switches(rows)
    assert switches == {"T": 100}
    curves = figures.phase_curves(rows, "eval_return", switches)
    steps, matrix = curves["T", "awac", "awac"]
    assert list(steps) == [0, 50, 100] + [100 + s for s in ONLINE_STEPS[1:]]
    assert list(matrix[1][:4]) == [0.0, 30.0, 51.0, 40.0]
    steps, _ = curves["T", "sac", "sac"]  # without an offline phase: from the switch on
    assert list(steps) == [100 + s for s in ONLINE_STEPS]


def test_old_results_without_phase_columns_read_as_online(tmp_path):
    path = tmp_path / "results.csv"
    columns = [c for c in results.RESULT_COLUMNS if c not in results.PHASE_COLUMNS]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerow({"task": "T", "strategy": "none", "backbone": "sac", "seed": 0, "step": 10, "eval_return": 1})
    row = results.read_results(path)[0]
    assert (row["phase"], row["offline_step"]) == ("online", 0)
    results.write_results(path, [dict(r) for r in csv.DictReader(open(path))])
    assert results.read_results(path)[0]["phase"] == "online"
    assert not results.is_offline_to_online(results.read_results(path), OFFLINE_METHODS)
