"""Candidate AWAC defaults screened offline on the offline suite's datasets (issue 33, phase 2).

Each run is the offline suite's ``awac`` trial (its dataset, 64-64, batch 128, λ 1, 5 evaluation
episodes) with the offline phase only, changed by one variant of :data:`VARIANTS`: the critics'
LayerNorm (the fix of docs/results/awac_collapse.md) alone or with another change, and the same
at AWAC's reference size (256-256, its batch of 1024). Score: 0 for the uniform-random policy
(mean of 10 episodes, env seeds 0-9), 1 for the dataset's mean return.

    python -m benchmarks.studies.awac_default --tasks SafeCartpole-v0 --variants ln --today-from docs/results/offline
    python -m benchmarks.studies.awac_default --markdown           # print the table only

``--today-from DIR`` reads the ``today`` rows (the suite's config unchanged) from that offline
suite output's results.csv instead of training them (same config and seeds; the curve cut at
``--offline-steps``), where the dataset built here is the suite's (same fingerprint as its
datasets.json); otherwise they are trained. ``--final-episodes N`` evaluates each run's
offline-end policy again on N episodes (a task whose episodes score all or nothing, as
BallInCup-v0, is coarse on the suite's 5) and adds a row of those scores; a run held without it
is trained again. Runs are kept in docs/results/awac_default.json, keyed by task, variant,
offline budget and seed; run again, the runs it holds are kept. One XLA thread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from benchmarks.common import ROOT, command, one_xla_thread, write_json
from benchmarks.common import random_return as common_random_return

one_xla_thread()

import numpy as np  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "awac_default"
JSON = ROOT / "docs" / "results" / "awac_default.json"
TASKS = ("SafeCartpole-v0", "BallInCup-v0", "Pendulum-v1", "HalfCheetah-v5", "PointMass-v0")
"""The offline suite's tasks, in the order the screen runs them."""
REFERENCE = dict(hidden_sizes=(256, 256), batch_size=None)
"""AWAC's reference size: 256-256 and its default batch (1024)."""

VARIANTS = {
    "today": ("the offline suite's awac: 64-64, batch 128, λ 1", {}),
    "ln": ("critic LayerNorm", dict(critic_layer_norm=True)),
    "ln-lambda-3": ("critic LayerNorm, λ 3", dict(critic_layer_norm=True, awac_lambda=3.0)),
    "ln-lambda-10": ("critic LayerNorm, λ 10", dict(critic_layer_norm=True, awac_lambda=10.0)),
    "ref-today": ("256-256, batch 1024", dict(REFERENCE)),
    "ref-ln": ("256-256, batch 1024, critic LayerNorm", dict(REFERENCE, critic_layer_norm=True)),
    "ref-ln-lambda-3": ("256-256, batch 1024, critic LayerNorm, λ 3",
                        dict(REFERENCE, critic_layer_norm=True, awac_lambda=3.0)),
    "ref-ln-lambda-10": ("256-256, batch 1024, critic LayerNorm, λ 10",
                         dict(REFERENCE, critic_layer_norm=True, awac_lambda=10.0)),
}


def random_return(task: str, episodes: int = 10) -> float:
    """Mean return of the uniform-random policy on ``task`` (env seeds 0..episodes-1)."""
    from guidedrl.envs import make_env

    return common_random_return(make_env(task), episodes)


def trial_config(task: str, seed: int, offline_steps: int, offline_eval_every: int, overrides: dict, run_dir: Path):
    """The offline suite's awac trial of (task, seed), offline phase only, with ``overrides``."""
    from guidedrl.experiments.suites import build_suite

    trial = next(t for t in build_suite("offline", seeds=seed + 1, steps=10, offline_steps=offline_steps,
                                        tasks=[task], strategies=["awac"]) if t.seed == seed)
    return trial.config(str(run_dir)).replace(steps=0, offline_eval_every=offline_eval_every,
                                              checkpoint_every=10**9, **overrides)


def offline_run(task: str, variant: str, seed: int, args) -> dict:
    from guidedrl.training.loop import train

    run_dir = OUT / f"{task}-{variant}-s{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = trial_config(task, seed, args.offline_steps, args.offline_eval_every, VARIANTS[variant][1], run_dir)
    started = time.perf_counter()
    run = train(config)
    curve = [[int(r["offline_step"]), float(r["eval_return"])] for r in run.history if r["phase"] == "offline"]
    wall = time.perf_counter() - started
    result = {"curve": curve, "wall_seconds": wall}
    if args.final_episodes:  # the offline-end policy again, on more episodes than the suite's 5
        evaluation = run.evaluate(episodes=args.final_episodes)
        result["final"] = {"episodes": args.final_episodes, "returns": [float(v) for v in evaluation["returns"]]}
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


def suite_run(task: str, seed: int, offline_steps: int, suite_dir: Path) -> dict:
    """The offline suite's own awac run of (task, seed), its offline curve up to ``offline_steps``."""
    from guidedrl.experiments import results

    rows = [r for r in results.read_results(suite_dir / "results.csv")
            if r["task"] == task and r["strategy"] == "awac" and int(r["seed"]) == seed and r["phase"] == "offline"]
    curve = [[int(r["offline_step"]), float(r["eval_return"])] for r in rows if int(r["offline_step"]) <= offline_steps]
    if not curve or curve[-1][0] != offline_steps:
        raise SystemExit(f"--today-from {suite_dir}: no awac evaluation of {task} seed {seed} at {offline_steps}")
    return {"curve": curve, "wall_seconds": None, "from": str(suite_dir)}


def score(value: float, random: float, data: float) -> float:
    return (value - random) / (data - random)


def table(store: dict) -> str:
    lines = ["| task | variant | change | offline steps | offline end, each seed | score, each seed | lowest score "
             "| wall s / run |", "|---|---|---|--:|---|---|--:|--:|"]
    for task in TASKS:
        if task not in store["tasks"]:
            continue
        entry = store["tasks"][task]
        for variant, (text, _) in VARIANTS.items():
            for budget, runs in sorted(entry["runs"].get(variant, {}).items(), key=lambda item: -int(item[0])):
                seeds = sorted(runs, key=int)
                ends = [runs[s]["curve"][-1][1] for s in seeds]
                scores = [score(v, entry["random_return"], entry["data_mean_return"]) for v in ends]
                walls = [runs[s]["wall_seconds"] for s in seeds if runs[s]["wall_seconds"]]
                wall = f"{np.mean(walls):,.0f}" if walls else "suite"
                lines.append(f"| {task} | {variant} | {text} | {int(budget):,} | {', '.join(f'{v:,.0f}' for v in ends)} | "
                             f"{', '.join(f'{v:.2f}' for v in scores)} | {min(scores):.2f} | {wall} |")
                finals = [runs[s].get("final") for s in seeds]
                if all(finals):
                    ends = [float(np.mean(f["returns"])) for f in finals]
                    scores = [score(v, entry["random_return"], entry["data_mean_return"]) for v in ends]
                    lines.append(f"| {task} | {variant}, {finals[0]['episodes']} episodes at the end | {text} "
                                 f"| {int(budget):,} | {', '.join(f'{v:,.0f}' for v in ends)} "
                                 f"| {', '.join(f'{v:.2f}' for v in scores)} | {min(scores):.2f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=[], choices=TASKS)
    parser.add_argument("--variants", nargs="+", default=[], choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--offline-steps", type=int, default=25_000)
    parser.add_argument("--offline-eval-every", type=int, default=2_500)
    parser.add_argument("--today-from", type=Path, default=None,
                        help="read the 'today' runs from this offline suite output (its results.csv)")
    parser.add_argument("--store", default=str(ROOT / "docs" / "results" / "offline" / "minari"))
    parser.add_argument("--json", type=Path, default=JSON)
    parser.add_argument("--final-episodes", type=int, default=0,
                        help="also evaluate each run's offline-end policy on this many episodes (trains "
                             "today's runs too: the suite keeps no policy)")
    parser.add_argument("--markdown", action="store_true", help="print the table of the runs held, train nothing")
    args = parser.parse_args()

    store = json.loads(args.json.read_text()) if args.json.exists() else {"tasks": {}}
    if args.markdown:
        print(table(store))
        return
    os.environ["MINARI_DATASETS_PATH"] = str(Path(args.store).resolve())
    import jax

    from guidedrl.experiments.datasets import RECIPES, build_datasets
    from guidedrl.offline import dataset_info

    suite_fingerprints = {}  # the offline suite's datasets, as its report recorded them
    if (ROOT / "docs" / "results" / "offline" / "datasets.json").exists():
        suite_fingerprints = {record["task"]: record.get("fingerprint") for record in json.loads(
            (ROOT / "docs" / "results" / "offline" / "datasets.json").read_text())["datasets"]}

    store["meta"] = {"command": command(__spec__.name), "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                     "jax": jax.__version__}
    for task in args.tasks:
        entry = store["tasks"].setdefault(task, {"runs": {}})
        OUT.mkdir(parents=True, exist_ok=True)
        build_datasets([task], OUT, Path(args.store).resolve())  # by the suite's recipe, if missing
        if "random_return" not in entry:
            info = dataset_info(RECIPES[task].dataset_id)
            entry.update(dataset=info["id"], fingerprint=info["fingerprint"],
                         suite_fingerprint=suite_fingerprints.get(task), data_mean_return=info["mean_return"],
                         random_return=random_return(task))
            write_json(args.json, store)
        same_data = entry.get("fingerprint") == entry.get("suite_fingerprint")
        if not same_data:  # the recipe did not rebuild the suite's dataset: its runs do not apply here
            for budget in entry["runs"].get("today", {}).values():
                for seed in [seed for seed, run in budget.items() if "from" in run]:
                    del budget[seed]
        for variant in args.variants:
            runs = entry["runs"].setdefault(variant, {}).setdefault(str(args.offline_steps), {})
            for seed in range(args.seeds):
                if str(seed) in runs and (not args.final_episodes or "final" in runs[str(seed)]):
                    continue
                if variant == "today" and args.today_from is not None and same_data and not args.final_episodes:
                    runs[str(seed)] = suite_run(task, seed, args.offline_steps, args.today_from)
                else:
                    runs[str(seed)] = offline_run(task, variant, seed, args)
                end = runs[str(seed)]["curve"][-1][1]
                print(f"{task} {variant} seed {seed}: end {end:,.1f} score "
                      f"{score(end, entry['random_return'], entry['data_mean_return']):.2f} "
                      f"({runs[str(seed)]['wall_seconds'] or 0:.0f} s)", flush=True)
                write_json(args.json, store)
    print(table(store))


if __name__ == "__main__":
    main()
