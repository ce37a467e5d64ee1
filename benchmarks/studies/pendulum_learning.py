"""Learning check of the backbones: SAC and TD3 on Pendulum-v1, 20k steps, several seeds.

Each run uses guidedrl's defaults (the ones ``guidedrl train`` uses), evaluates every
2k steps on 5 deterministic episodes, and writes its run directory under --out. The
script prints a markdown table (final return per seed, how many seeds reach -250) and
writes it, with the raw numbers as JSON, next to the runs.

    python -m benchmarks.studies.pendulum_learning --seeds 0 1 2 3 4 --out benchmarks/out/pendulum
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.common import run_or_resume

THRESHOLD = -250.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=["sac", "td3"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--out", default="benchmarks/out/pendulum")
    args = parser.parse_args()
    out = Path(args.out)
    results = {}
    for algo in args.algos:
        for seed in args.seeds:
            rows = run_or_resume(out / f"{algo}-s{seed}", args.steps, env="Pendulum-v1", algo=algo,
                                 seed=seed)
            results[f"{algo}/{seed}"] = {
                "final_return": float(rows[-1]["eval_return"]),
                "curve": [(int(r["step"]), float(r["eval_return"])) for r in rows],
                "wall_time": float(rows[-1]["wall_time"]),
            }
    lines = [
        "| algo | " + " | ".join(f"seed {s}" for s in args.seeds)
        + f" | mean ± std | seeds ≥ {THRESHOLD:.0f} |",
        "|---|" + "---|" * (len(args.seeds) + 2),
    ]
    for algo in args.algos:
        finals = np.array([results[f"{algo}/{s}"]["final_return"] for s in args.seeds])
        lines.append(
            f"| {algo} | " + " | ".join(f"{v:.0f}" for v in finals)
            + f" | {finals.mean():.0f} ± {finals.std():.0f} | {int((finals >= THRESHOLD).sum())}/{len(finals)} |"
        )
    table = "\n".join(lines)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "table.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
