"""A first look at offline-to-online training: AWAC, SAC with the dataset preloaded, and SAC from
scratch on one task, a few seeds (the full study is ``guidedrl bench --suite offline``).

    python -m benchmarks.studies.offline_first_look                       # PointMass-v0, 3 seeds
    python -m benchmarks.studies.offline_first_look --seeds 3 --jobs 2 --online-steps 50000

The dataset is the task's default guide's own rollouts with Gaussian action noise ("medium",
stochastic), made with ``guidedrl dataset collect`` if it is not in the local Minari store yet
(``MINARI_DATASETS_PATH``; default here: benchmarks/out/minari). Runs go to
benchmarks/out/offline-first-look/<method>-s<seed> and resume when re-run; the table is written to
docs/results/offline_first_look.json and printed. Each run: 64-64 networks, batch 256, AWAC's
offline phase of --offline-steps gradient steps evaluated every 2,500, then --online-steps
environment steps evaluated every 5,000, 5 deterministic episodes per evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.common import OUT, ROOT, XLA_ONE_THREAD, command

METHODS = {
    "awac": dict(algo="awac", guidance="none", offline=True, dataset=True),
    "sac-preloaded": dict(algo="sac", guidance="none", offline=False, dataset=True),
    "sac-scratch": dict(algo="sac", guidance="none", offline=False, dataset=False),
}


def dataset_id(task: str, noise: float) -> str:
    return f"guidedrl/{task.split('-v')[0].lower()}-medium-noise{round(100 * noise)}-v0"


def ensure_dataset(task: str, episodes: int, noise: float, env: dict) -> str:
    """The dataset's id, collecting it first if the store does not hold it."""
    name = dataset_id(task, noise)
    listed = subprocess.run([sys.executable, "-m", "guidedrl.cli", "dataset", "list", "--json"], env=env,
                            capture_output=True, text=True, check=True).stdout
    if name not in listed:
        command = [sys.executable, "-m", "guidedrl.cli", "dataset", "collect", "--env", task, "--policy", "guide",
                   "--episodes", str(episodes), "--noise", str(noise), "--seed", "0", "--id", name, "--no-progress"]
        print("collecting:", shlex.join(command[2:]), flush=True)
        subprocess.run(command, env=env, check=True)
    return name


def train_command(task: str, method: str, seed: int, args, name: str) -> list:
    spec = METHODS[method]
    out = OUT / "offline-first-look" / f"{task}-{method}-s{seed}"
    if (out / "checkpoint").exists():
        return [sys.executable, "-m", "guidedrl.cli", "train", "--resume", str(out), "--no-progress"]
    command = [sys.executable, "-m", "guidedrl.cli", "train", "--env", task, "--algo", spec["algo"], "--guidance",
               spec["guidance"], "--steps", str(args.online_steps), "--seed", str(seed), "--out", str(out),
               "--hidden-sizes", "64", "64", "--batch-size", "256", "--eval-every", "5000", "--eval-episodes", "5",
               "--checkpoint-every", "5000", "--no-progress"]
    if spec["dataset"]:
        command += ["--dataset", name]
    if spec["offline"]:
        command += ["--offline-steps", str(args.offline_steps), "--offline-eval-every", "2500"]
    return command


def run(command: list, env: dict) -> None:
    out = Path(command[command.index("--out") + 1]) if "--out" in command else Path(command[command.index("--resume") + 1])
    if (out / "metrics.csv").exists() and (out / "done").exists():
        return
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    (out / "done").write_text("")
    print(f"finished {out.name}", flush=True)


def summarise(task: str, seeds: int) -> dict:
    from guidedrl.training.logging import read_metrics

    table = {}
    for method in METHODS:
        rows = []
        for seed in range(seeds):
            metrics = read_metrics(OUT / "offline-first-look" / f"{task}-{method}-s{seed}")
            offline = [r for r in metrics if r["phase"] == "offline"]
            online = [r for r in metrics if r["phase"] == "online"]
            start = float(offline[-1]["eval_return"]) if offline else float(metrics[0]["eval_return"])
            rows.append({
                "seed": seed,
                "offline_end": float(offline[-1]["eval_return"]) if offline else None,
                "online": [(int(r["step"]), float(r["eval_return"])) for r in online],
                "first_online": [float(r["eval_return"]) for r in online[:2]],
                "dip": min(float(r["eval_return"]) for r in online[:2]) - start,
                "final": float(online[-1]["eval_return"]),
                "train_catastrophes": int(online[-1]["train_catastrophes"]),
                "wall_time": float(metrics[-1]["wall_time"]),
            })
        table[method] = rows
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="PointMass-v0")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=100, help="dataset episodes")
    parser.add_argument("--noise", type=float, default=0.3, help="Gaussian action noise of the dataset's guide")
    parser.add_argument("--offline-steps", type=int, default=25_000)
    parser.add_argument("--online-steps", type=int, default=50_000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("MINARI_DATASETS_PATH", str(OUT / "minari"))
    env.setdefault("MUJOCO_GL", "disable")
    env["XLA_FLAGS"] = XLA_ONE_THREAD
    name = ensure_dataset(args.task, args.episodes, args.noise, env)
    info = json.loads(subprocess.run([sys.executable, "-m", "guidedrl.cli", "dataset", "info", name, "--json"],
                                     env=env, capture_output=True, text=True, check=True).stdout)
    commands = [train_command(args.task, method, seed, args, name) for seed in range(args.seeds) for method in METHODS]
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda c: run(c, env), commands))
    table = summarise(args.task, args.seeds)
    result = {"command": command(__spec__.name), "task": args.task,
              "dataset": {"id": name, "episodes": info.get("episodes"), "steps": info.get("steps"),
                          "mean_return": info.get("mean_return"), "command": info.get("command")},
              "offline_steps": args.offline_steps, "online_steps": args.online_steps, "runs": table}
    target = ROOT / "docs" / "results" / "offline_first_look.json"
    target.write_text(json.dumps(result, indent=1))
    print(f"dataset {name}: {info.get('episodes')} episodes, {info.get('steps')} steps, "
          f"mean return {info.get('mean_return'):.1f}")
    print("| method | seed | offline end | first online evaluations | dip | final | training catastrophes |")
    print("|---|---|---|---|---|---|---|")
    for method, rows in table.items():
        for row in rows:
            end = "—" if row["offline_end"] is None else f"{row['offline_end']:.1f}"
            first = ", ".join(f"{v:.1f}" for v in row["first_online"])
            print(f"| {method} | {row['seed']} | {end} | {first} | {row['dip']:.1f} | {row['final']:.1f} | "
                  f"{row['train_catastrophes']} |")
    for method, rows in table.items():
        print(f"{method}: mean final {np.mean([r['final'] for r in rows]):.1f}")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
