"""docs/BENCHMARK.md's confidence claims, tested on the confidence suite's results.csv.

The suite runs SAG and PAG with the guide's own region (``sag``, ``pag``) and with the guide
trusted everywhere (``[region=always]``), each with the given λ and the learned ``q-gap``
confidence; JSRL (curriculum and ``[mode=random]``); and SAC alone (``none``). Per run
(``guidedrl.experiments.results.per_run``): final return, AUC, training catastrophes, and the
early return (the mean of the evaluations in the first 10% of the budget, as benchmarks/claims.py).
Per task, over seeds, rliable's probability of improvement P(X better than Y) with its 95%
stratified-bootstrap interval: "holds" when the whole interval is above 0.5, "reversed" when
below, "unresolved" otherwise.

1. With λ = always, q-gap recovers the return of the hand-written region. Three comparisons of
   final return per strategy g (SAG, PAG): what the wide region costs (g[region=always] vs g),
   what q-gap wins back (g[region=always,confidence=q-gap] vs g[region=always]), and whether it
   is all won back (g[region=always,confidence=q-gap] vs g: recovered when not reversed).
2. On the repulsive tasks, q-gap keeps the safety of SAG and PAG: P(fewer training
   catastrophes) of g[confidence=q-gap] and g[region=always,confidence=q-gap] against g (kept
   when not reversed); below the verdicts, the catastrophes per run of every strategy (IQM and
   its 95% interval).
3. JSRL against PAG with the hand-written region: early return, final return, fewer training
   catastrophes (jsrl and jsrl[mode=random] vs pag).
4. The risk confidence keeps a reflex's safety (docs/ALGORITHMS.md, "the risk confidence"): on the
   repulsive tasks, g[region=always,confidence=risk] and g[confidence=risk] against the
   hand-written region g (final return and fewer training catastrophes, "met" when not
   reversed); on the attractive tasks, g[region=always,confidence=risk] against
   g[region=always,confidence=q-gap] (final return, "met" when not reversed). Below the
   catastrophe table, the catastrophe targets: an IQM of at most 2 per run on SafeCartpole-v0
   and 6 on PointReach-v0 from λ = always, and the hand region's own IQM with it.

    python benchmarks/confidence_claims.py docs/results/confidence/results.csv --section confidence-claims
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from claims import REPULSIVE, early_returns, run_claims  # noqa: E402

from guidedrl.experiments import results, stats  # noqa: E402

GUIDED = ("sag", "pag")


def groups_of(rows):
    """(task, strategy) -> seed -> that run's measures."""
    runs = results.per_run(rows)
    early = early_returns(rows)
    groups = defaultdict(dict)
    for key, values in runs.items():
        task, strategy, _backbone, seed = key
        values = dict(values, early_return=early[key], fewer_catastrophes=-values["train_catastrophes"])
        groups[task, strategy][seed] = values
    return groups


def verdicts(groups, reps: int):
    def scores(task, strategy, measure):
        return np.array([v[measure] for _, v in sorted(groups[task, strategy].items())])

    def compare(claim, task, x, y, measure, label, reading=None):
        if (task, x) not in groups or (task, y) not in groups:
            return None
        p, low, high = stats.probability_of_improvement(scores(task, x, measure), scores(task, y, measure), reps=reps)
        verdict = "holds" if low > 0.5 else "reversed" if high < 0.5 else "unresolved"
        if reading is not None:  # a claim of "not worse": it stands unless reversed
            verdict = f"{reading if verdict != 'reversed' else 'not ' + reading} ({verdict})"
        return (claim, task, f"{x} vs {y}", label, f"{len(groups[task, x])} v {len(groups[task, y])}",
                f"{p:.2f} [{low:.2f}, {high:.2f}]", verdict)

    found = []
    for task in sorted({task for task, _ in groups}):
        for g in GUIDED:
            wide, learned = f"{g}[region=always]", f"{g}[region=always,confidence=q-gap]"
            found.append(compare(1, task, wide, g, "final_return", "final return higher"))
            found.append(compare(1, task, learned, wide, "final_return", "final return higher"))
            found.append(compare(1, task, learned, g, "final_return", "final return higher", "recovered"))
        if task in REPULSIVE:
            for g in GUIDED:
                for x in (f"{g}[confidence=q-gap]", f"{g}[region=always,confidence=q-gap]"):
                    found.append(compare(2, task, x, g, "fewer_catastrophes", "fewer training catastrophes", "kept"))
        for g in GUIDED:
            risky_wide, risky = f"{g}[region=always,confidence=risk]", f"{g}[confidence=risk]"
            if task in REPULSIVE:
                for x in (risky_wide, risky):
                    found.append(compare(4, task, x, g, "final_return", "final return higher", "met"))
                    found.append(compare(4, task, x, g, "fewer_catastrophes", "fewer training catastrophes", "met"))
            else:
                found.append(compare(4, task, risky_wide, f"{g}[region=always,confidence=q-gap]", "final_return",
                                     "final return higher", "met"))
        for x in ("jsrl", "jsrl[mode=random]"):
            for measure, label in (("early_return", "early return higher"), ("final_return", "final return higher"),
                                   ("fewer_catastrophes", "fewer training catastrophes")):
                found.append(compare(3, task, x, "pag", measure, label))
    return [row for row in found if row is not None]


def catastrophes(groups, reps: int):
    """Per repulsive task and strategy: training catastrophes per run, IQM [95% CI] and mean."""
    for task in sorted({task for task, _ in groups if task in REPULSIVE}):
        for strategy in sorted(s for t, s in groups if t == task):
            counts = np.array([v["train_catastrophes"] for _, v in sorted(groups[task, strategy].items())], float)
            point, low, high = stats.iqm_intervals({strategy: counts[:, None]}, reps=reps)[strategy]
            yield task, strategy, len(counts), point, low, high, float(counts.mean())


def _table_rows(rows, reps):
    groups = groups_of(rows)
    for row in verdicts(groups, reps):
        yield f"| {' | '.join(str(item) for item in row)} |"
    yield ""
    yield "Training catastrophes per run on the repulsive tasks:"
    yield ""
    yield "| task | strategy | runs | IQM [95% CI] | mean |"
    yield "|---|---|--:|--:|--:|"
    found = list(catastrophes(groups, reps))
    for task, strategy, n, point, low, high, mean in found:
        yield f"| {task} | {strategy} | {n} | {point:.1f} [{low:.1f}, {high:.1f}] | {mean:.1f} |"
    iqm = {(task, strategy): point for task, strategy, _n, point, *_ in found}
    yield ""
    yield "The risk confidence's catastrophe targets (IQM of training catastrophes per run):"
    yield ""
    yield "| task | strategy | target | IQM | verdict |"
    yield "|---|---|--:|--:|---|"
    for (task, strategy), point in sorted(iqm.items()):
        if strategy.endswith("confidence=risk]"):
            base = strategy.split("[")[0]
            target = RISK_TARGETS[task] if "region=always" in strategy else iqm.get((task, base))
            if target is not None:
                yield f"| {task} | {strategy} | {target:.1f} | {point:.1f} | {'met' if point <= target else 'missed'} |"


RISK_TARGETS = {"SafeCartpole-v0": 2.0, "PointReach-v0": 6.0}
"""From λ = always: at most this many training catastrophes per run (IQM); with the hand-written
region, the target is that region's own IQM (0 on both tasks)."""


def main() -> None:
    run_claims(__doc__, "| claim | task | comparison | measure | runs | P(X better than Y) [95% CI] | verdict |\n"
                        "|--:|---|---|---|--:|--:|---|", _table_rows, "confidence_claims.py",
               "probability of improvement over seeds, rliable, {reps} resamples")


if __name__ == "__main__":
    main()
