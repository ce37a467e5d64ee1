"""docs/BENCHMARK.md's claims, tested on a suite's results.csv: the verdicts docs/RESULTS.md shows.

Each claim becomes comparisons between strategies on one task (and backbone), over seeds: the
probability that a run of X does better than a run of Y (rliable's probability of improvement,
:func:`guidedrl.experiments.stats.probability_of_improvement`, 95% stratified-bootstrap
interval). A comparison holds when the whole interval is above 0.5, is reversed when it is below,
and is unresolved otherwise (:func:`verdict`). Per-run measures come from
:mod:`guidedrl.experiments.results` and :func:`guidedrl.experiments.stats.early_return`.

- The paper suite's four claims (:func:`paper_comparisons`; the ablation-target suite's claim 4):

  1. SAG and PAG start above SAC (early return); PAG's AUC is at least SAG's, PIG's and RG's.
  2. On repulsive tasks SAG and PAG have fewer training catastrophes than SAC and PIG.
  3. PAG's final return is at least SAG's.
  4. The switched critic target beats the actor's (AUC, the measure set before the runs; final
     return as a second look, added after the first ablation results).

  :func:`against_table` sets each verdict beside its verdict on a rerun of the same suite.

- The offline suite's claims 1-4 (:func:`offline_verdicts`; claim 5, against d3rlpy, is a
  benchmark's), per task, the early return taken over the online curve:

  1. AWAC starts online above SAC from scratch: P(early online return of awac > sac's).
  2. AWAC's dip is smaller than naive SAC fine-tuning's: P(dip of awac > dip of sac-offline)
     (a dip is negative when the run drops; higher is a smaller drop).
  3. AWAC improves online beyond its offline score: the IQM over seeds of final return minus
     offline-end score, with its 95% stratified-bootstrap interval; holds when it is above 0.
  4. With the guide online, AWAC + SAG / AWAC + PAG have fewer training catastrophes than AWAC
     alone on SafeCartpole-v0 (P(fewer) above 0.5) at no lower final return (P(higher) not below 0.5).

- The confidence suite's claims (:func:`confidence_verdicts`, :func:`confidence_table`). The suite
  runs SAG and PAG with the guide's own region (``sag``, ``pag``) and with the guide trusted
  everywhere (``[region=always]``), each with the given λ and the learned ``q-gap`` and ``risk``
  confidences; JSRL (curriculum and ``[mode=random]``); and SAC alone (``none``). Per task:

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
     catastrophe table, the catastrophe targets (:data:`RISK_TARGETS`).

Each ``*_table`` function yields the markdown rows of its table (the benchmarks' claims scripts
print them and write them into docs/RESULTS.md).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from guidedrl.experiments import results, stats

REPULSIVE = ("SafeCartpole-v0", "PointCircle-v0", "PointReach-v0")
"""The tasks whose guide is a safety reflex (claims on catastrophes are judged there)."""
SAFE_TASK = "SafeCartpole-v0"
"""The offline suite's task with catastrophes (its claim 4)."""
GUIDED = ("sag", "pag")
"""The strategies the confidence suite varies the region and the confidence of."""
RISK_TARGETS = {"SafeCartpole-v0": 2.0, "PointReach-v0": 6.0}
"""From λ = always: at most this many training catastrophes per run (IQM); with the hand-written
region, the target is that region's own IQM (0 on both tasks)."""

PAPER_HEADER = ("| claim | task | backbone | comparison | measure | runs | P(X better than Y) [95% CI] | verdict |\n"
                "|--:|---|---|---|---|--:|--:|---|")
OFFLINE_HEADER = ("| claim | task | comparison | measure | runs | estimate [95% CI] | verdict |\n"
                  "|--:|---|---|---|--:|--:|---|")
CONFIDENCE_HEADER = ("| claim | task | comparison | measure | runs | P(X better than Y) [95% CI] | verdict |\n"
                     "|--:|---|---|---|--:|--:|---|")


def verdict(low: float, high: float, threshold: float = 0.5) -> str:
    """"holds" when the interval [low, high] is above ``threshold``, "reversed" below, else
    "unresolved"."""
    return "holds" if low > threshold else "reversed" if high < threshold else "unresolved"


def early_returns(rows) -> Dict[Tuple[str, str, str, int], float]:
    """Per run: the mean eval return over the first 10% of its budget (:func:`stats.early_return`)."""
    return {key: stats.early_return(steps, [float(r["eval_return"]) for r in run])
            for key, (steps, run) in results.curves(rows).items()}


def _scores(runs: Dict[int, Dict[str, float]], measure: str) -> np.ndarray:
    """One measure of a group's runs, in seed order."""
    return np.array([values[measure] for _, values in sorted(runs.items())])


# -- the paper suite ---------------------------------------------------------------------------

def paper_comparisons(rows, reps: int) -> List[tuple]:
    """The paper suite's comparisons on ``rows``: (claim, task, backbone, "X vs Y", measure label,
    runs of X, runs of Y, P, low, high, verdict), for every pair whose runs are in ``rows``."""
    runs = results.per_run(rows)
    early = early_returns(rows)
    for key in runs:
        runs[key]["early_return"] = early[key]
        runs[key]["fewer_catastrophes"] = -runs[key]["train_catastrophes"]
    groups: Dict[Tuple[str, str, str], Dict[int, Dict[str, float]]] = defaultdict(dict)
    for (task, strategy, backbone, seed), values in runs.items():
        groups[task, backbone, strategy][seed] = values
    tasks = sorted({(t, b) for t, b, _ in groups})

    def compare(claim, task, backbone, x, y, measure, label):
        if (task, backbone, x) not in groups or (task, backbone, y) not in groups:
            return None
        xs, ys = _scores(groups[task, backbone, x], measure), _scores(groups[task, backbone, y], measure)
        p, low, high = stats.probability_of_improvement(xs, ys, reps=reps)
        return (claim, task, backbone, f"{x} vs {y}", label, len(xs), len(ys), p, low, high, verdict(low, high))

    found = []
    for task, backbone in tasks:
        for x in ("sag", "pag"):
            found.append(compare(1, task, backbone, x, "none", "early_return", "early return higher"))
        for y in ("sag", "pig", "rg"):
            found.append(compare(1, task, backbone, "pag", y, "auc", "AUC higher"))
        if task in REPULSIVE:
            for x in ("sag", "pag"):
                for y in ("none", "pig"):
                    found.append(compare(2, task, backbone, x, y, "fewer_catastrophes", "fewer catastrophes"))
        found.append(compare(3, task, backbone, "pag", "sag", "final_return", "final return higher"))
        for g in ("sag", "pag"):
            for measure, label in (("auc", "AUC higher"), ("final_return", "final return higher")):
                found.append(compare(4, task, backbone, f"{g}[target=switched]", f"{g}[target=actor]", measure,
                                     label))
    return [row for row in found if row is not None]


def paper_table(rows, reps: int) -> Iterator[str]:
    """The rows of the paper claims' table (under :data:`PAPER_HEADER`)."""
    for claim, task, backbone, pair, label, nx, ny, p, low, high, outcome in paper_comparisons(rows, reps):
        yield (f"| {claim} | {task} | {backbone} | {pair} | {label} | {nx} v {ny} | "
               f"{p:.2f} [{low:.2f}, {high:.2f}] | {outcome} |")


def against_table(rows, other_rows, reps: int) -> str:
    """Each comparison on ``rows`` beside the same comparison on ``other_rows``, and which
    verdicts moved (a comparison found in only one of them is listed as such)."""
    mine = {c[:5]: c for c in paper_comparisons(rows, reps)}
    theirs = {c[:5]: c for c in paper_comparisons(other_rows, reps)}
    lines = ["| claim | task | backbone | comparison | measure | P here [95% CI] | verdict here | P there [95% CI] "
             "| verdict there | moved |", "|--:|---|---|---|---|--:|---|--:|---|---|"]
    moved, missing, keys = [], 0, sorted(set(mine) | set(theirs), key=lambda k: (k[0], k[1], k[2], k[3], k[4]))

    def cell(c):
        return (f"{c[7]:.2f} [{c[8]:.2f}, {c[9]:.2f}]", c[10]) if c else ("—", "not compared")

    for key in keys:
        (p_here, v_here), (p_there, v_there) = cell(mine.get(key)), cell(theirs.get(key))
        compared = key in mine and key in theirs
        change = f"**{v_there} → {v_here}**" if compared and v_here != v_there else ""
        if change:
            moved.append(key)
        elif not compared:
            missing += 1
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {p_here} | {v_here} | {p_there} | "
                     f"{v_there} | {change} |")
    lines += ["", f"{len(moved)} of {len(keys) - missing} verdicts moved"
              + (": " + "; ".join(f"claim {k[0]}, {k[1]} {k[2]}, {k[3]} ({k[4]})" for k in moved) if moved else "")
              + "." + (f" {missing} comparisons have runs on one side only." if missing else "")]
    return "\n".join(lines)


# -- the offline suite -------------------------------------------------------------------------

def offline_per_run(rows) -> Dict[Tuple[str, str, str, int], Dict[str, float]]:
    """:func:`results.offline_per_run`'s measures plus ``early_return`` (over the online curve, its
    start included), ``improvement`` (final return - offline end) and ``fewer_catastrophes``."""
    runs = results.offline_per_run(rows)
    by_run = defaultdict(list)
    for row in rows:
        by_run[tuple(row[k] for k in results.KEYS)].append(row)
    for key, values in runs.items():
        _, curve = results.online_curve(by_run[key])
        values["early_return"] = stats.early_return([step for step, _ in curve],
                                                    [float(r["eval_return"]) for _, r in curve])
        values["improvement"] = values["final_return"] - values["offline_end"]
        values["fewer_catastrophes"] = -values["train_catastrophes"]
    return runs


def offline_verdicts(rows, reps: int) -> List[tuple]:
    """The offline suite's claims on ``rows``: (claim, task, "X vs Y", measure label, runs,
    estimate [95% CI], verdict)."""
    groups: Dict[Tuple[str, str], Dict[int, Dict[str, float]]] = defaultdict(dict)
    for (task, strategy, _backbone, seed), values in offline_per_run(rows).items():
        groups[task, strategy][seed] = values

    def compare(claim, task, x, y, measure, label):
        if (task, x) not in groups or (task, y) not in groups:
            return None
        p, low, high = stats.probability_of_improvement(_scores(groups[task, x], measure),
                                                        _scores(groups[task, y], measure), reps=reps)
        return (claim, task, f"{x} vs {y}", label, f"{len(groups[task, x])} v {len(groups[task, y])}",
                f"P = {p:.2f} [{low:.2f}, {high:.2f}]", verdict(low, high))

    found = []
    for task in sorted({task for task, _ in groups}):
        found.append(compare(1, task, "awac", "sac", "early_return", "early online return higher"))
        found.append(compare(2, task, "awac", "sac-offline", "dip", "smaller dip"))
        if (task, "awac") in groups:
            gains = _scores(groups[task, "awac"], "improvement")
            point, low, high = stats.iqm_intervals({"awac": gains[:, None]}, reps=reps)["awac"]
            found.append((3, task, "awac", "final return - offline end", str(len(gains)),
                          f"IQM = {point:.1f} [{low:.1f}, {high:.1f}]", verdict(low, high, threshold=0.0)))
        if task == SAFE_TASK:
            for x in ("awac+sag", "awac+pag"):
                found.append(compare(4, task, x, "awac", "fewer_catastrophes", "fewer training catastrophes"))
                found.append(compare(4, task, x, "awac", "final_return",
                                     "final return higher (no lower: not reversed)"))
    return [row for row in found if row is not None]


def offline_table(rows, reps: int) -> Iterator[str]:
    """The rows of the offline claims' table (under :data:`OFFLINE_HEADER`)."""
    for row in offline_verdicts(rows, reps):
        yield f"| {' | '.join(str(item) for item in row)} |"


# -- the confidence suite ----------------------------------------------------------------------

def confidence_groups(rows) -> Dict[Tuple[str, str], Dict[int, Dict[str, float]]]:
    """(task, strategy) -> seed -> that run's measures (:func:`results.per_run`'s, the early
    return and ``fewer_catastrophes``)."""
    runs = results.per_run(rows)
    early = early_returns(rows)
    groups: Dict[Tuple[str, str], Dict[int, Dict[str, float]]] = defaultdict(dict)
    for key, values in runs.items():
        task, strategy, _backbone, seed = key
        values = dict(values, early_return=early[key], fewer_catastrophes=-values["train_catastrophes"])
        groups[task, strategy][seed] = values
    return groups


def confidence_verdicts(groups, reps: int) -> List[tuple]:
    """The confidence suite's claims on ``groups`` (:func:`confidence_groups`): (claim, task,
    "X vs Y", measure label, runs, P [95% CI], verdict); a claim of "not worse" reads "<reading>
    (<verdict>)", or "not <reading>" when reversed."""
    def compare(claim, task, x, y, measure, label, reading: Optional[str] = None):
        if (task, x) not in groups or (task, y) not in groups:
            return None
        p, low, high = stats.probability_of_improvement(_scores(groups[task, x], measure),
                                                        _scores(groups[task, y], measure), reps=reps)
        outcome = verdict(low, high)
        if reading is not None:  # a claim of "not worse": it stands unless reversed
            outcome = f"{reading if outcome != 'reversed' else 'not ' + reading} ({outcome})"
        return (claim, task, f"{x} vs {y}", label, f"{len(groups[task, x])} v {len(groups[task, y])}",
                f"{p:.2f} [{low:.2f}, {high:.2f}]", outcome)

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


def confidence_catastrophes(groups, reps: int) -> Iterator[tuple]:
    """Per repulsive task and strategy: (task, strategy, runs, IQM, low, high, mean) of the
    training catastrophes per run (IQM with its 95% stratified-bootstrap interval)."""
    for task in sorted({task for task, _ in groups if task in REPULSIVE}):
        for strategy in sorted(s for t, s in groups if t == task):
            counts = np.array([v["train_catastrophes"] for _, v in sorted(groups[task, strategy].items())], float)
            point, low, high = stats.iqm_intervals({strategy: counts[:, None]}, reps=reps)[strategy]
            yield task, strategy, len(counts), point, low, high, float(counts.mean())


def confidence_table(rows, reps: int) -> Iterator[str]:
    """The rows of the confidence claims' table (under :data:`CONFIDENCE_HEADER`), then the
    catastrophes per run and the risk confidence's catastrophe targets."""
    groups = confidence_groups(rows)
    for row in confidence_verdicts(groups, reps):
        yield f"| {' | '.join(str(item) for item in row)} |"
    yield ""
    yield "Training catastrophes per run on the repulsive tasks:"
    yield ""
    yield "| task | strategy | runs | IQM [95% CI] | mean |"
    yield "|---|---|--:|--:|--:|"
    found = list(confidence_catastrophes(groups, reps))
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
