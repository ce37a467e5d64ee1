"""The confidence suite's grid, and carrying over the runs another suite finished with the same
config (``guidedrl bench --reuse``)."""

import csv
import json

import pytest

from guidedrl.errors import GuidedRLError
from guidedrl.experiments import results, runner
from guidedrl.experiments.suites import build_suite


def test_the_confidence_suite_has_the_protocol_grid():
    trials = build_suite("confidence")
    assert len(trials) == 4 * 15 * 5
    assert {t.task for t in trials} == {"PointMass-v0", "BallInCup-v0", "SafeCartpole-v0", "PointReach-v0"}
    configs = {t.strategy: t.config() for t in trials if t.task == "SafeCartpole-v0" and t.seed == 0}
    assert set(configs) == {
        "none", "sag", "pag", "sag[region=always]", "pag[region=always]", "sag[confidence=q-gap]",
        "pag[confidence=q-gap]", "sag[region=always,confidence=q-gap]", "pag[region=always,confidence=q-gap]",
        "sag[confidence=risk]", "pag[confidence=risk]", "sag[region=always,confidence=risk]",
        "pag[region=always,confidence=risk]", "jsrl", "jsrl[mode=random]"}
    assert (configs["pag[region=always,confidence=q-gap]"].guide_region,
            configs["pag[region=always,confidence=q-gap]"].confidence) == ("always", "q-gap")
    assert configs["sag[confidence=q-gap]"].guide_region == "default"
    assert (configs["sag[region=always,confidence=risk]"].guide_region,
            configs["sag[region=always,confidence=risk]"].confidence) == ("always", "risk")
    assert configs["jsrl"].jsrl_mode == "curriculum" and configs["jsrl[mode=random]"].jsrl_mode == "random"
    assert all(c.pag_schedule for name, c in configs.items() if name.startswith("pag"))  # repulsive task
    assert {c.steps for c in configs.values()} == {100_000}
    # the runs the paper suite has are its own trials, config for config
    paper = {t.id: t for t in build_suite("paper")}
    shared = [t for t in trials if t.id in paper]
    assert {t.strategy for t in shared} == {"none", "sag", "pag"} and len(shared) == 4 * 3 * 5
    assert all(t.config() == paper[t.id].config() for t in shared)


def _source(tmp_path, suite, runs):
    """A kept bench output directory: trials.json and the results.csv rows of ``runs``
    ({trial: last step})."""
    source = tmp_path / suite
    source.mkdir()
    trials, rows = [], []
    for trial, last in runs.items():
        trials.append({"id": trial.id, "task": trial.task, "strategy": trial.strategy, "backbone": trial.backbone,
                       "seed": trial.seed, "steps": trial.steps, "status": "finished", "error": None})
        for step in (0, last // 2, last):
            rows.append({"task": trial.task, "strategy": trial.strategy, "backbone": trial.backbone,
                         "seed": trial.seed, "step": step, "eval_return": float(step) / 1000})
    (source / "trials.json").write_text(json.dumps({"suite": suite, "trials": trials}))
    results.write_results(source / "results.csv", rows)
    return source


def test_reuse_carries_over_only_finished_runs_with_the_same_config(tmp_path):
    paper = {(t.task, t.strategy, t.seed): t for t in build_suite("paper", seeds=2, backbones=["sac"])}
    sag = paper[("PointMass-v0", "sag", 0)]
    unfinished = paper[("PointMass-v0", "pag", 0)]
    other_task = paper[("PointCircle-v0", "sag", 0)]
    source = _source(tmp_path, "paper", {sag: 100_000, unfinished: 50_000, other_task: 100_000})
    trials = build_suite("confidence", seeds=1, tasks=["PointMass-v0"])
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    carried = runner.carry_over(trials, out, [source])
    assert carried == {sag.id: f"{source} ({sag.id})"}
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["strategy"], int(r["step"])) for r in rows] == [("sag", 0), ("sag", 50_000), ("sag", 100_000)]
    assert runner.is_finished(out / "runs", next(t for t in trials if t.id == sag.id), runner.recorded_runs(out))
    # a second pass finds nothing more to carry, and keeps what is there
    assert runner.carry_over(trials, out, [source]) == {}
    assert len(runner.recorded_runs(out)[("PointMass-v0", "sag", "sac", 0)]) == 3


def test_reuse_matches_configs_across_labels(tmp_path):
    """The offline suite's SAC from scratch (label ``sac``) is the paper suite's ``none``: carried
    over and relabelled; its runs with a dataset are not."""
    paper = build_suite("paper", seeds=1, tasks=["Pendulum-v1"], backbones=["sac"])
    source = _source(tmp_path, "paper", {t: t.steps for t in paper})
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    offline = build_suite("offline", seeds=1, tasks=["Pendulum-v1"])
    carried = runner.carry_over(offline, out, [source])
    assert carried == {"Pendulum-v1__sac__sac__s0": f"{source} (Pendulum-v1__sac__none__s0)"}
    assert {key[1] for key in runner.recorded_runs(out)} == {"sac"}


def test_reuse_never_matches_a_run_with_another_config(tmp_path):
    """The ablation suite's sag[target=switched] on PointMass-v0 is SAG at a 50k budget: not the
    confidence suite's 100k sag, and its id differs too."""
    ablation = build_suite("ablation-target", seeds=1, tasks=["PointMass-v0"])
    source = _source(tmp_path, "ablation-target", {t: t.steps for t in ablation})
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    assert runner.carry_over(build_suite("confidence", seeds=1, tasks=["PointMass-v0"]), out, [source]) == {}
    with pytest.raises(GuidedRLError, match="not a bench output directory"):
        runner.carry_over(build_suite("confidence", seeds=1), out, [tmp_path])
