"""docs/BENCHMARK.md's offline-to-online claims 1-4, tested on the offline suite's results.csv (claim 5,
against d3rlpy, is benchmarks/d3rlpy_awac.py's).

Per run (``guidedrl.experiments.results.offline_per_run``, plus the early online return: the
mean of the online evaluations in the first 10% of the online budget, its start included), per
task, over seeds:

1. AWAC starts online above SAC from scratch: P(early online return of awac > sac's).
2. AWAC's dip is smaller than naive SAC fine-tuning's: P(dip of awac > dip of sac-offline)
   (a dip is negative when the run drops; higher is a smaller drop).
3. AWAC improves online beyond its offline score: the IQM over seeds of final return minus
   offline-end score, with its 95% stratified-bootstrap interval; holds when it is above 0.
4. With the guide online, AWAC + SAG / AWAC + PAG have fewer training catastrophes than AWAC
   alone on SafeCartpole-v0 (P(fewer) above 0.5) at no lower final return (P(higher) not below 0.5).

A probability comparison holds when its whole 95% interval is above 0.5, is reversed when it is
below, and is unresolved otherwise (rliable's probability of improvement, as benchmarks/claims.py).

    python benchmarks/offline_claims.py docs/results/offline/results.csv --section offline-claims
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from claims import run_claims  # noqa: E402

from guidedrl.experiments import results, stats  # noqa: E402
from guidedrl.experiments.results import KEYS, online_curve  # noqa: E402

SAFE_TASK = "SafeCartpole-v0"


def per_run(rows):
    """offline_per_run's measures plus ``early_return`` and ``improvement`` (final - offline end)."""
    runs = results.offline_per_run(rows)
    by_run = defaultdict(list)
    for row in rows:
        by_run[tuple(row[k] for k in KEYS)].append(row)
    for key, values in runs.items():
        _, curve = online_curve(by_run[key])
        steps = np.array([step for step, _ in curve], float)
        returns = np.array([float(r["eval_return"]) for _, r in curve])
        values["early_return"] = float(returns[steps <= 0.1 * steps[-1]].mean())
        values["improvement"] = values["final_return"] - values["offline_end"]
        values["fewer_catastrophes"] = -values["train_catastrophes"]
    return runs


def verdicts(rows, reps: int):
    groups = defaultdict(dict)
    for (task, strategy, _backbone, seed), values in per_run(rows).items():
        groups[task, strategy][seed] = values

    def scores(task, strategy, measure):
        return np.array([v[measure] for _, v in sorted(groups[task, strategy].items())])

    def compare(claim, task, x, y, measure, label):
        if (task, x) not in groups or (task, y) not in groups:
            return None
        p, low, high = stats.probability_of_improvement(scores(task, x, measure), scores(task, y, measure), reps=reps)
        verdict = "holds" if low > 0.5 else "reversed" if high < 0.5 else "unresolved"
        return (claim, task, f"{x} vs {y}", label, f"{len(groups[task, x])} v {len(groups[task, y])}",
                f"P = {p:.2f} [{low:.2f}, {high:.2f}]", verdict)

    found = []
    for task in sorted({task for task, _ in groups}):
        found.append(compare(1, task, "awac", "sac", "early_return", "early online return higher"))
        found.append(compare(2, task, "awac", "sac-offline", "dip", "smaller dip"))
        if (task, "awac") in groups:
            gains = scores(task, "awac", "improvement")
            point, low, high = stats.iqm_intervals({"awac": gains[:, None]}, reps=reps)["awac"]
            verdict = "holds" if low > 0 else "reversed" if high < 0 else "unresolved"
            found.append((3, task, "awac", "final return - offline end", str(len(gains)),
                          f"IQM = {point:.1f} [{low:.1f}, {high:.1f}]", verdict))
        if task == SAFE_TASK:
            for x in ("awac+sag", "awac+pag"):
                found.append(compare(4, task, x, "awac", "fewer_catastrophes", "fewer training catastrophes"))
                found.append(compare(4, task, x, "awac", "final_return", "final return higher (no lower: not reversed)"))
    return [row for row in found if row is not None]


def main() -> None:
    run_claims(__doc__, "| claim | task | comparison | measure | runs | estimate [95% CI] | verdict |\n"
                        "|--:|---|---|---|--:|--:|---|",
               lambda rows, reps: (f"| {' | '.join(str(item) for item in row)} |" for row in verdicts(rows, reps)),
               "offline_claims.py", "over seeds, rliable, {reps} resamples")


if __name__ == "__main__":
    main()
