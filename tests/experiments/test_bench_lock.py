"""``guidedrl bench`` owns its --out as ``guidedrl train`` owns a run directory: a second grid into
the same directory is refused with the owner's pid, before any trial starts."""

import os

from guidedrl.cli import main
from guidedrl.training.lock import RunLock


def test_a_second_grid_into_one_out_is_refused_with_the_owners_pid(tmp_path, capsys):
    out = tmp_path / "bench"
    owner = RunLock(out, what="bench output directory").acquire()  # a grid running into OUT
    try:
        code = main(["bench", "--suite", "quick", "--seeds", "1", "--steps", "20", "--out", str(out),
                     "--no-progress"])
    finally:
        owner.release()
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert f"bench output directory {str(out)!r} is in use by process {os.getpid()}" in err
    assert "\n" not in err and not (out / "runs").exists()  # refused before anything was written


def test_a_part_of_a_suite_keeps_the_other_parts_finished_runs(tmp_path):
    """Running (or reporting) part of a suite into an OUT whose results.csv holds other tasks' runs
    keeps those rows: they were dropped, and the next invocation trained them again."""
    from guidedrl.experiments import results, runner
    from guidedrl.experiments.suites import build_suite

    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    trials = build_suite("quick", seeds=1)
    other = {"task": "PointMass-v0", "strategy": "sag", "backbone": "sac", "seed": 0, "step": 100_000,
             "eval_return": 5.0}
    results.write_results(out / "results.csv", [other])
    rows = runner.collect(out, trials, others=True)  # as run_suite and --report call it
    assert [(r["task"], r["strategy"]) for r in rows] == [("PointMass-v0", "sag")]
    assert runner.collect(out, trials) == []  # the given trials alone
