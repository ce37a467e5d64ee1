"""Each run of a ``guidedrl bench`` results.csv on its own: AUC, final return, training catastrophes.

The per-run numbers the report's IQMs and intervals are computed from
(``guidedrl.experiments.results.per_run``: AUC normalised per task over the whole file, final
return = mean of the evaluations in the last 10% of the budget), and the final return of the
actor alone (``eval_return_guide_free``, same window), one line per run, sorted by task,
strategy, backbone and seed; ``--task`` and ``--strategy`` keep only matching runs.

    python -m benchmarks.claims.per_run docs/results/sensitivity-pig/results.csv
    python -m benchmarks.claims.per_run docs/results/paper/results.csv --task PointMass-v0 --strategy pag
"""

from __future__ import annotations

import argparse

from guidedrl.experiments import results, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_csv", help="a results.csv written by guidedrl bench")
    parser.add_argument("--task", help="only this task")
    parser.add_argument("--strategy", help="only this strategy label, e.g. pag or pig[beta0=1,delta=0.9]")
    args = parser.parse_args()
    rows = results.read_results(args.results_csv)
    runs, curves = results.per_run(rows), results.curves(rows)
    print("task,strategy,backbone,seed,auc,final_return,train_catastrophes,final_return_guide_free")
    for (task, strategy, backbone, seed), measures in sorted(runs.items()):
        if args.task not in (None, task) or args.strategy not in (None, strategy):
            continue
        steps, run_rows = curves[task, strategy, backbone, seed]
        guide_free = stats.final_return(steps, [float(r["eval_return_guide_free"]) for r in run_rows])
        print(f"{task},\"{strategy}\",{backbone},{seed},{measures['auc']:.3f},"
              f"{measures['final_return']:.1f},{measures['train_catastrophes']:g},{guide_free:.1f}")


if __name__ == "__main__":
    main()
