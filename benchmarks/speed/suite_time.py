"""Wall time of a ``guidedrl bench`` suite, from what its output directory recorded.

Reads ``OUT/trials.json`` (each invocation's wall time) and every run's ``metrics.csv``
(its own training wall time, evaluations included) — or, for a finished run whose run directory
is not there (a suite resumed from a results.csv kept in the repository), the same columns of its
rows in ``OUT/results.csv`` — and writes a section of
docs/PERFORMANCE.md: the invocations' total, the trials' summed run time per task and
strategy, and — while trials are still pending — the time they would take at the median run
time measured for the same (task, strategy, backbone), on the cores the suite ran on. The
projection is labelled as one; it is replaced by the measured total once the suite is done.

    python -m benchmarks.speed.suite_time /work/bench/paper --cores 2
    python -m benchmarks.speed.suite_time docs/results/offline --cores 2     # section offline-suite-time

With ``--floor FILE`` (``python -m benchmarks.speed.suite_floor --json FILE``, measured on the machine the runs
ran on), it also sets the finished runs' own time against their learning floor: each run's
gradient steps × the bare update time of its configuration. ``--since "YYYY-MM-DD HH:MM:SS"``
(local time) keeps only runs finished since then whose run directory is here, e.g. the runs of
one machine when a suite ran over several.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from guidedrl.experiments.runner import recorded_runs

from benchmarks.common import ROOT, command, write_section


def hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def run_seconds(rows):
    """(whole run, training part) in seconds from a run's evaluation rows (metrics.csv, or its
    rows of results.csv, which carry the same step, steps_per_second and wall_time): the training
    part sums each evaluation interval's steps over its logged steps/s, which the loop times
    without the evaluations."""
    training = sum((int(b["step"]) - int(a["step"])) / float(b["steps_per_second"])
                   for a, b in zip(rows, rows[1:]) if b["steps_per_second"] not in ("", "nan"))
    return float(rows[-1]["wall_time"]), training


def run_floors(floor: dict) -> dict:
    """Each configuration's learning floor per run in seconds, by (task, backbone, strategy): its
    gradient steps per run × its bare update time, from benchmarks.speed.suite_floor's JSON."""
    return {(c["task"], c["backbone"], c["strategy"]): c["gradient_steps"] / c["runs"] * c["update_seconds"]
            for c in floor["configs"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the suite's output directory")
    parser.add_argument("--cores", type=int, default=os.cpu_count(), help="trials run at once")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument("--section", default=None,
                        help="the section of --doc to write (default: SUITE-suite-time, SUITE from trials.json)")
    parser.add_argument("--floor", type=Path, default=None,
                        help="benchmarks.speed.suite_floor's JSON from the same machine: set the runs' own time against their floor")
    parser.add_argument("--since", default=None,
                        help='with --floor: only runs finished since this local time ("YYYY-MM-DD HH:MM:SS") '
                             "whose run directory is here")
    args = parser.parse_args()
    floor = json.loads(args.floor.read_text()) if args.floor else None
    floors = run_floors(floor) if floor else {}
    since = datetime.strptime(args.since, "%Y-%m-%d %H:%M:%S").timestamp() if args.since else None
    floor_runs = []  # (run's own seconds, its floor in seconds) of the runs --floor covers

    record = json.loads((args.out / "trials.json").read_text())
    section = args.section or f"{record.get('suite', 'paper')}-suite-time"
    measured = defaultdict(list)
    training = defaultdict(list)
    recorded = recorded_runs(args.out)  # rows of runs whose run directory is gone
    finished = pending = 0
    pending_groups = defaultdict(int)
    carried = record.get("carried_over", {})  # runs another suite trained (--reuse): not this suite's time
    for trial in record["trials"]:
        group = (trial["task"], trial["strategy"], trial["backbone"])
        if trial["id"] in carried:
            continue
        if trial["status"] == "finished":
            finished += 1
            metrics = args.out / "runs" / trial["id"] / "metrics.csv"
            if metrics.exists():
                with open(metrics, newline="") as handle:
                    rows = list(csv.DictReader(handle))
            else:
                rows = recorded.get((trial["task"], trial["strategy"], trial["backbone"], int(trial["seed"])))
                if not rows:
                    sys.exit(f"{trial['id']} is finished but has neither {metrics} nor rows in results.csv")
            whole, train = run_seconds(rows)
            measured[group].append(whole)
            training[group].append(train)
            done = args.out / "runs" / trial["id"] / "done.json"
            if floor and (since is None or (done.exists() and done.stat().st_mtime >= since)):
                key = (trial["task"], trial["backbone"], trial["strategy"])
                if key not in floors:
                    sys.exit(f"{trial['id']}: no configuration {key} in {args.floor}: measure the floor of this "
                             f"suite (python -m benchmarks.speed.suite_floor --suite SUITE --json FILE)")
                floor_runs.append((whole, floors[key]))
        else:
            pending += 1
            pending_groups[group] += 1
    total_run = sum(sum(v) for v in measured.values())
    rows = ["| task | strategy | backbone | finished runs | median run (s) | of it training (s) | summed (s) |",
            "|---|---|---|--:|--:|--:|--:|"]
    for (task, strategy, backbone), times in sorted(measured.items()):
        rows.append(f"| {task} | {strategy} | {backbone} | {len(times)} | {statistics.median(times):.0f} | "
                    f"{statistics.median(training[task, strategy, backbone]):.0f} | {sum(times):.0f} |")
    total_training = sum(sum(v) for v in training.values())
    lines = ["\n".join(rows), "",
             f"- Trials: {finished} finished, {pending} not yet run of {len(record['trials'])}"
             + (f"; {len(carried)} more carried over from another suite's runs with the same config (`--reuse`), "
                "not counted here." if carried else "."),
             f"- Invocations of `{record['command']}`: " + ", ".join(
                 f"{i['started']} for {hms(i['wall_time'])}" for i in record["invocations"])
             + f"; total wall time {hms(record['wall_time'])}.",
             f"- Finished runs' own time summed: {hms(total_run)} of one core each, i.e. {hms(total_run / args.cores)} "
             f"on {args.cores} cores without start-up and scheduling gaps; "
             f"{100 * total_training / max(total_run, 1e-9):.0f}% of it training (environment steps, guide, "
             f"replay, updates), the rest evaluations (and checkpoints)."]
    if floor_runs:
        own, least = sum(r[0] for r in floor_runs), sum(r[1] for r in floor_runs)
        whole = len(record["trials"]) == floor["runs"]  # else a part of the suite (--tasks, ...)
        pool = floor.get("xla_pool_threads")
        wall = ""
        if not pending and since is None:
            wall = (f"; the suite's wall time against its whole floor ({hms(floor['floor_seconds'])} on "
                    f"{floor['cores']} cores): **{record['wall_time'] / floor['floor_seconds']:.2f}x**" if whole else
                    f"; the invocations' wall time against these runs' floor on {args.cores} cores "
                    f"({hms(least / args.cores)}): **{record['wall_time'] / (least / args.cores):.2f}x**")
        lines.append(
            f"- Against the learning floor (`{floor['command']}`, {floor['matmul_gflops_256']:.0f} GFLOP/s "
            f"for a 256x256 matmul on that machine"
            + (f", XLA's pool at {pool} thread{'s' if pool != 1 else ''}" if pool else "")
            + f"): {len(floor_runs)} runs"
            + (f" finished since {args.since} on this machine" if since else "")
            + f" took {hms(own)} of one core against their floor's {hms(least)}: **{own / least:.2f}x**"
            + wall + ".")
    if pending:
        known = {g: statistics.median(t) for g, t in measured.items()}
        by_task = defaultdict(list)
        for (task, _, backbone), times in measured.items():
            by_task[task, backbone] += times
        projected, unknown = 0.0, 0
        for group, count in pending_groups.items():
            if group in known:
                projected += known[group] * count
            elif (group[0], group[2]) in by_task:
                projected += statistics.median(by_task[group[0], group[2]]) * count
            else:
                unknown += count
        lines.append(f"- Projection (not a measurement) for the {pending - unknown} pending runs whose task has "
                     f"finished runs, at those runs' median time: {hms(projected)} of one core, "
                     f"{hms(projected / args.cores)} on {args.cores} cores"
                     + (f"; {unknown} pending runs are on tasks with no finished run yet." if unknown else "."))
    meta = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
            "command": command(__spec__.name), "platform": platform.platform()}
    write_section(args.doc, section, "\n".join(lines), meta, note="from the suite's trials.json and its runs' metrics.csv or results.csv rows")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
