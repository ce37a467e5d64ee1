"""Tidy results and their summary: from run directories to ``results.csv`` to per-(task,
strategy, backbone) statistics.

``results.csv`` has one row per (task, strategy, backbone, seed, evaluation step) with the
run's logged metrics; :func:`summarize` computes, from those rows alone, what docs/BENCHMARK.md asks
per (task, strategy, backbone): IQM and 95% stratified-bootstrap interval over seeds of the
normalised AUC, the final return and the training catastrophes, and the probability of
improvement (on AUC) over SAC without a guide on the same backbone and task.

The AUC of a task is normalised by the lowest and highest evaluation return seen on that task
in the whole table, so its numbers depend on which runs the table holds (as the paper's).
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from guidedrl.experiments import stats

KEYS = ("task", "strategy", "backbone", "seed")
METRICS = ("eval_return", "eval_return_std", "eval_return_guide_free", "eval_catastrophes",
           "train_episodes", "train_return", "train_catastrophes", "guide_usage", "steps_per_second",
           "wall_time")
PHASE_COLUMNS = ("phase", "offline_step")
"""Where an evaluation stands in a run with an offline phase (metrics.csv's columns): ``phase``
offline / online, ``offline_step`` the offline gradient steps done. An offline row's ``step`` is 0."""
RESULT_COLUMNS = KEYS + ("step",) + PHASE_COLUMNS + METRICS
BASELINE = "none"
"""The strategy every other is compared with (SAC or TD3 without a guide)."""
OFFLINE, ONLINE = "offline", "online"


def run_rows(metrics_rows: Iterable[Mapping[str, object]], task: str, strategy: str, backbone: str,
             seed: int) -> List[Dict[str, object]]:
    """A run's metrics.csv rows as tidy result rows (a row without the phase columns, from a
    run older than them, is online with no offline step)."""
    return [{"task": task, "strategy": strategy, "backbone": backbone, "seed": int(seed),
             "step": int(row["step"]), **_phase(row), **{name: row.get(name, math.nan) for name in METRICS}}
            for row in metrics_rows]


def _phase(row: Mapping[str, object]) -> Dict[str, object]:
    phase, offline_step = row.get("phase"), row.get("offline_step")
    return {"phase": phase if phase not in ("", None) else ONLINE,
            "offline_step": int(offline_step) if offline_step not in ("", None) else 0}


def write_atomic(path: Union[str, os.PathLike], write: Callable, mode: str = "w") -> None:
    """Write through ``write(handle)`` to a temporary file, then move it over ``path``: a reader
    (or an interrupted run) never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, mode, **({"newline": ""} if "b" not in mode else {})) as handle:
        write(handle)
    os.replace(tmp, path)


def write_results(path: Union[str, os.PathLike], rows: Sequence[Mapping[str, object]]) -> None:
    """Write tidy rows to ``path`` (atomically)."""
    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**{name: row.get(name, "") for name in RESULT_COLUMNS}, **_phase(row)})
    write_atomic(path, write)


def read_results(path: Union[str, os.PathLike]) -> List[Dict[str, object]]:
    """The rows of a results.csv, numbers parsed (missing values as NaN; a results.csv without
    the phase columns, written before them, has online rows only)."""
    rows = []
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            row: Dict[str, object] = {"task": raw["task"], "strategy": raw["strategy"],
                                      "backbone": raw["backbone"], "seed": int(raw["seed"]),
                                      "step": int(raw["step"]), **_phase(raw)}
            for name in METRICS:
                value = raw.get(name, "")
                row[name] = float(value) if value not in ("", None) else math.nan
            rows.append(row)
    return rows


def curves(rows) -> Dict[Tuple[str, str, str, int], Tuple[np.ndarray, List[Mapping]]]:
    """Each run's rows in step order, with their steps."""
    runs: Dict[Tuple[str, str, str, int], List[Mapping]] = defaultdict(list)
    for row in rows:
        runs[tuple(row[k] for k in KEYS)].append(row)
    ordered = {key: sorted(rs, key=lambda r: r["step"]) for key, rs in runs.items()}
    return {key: (np.array([r["step"] for r in rs]), rs) for key, rs in ordered.items()}


def per_run(rows: Sequence[Mapping[str, object]]) -> Dict[Tuple[str, str, str, int], Dict[str, float]]:
    """Per run: normalised AUC (per-task reference returns), final return, training catastrophes."""
    by_run = curves(rows)
    bounds: Dict[str, List[float]] = defaultdict(list)
    for (task, *_), (_, rs) in by_run.items():
        bounds[task].extend(float(r["eval_return"]) for r in rs)
    out = {}
    for key, (steps, rs) in by_run.items():
        returns = np.array([float(r["eval_return"]) for r in rs])
        low, high = min(bounds[key[0]]), max(bounds[key[0]])
        out[key] = {
            "auc": stats.normalized_auc(steps, returns, low, high) if high > low else math.nan,
            "final_return": stats.final_return(steps, returns),
            "train_catastrophes": float(rs[-1]["train_catastrophes"]),
        }
    return out


def summarize(rows: Sequence[Mapping[str, object]], reps: int = 10_000, seed: int = 0) -> List[Dict[str, object]]:
    """One summary row per (task, strategy, backbone): IQM [95% CI] over seeds of AUC, final
    return and training catastrophes, and P(improvement over ``none``) on AUC."""
    runs = per_run(rows)
    groups: Dict[Tuple[str, str, str], Dict[int, Dict[str, float]]] = defaultdict(dict)
    for (task, strategy, backbone, run_seed), values in runs.items():
        groups[task, strategy, backbone][run_seed] = values
    summary = []
    for (task, strategy, backbone), by_seed in sorted(groups.items()):
        row: Dict[str, object] = {"task": task, "strategy": strategy, "backbone": backbone,
                                  "seeds": len(by_seed)}
        for metric in ("auc", "final_return", "train_catastrophes"):
            values = np.array([by_seed[s][metric] for s in sorted(by_seed)])
            point, low, high = stats.iqm_intervals({metric: values}, reps=reps, seed=seed)[metric]
            row.update({f"{metric}_iqm": point, f"{metric}_low": low, f"{metric}_high": high})
        baseline = groups.get((task, BASELINE, backbone))
        if baseline is not None and strategy != BASELINE:
            x = np.array([by_seed[s]["auc"] for s in sorted(by_seed)])
            y = np.array([baseline[s]["auc"] for s in sorted(baseline)])
            row["p_improvement"], row["p_improvement_low"], row["p_improvement_high"] = \
                stats.probability_of_improvement(x, y, reps=reps, seed=seed)
        summary.append(row)
    return summary


# -- offline to online (the offline suite) ----------------------------------------------------

OFFLINE_MEASURES = ("offline_end", "dip", "online_auc", "final_return", "train_catastrophes", "guide_usage")
"""Per-run measures of an offline-to-online run (:func:`offline_per_run`)."""
DIP_FRACTION = 0.1
"""The dip looks at the evaluations in this first fraction of the online budget."""


def is_offline_to_online(rows: Sequence[Mapping[str, object]], strategies: Iterable[str] = ()) -> bool:
    """Rows of an offline-to-online study: some run has an offline phase, or a strategy is one of
    ``strategies`` (the offline suite's labels, for a table filtered to runs without one)."""
    labels = set(strategies)
    return any(row.get("phase") == OFFLINE or row["strategy"] in labels for row in rows)


def online_curve(rs: Sequence[Mapping[str, object]]) -> Tuple[Mapping[str, object], List[Tuple[int, Mapping]]]:
    """A run's start of the online phase — its last offline evaluation (the offline-end score),
    or, without an offline phase, its first online one (step 0) — and its online curve as
    (environment step, row) from that start (step 0) to the end."""
    offline = sorted((r for r in rs if r.get("phase") == OFFLINE), key=lambda r: int(r["offline_step"]))
    online = sorted((r for r in rs if r.get("phase") != OFFLINE), key=lambda r: int(r["step"]))
    if offline:
        start = offline[-1]
        later = [r for r in online if int(r["step"]) > 0]
    elif online:
        start, later = online[0], online[1:]
    else:
        raise ValueError("a run without evaluations")
    return start, [(0, start)] + [(int(r["step"]), r) for r in later]


def offline_per_run(rows: Sequence[Mapping[str, object]]) -> Dict[Tuple[str, str, str, int], Dict[str, float]]:
    """Per run of an offline-to-online study:

    - ``offline_end``: the evaluation return at the end of the offline phase (NaN without one);
    - ``dip``: the lowest evaluation in the first 10% of the online budget (environment steps
      in (0, 10%]; the first online evaluation if none falls there) minus the return the online
      phase starts from — the offline-end score, or without an offline phase the step-0
      evaluation (negative: the run dropped when online training began);
    - ``online_auc``: the paper suite's normalised AUC over the online phase only, from its start
      (step 0) to its budget, normalised per task by the lowest and highest return on the online
      curves of every run of the task in the table;
    - ``final_return``: the mean of the evaluations in the last 10% of the online budget;
    - ``train_catastrophes``: catastrophes during online training (an offline phase has none);
    - ``guide_usage``: the share of online training steps where the guide acted (each
      evaluation interval weighted by its length).
    """
    runs: Dict[Tuple[str, str, str, int], List[Mapping]] = defaultdict(list)
    for row in rows:
        runs[tuple(row[k] for k in KEYS)].append(row)
    curves_by_run = {key: online_curve(rs) for key, rs in runs.items()}
    bounds: Dict[str, List[float]] = defaultdict(list)
    for key, (_, curve) in curves_by_run.items():
        bounds[key[0]].extend(float(r["eval_return"]) for _, r in curve)
    out = {}
    for key, (start, curve) in curves_by_run.items():
        steps = np.array([step for step, _ in curve], float)
        returns = np.array([float(r["eval_return"]) for _, r in curve])
        has_offline = start.get("phase") == OFFLINE
        budget = steps[-1]
        window = returns[1:][(steps[1:] > 0) & (steps[1:] <= DIP_FRACTION * budget)]
        if window.size == 0 and returns.size > 1:
            window = returns[1:2]
        low, high = min(bounds[key[0]]), max(bounds[key[0]])
        intervals = np.diff(steps)
        usage = np.array([float(r["guide_usage"]) for _, r in curve[1:]])
        out[key] = {
            "offline_end": float(start["eval_return"]) if has_offline else math.nan,
            "dip": float(window.min() - returns[0]) if window.size else math.nan,
            "online_auc": (stats.normalized_auc(steps, returns, low, high)
                           if high > low and steps.size > 1 else math.nan),
            "final_return": stats.final_return(steps, returns),
            "train_catastrophes": float(curve[-1][1]["train_catastrophes"]) - float(start["train_catastrophes"]),
            "guide_usage": (float(np.sum(usage * intervals) / np.sum(intervals))
                            if intervals.size and np.sum(intervals) > 0 and np.all(np.isfinite(usage)) else math.nan),
        }
    return out


def summarize_offline(rows: Sequence[Mapping[str, object]], baseline: str, dip_baseline: Optional[str] = None,
                      reps: int = 10_000, seed: int = 0) -> List[Dict[str, object]]:
    """One summary row per (task, strategy, backbone) of an offline-to-online study: IQM [95%
    CI] over seeds of each of :data:`OFFLINE_MEASURES` (left out where no run has it, e.g. the
    offline-end score of a run without an offline phase); ``p_improvement``: P(online AUC
    above a run of ``baseline`` on the same task, any backbone); ``p_smaller_dip``: P(dip above —
    a smaller drop than — a run of ``dip_baseline``)."""
    runs = offline_per_run(rows)
    groups: Dict[Tuple[str, str, str], Dict[int, Dict[str, float]]] = defaultdict(dict)
    for (task, strategy, backbone, run_seed), values in runs.items():
        groups[task, strategy, backbone][run_seed] = values
    by_task_strategy: Dict[Tuple[str, str], Dict[int, Dict[str, float]]] = {}
    for (task, strategy, _), by_seed in groups.items():
        by_task_strategy.setdefault((task, strategy), by_seed)
    summary = []
    for (task, strategy, backbone), by_seed in sorted(groups.items()):
        row: Dict[str, object] = {"task": task, "strategy": strategy, "backbone": backbone, "seeds": len(by_seed)}
        scores = {}
        for metric in OFFLINE_MEASURES:
            values = np.array([by_seed[s][metric] for s in sorted(by_seed)])
            values = values[np.isfinite(values)]
            if values.size:
                scores[metric] = values
        for metric, interval in stats.iqm_intervals(scores, reps=reps, seed=seed).items() if scores else ():
            row.update({f"{metric}_iqm": interval[0], f"{metric}_low": interval[1], f"{metric}_high": interval[2]})
        for column, other, metric in (("p_improvement", baseline, "online_auc"),
                                      ("p_smaller_dip", dip_baseline, "dip")):
            reference = by_task_strategy.get((task, other)) if other is not None else None
            if reference is None or strategy == other:
                continue
            x = np.array([by_seed[s][metric] for s in sorted(by_seed)])
            y = np.array([reference[s][metric] for s in sorted(reference)])
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            if x.size and y.size:
                row[column], row[f"{column}_low"], row[f"{column}_high"] = \
                    stats.probability_of_improvement(x, y, reps=reps, seed=seed)
        summary.append(row)
    return summary
