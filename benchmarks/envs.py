"""The built-in tasks' starting point: each guide alone, SAC without a guide, and env speed.

    python benchmarks/envs.py --alone            # each default guide alone, 20 episodes
    python benchmarks/envs.py --speed            # env steps/s with random actions
    python benchmarks/envs.py --sac --seeds 0 1 2 --steps 20000   # SAC without a guide, 3 seeds
    (--tasks A B ... trains only those; the table takes every task whose runs are finished)

``--alone`` writes the numbers ``guidedrl envs`` shows (src/guidedrl/envs/guides/alone.json);
every part writes its raw JSON to docs/results/ and its table into docs/RESULTS.md (or
docs/PERFORMANCE.md for speed) between markers. SAC runs go to ``--out`` and an interrupted
invocation resumes where it stopped.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _runs import bootstrap_ci, run_or_resume  # noqa: E402
from throughput import write_section  # noqa: E402

from guidedrl.training.logging import read_metrics  # noqa: E402

from guidedrl.envs import ALONE_FILE, TASKS, default_guide, make_env, stored_alone  # noqa: E402
from guidedrl.envs.make_guide import measure_alone  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUILT_IN = [task_id for task_id in TASKS if task_id != "Pendulum-v1"]


def _meta(command: str) -> dict:
    return {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "command": command}


def alone(episodes: int, command: str) -> None:
    results = {}
    for task_id in TASKS:
        started = time.perf_counter()
        results[task_id] = measure_alone(default_guide(task_id), task_id, episodes=episodes)
        print(f"{task_id}: {results[task_id]['mean_return']:.1f} ± {results[task_id]['std_return']:.1f}, "
              f"{results[task_id]['catastrophes']} catastrophes ({time.perf_counter() - started:.0f} s)", flush=True)
    payload = {**_meta(command), "tasks": results}
    ALONE_FILE.write_text(json.dumps(payload, indent=1) + "\n")
    (ROOT / "docs/results/envs_alone.json").write_text(json.dumps(payload, indent=1) + "\n")
    lines = ["| task | guide | guide alone: return (mean ± std) | catastrophes / episodes | mean episode length |",
             "|---|---|---|---|---|"]
    for task_id, r in results.items():
        lines.append(f"| {task_id} | {default_guide(task_id).name} | {r['mean_return']:.1f} ± {r['std_return']:.1f} "
                     f"| {r['catastrophes']} / {r['episodes']} | {r['mean_length']:.0f} |")
    write_section(ROOT / "docs/RESULTS.md", "envs-alone", "\n".join(lines), _meta(command),
                  note=f"deterministic episodes seeded {10_000}..{10_000 + episodes - 1}, the guide's policy at every step")


def speed(seconds: float, command: str) -> None:
    results = {}
    for task_id in TASKS:
        env = make_env(task_id)
        env.reset(seed=0)
        env.action_space.seed(0)
        actions = [env.action_space.sample() for _ in range(1000)]
        steps, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            _, _, terminated, truncated, _ = env.step(actions[steps % 1000])
            steps += 1
            if terminated or truncated:
                env.reset()
        results[task_id] = steps / (time.perf_counter() - started)
        print(f"{task_id}: {results[task_id]:.0f} steps/s", flush=True)
    (ROOT / "docs/results/envs_speed.json").write_text(json.dumps({**_meta(command), "steps_per_second": results}, indent=1) + "\n")
    lines = ["| task | env steps/s (random actions, through guidedrl's wrappers) |", "|---|---|"]
    lines += [f"| {task_id} | {value:.0f} |" for task_id, value in results.items()]
    write_section(ROOT / "docs/PERFORMANCE.md", "envs-speed", "\n".join(lines), _meta(command),
                  note=f"{seconds:.0f} s per task, one process")


def sac(tasks, seeds, steps: int, out: Path, command: str) -> None:
    """Train SAC (no guide) on ``tasks``; then tabulate every task whose runs are all finished."""
    for task_id in tasks:
        for seed in seeds:
            run_or_resume(out / f"{task_id}-sac-s{seed}", steps, env=task_id, algo="sac", guidance="none",
                          seed=seed)
    stored = stored_alone()
    results = {}
    for task_id in BUILT_IN:
        runs = [read_metrics(out / f"{task_id}-sac-s{seed}") for seed in seeds]
        if not all(rows and int(rows[-1]["step"]) >= steps for rows in runs):
            continue
        results[task_id] = {"final_eval_return": [float(rows[-1]["eval_return"]) for rows in runs],
                            "train_catastrophes": [int(rows[-1]["train_catastrophes"]) for rows in runs],
                            "train_episodes": [int(rows[-1]["train_episodes"]) for rows in runs],
                            "wall_time": [float(rows[-1]["wall_time"]) for rows in runs]}
    payload = {**_meta(command), "steps": steps, "seeds": list(seeds), "runs": results}
    (ROOT / "docs/results/envs_sac.json").write_text(json.dumps(payload, indent=1) + "\n")
    lines = [f"| task | guide alone: return | guide alone: catastrophes / episodes | SAC at {steps // 1000}k steps: "
             "eval return, mean [95% CI] | per seed | SAC: training catastrophes / episodes, per seed |",
             "|---|---|---|---|---|---|"]
    for task_id, r in results.items():
        mean, lo, hi = bootstrap_ci(r["final_eval_return"])
        g = stored.get(task_id, {})
        guide = f"{g['mean_return']:.1f} ± {g['std_return']:.1f}" if g else "—"
        guide_cat = f"{g['catastrophes']} / {g['episodes']}" if g else "—"
        lines.append(f"| {task_id} | {guide} | {guide_cat} | {mean:.1f} [{lo:.1f}, {hi:.1f}] | "
                     f"{', '.join(f'{v:.1f}' for v in r['final_eval_return'])} | "
                     f"{', '.join(f'{c} / {e}' for c, e in zip(r['train_catastrophes'], r['train_episodes']))} |")
    write_section(ROOT / "docs/RESULTS.md", "envs-sac", "\n".join(lines), _meta(command),
                  note="final evaluation (5 deterministic episodes) of each seed; 95% percentile-bootstrap "
                       "interval of the mean over seeds; guide alone from `python benchmarks/envs.py --alone`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alone", action="store_true")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--sac", action="store_true")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--tasks", nargs="+", default=BUILT_IN, choices=BUILT_IN, help="tasks to train SAC on")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/envs")
    args = parser.parse_args()
    command = "python benchmarks/envs.py " + shlex.join(sys.argv[1:])
    if args.alone:
        alone(args.episodes, command)
    if args.speed:
        speed(args.seconds, command)
    if args.sac:
        sac(args.tasks, args.seeds, args.steps, args.out.resolve(), command)


if __name__ == "__main__":
    main()
