"""What the LQR guide buys on Pendulum-v1: every strategy on the SAC backbone, several seeds.

Runs none, rg, sag, pig, pag and residual with the built-in ``lqr`` guide (the strategies'
default coefficients), evaluating every 2k steps on 5 deterministic episodes, and reports
per strategy, with 95% percentile-bootstrap intervals of the mean over seeds:

- normalised AUC: the trapezoidal mean over the run of (R - R_min) / (R_max - R_min), with
  R_min and R_max the lowest and highest evaluation returns seen in the whole table, so 1
  would be "best return from the first evaluation on";
- final return: the mean of the last 10% of evaluations (at 20k steps: the last one);
- the guide alone: the deployed policy of an untrained SAG agent (the guide acts where it is
  trusted, the untrained actor elsewhere), i.e. the step-0 evaluation of the sag runs.

    python -m benchmarks.studies.pendulum_guides --seeds 0 1 2 3 4 --steps 20000 --hidden 64 64
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import guidedrl
from guidedrl.experiments import stats
from guidedrl.experiments.stats import mean_interval

from benchmarks.common import run_or_resume


def curve(rows):
    return np.array([int(r["step"]) for r in rows]), np.array([float(r["eval_return"]) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=["none", "rg", "sag", "pig", "pag", "residual"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--hidden", nargs="+", type=int, default=[64, 64])
    parser.add_argument("--out", default="benchmarks/out/pendulum-guides")
    args = parser.parse_args()
    out = Path(args.out)
    runs = {}
    for seed in args.seeds:  # seeds outermost: a partial table already covers every strategy
        for name in args.strategies:
            guide = guidedrl.names.resolve_guide("lqr", "Pendulum-v1") if name != "none" else None
            runs[name, seed] = run_or_resume(
                out / f"{name}-s{seed}", args.steps, env="Pendulum-v1", algo="sac", guidance=name,
                guide=guide, seed=seed, hidden_sizes=tuple(args.hidden))

    all_returns = np.concatenate([curve(rows)[1] for rows in runs.values()])
    r_min, r_max = float(all_returns.min()), float(all_returns.max())

    def auc(rows):
        return stats.normalized_auc(*curve(rows), low=r_min, high=r_max)

    def final(rows):
        return stats.final_return(*curve(rows))

    table = {}
    for name in args.strategies:
        rows = [runs[name, s] for s in args.seeds]
        table[name] = {
            "auc": mean_interval([auc(r) for r in rows]),
            "final": mean_interval([final(r) for r in rows]),
            "guide_usage": float(np.mean([np.mean([float(x["guide_usage"]) for x in r[1:]]) for r in rows])),
            "final_guide_free": float(np.mean([float(r[-1]["eval_return_guide_free"]) for r in rows])),
        }
    if "sag" in args.strategies:
        table["guide alone"] = {"start": mean_interval([float(runs["sag", s][0]["eval_return"]) for s in args.seeds])}
    if "none" in args.strategies:
        table["untrained actor"] = {
            "start": mean_interval([float(runs["none", s][0]["eval_return"]) for s in args.seeds])}

    fmt = lambda m: f"{m[0]:.3f} [{m[1]:.3f}, {m[2]:.3f}]"
    fmt_r = lambda m: f"{m[0]:.0f} [{m[1]:.0f}, {m[2]:.0f}]"
    lines = ["| strategy | normalised AUC | final return | final return, actor alone | guide usage (training) |",
             "|---|---|---|---|---|"]
    for name in args.strategies:
        t = table[name]
        lines.append(f"| {name} | {fmt(t['auc'])} | {fmt_r(t['final'])} | {t['final_guide_free']:.0f} | "
                     f"{t['guide_usage']:.2f} |")
    for ref in ("guide alone", "untrained actor"):
        if ref in table:
            lines.append(f"| {ref} (at step 0) | — | {fmt_r(table[ref]['start'])} | — | — |")
    lines.append("")
    lines.append(f"Normalisation: R_min = {r_min:.0f}, R_max = {r_max:.0f} (over all evaluations in the table).")
    text = "\n".join(lines)
    print(text)
    (out / "table.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps(
        {"table": table, "curves": {f"{k[0]}/{k[1]}": [(int(r["step"]), float(r["eval_return"])) for r in v]
                                    for k, v in runs.items()}}, indent=1))


if __name__ == "__main__":
    main()
