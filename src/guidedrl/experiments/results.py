"""Tidy results and their summary: from run directories to ``results.csv`` to per-(task,
strategy, backbone) statistics.

``results.csv`` has one row per (task, strategy, backbone, seed, evaluation step) with the
run's logged metrics; :func:`summarize` computes, from those rows alone, what BENCHMARK.md asks
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
from typing import Callable, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

import numpy as np

from guidedrl.experiments import stats

KEYS = ("task", "strategy", "backbone", "seed")
METRICS = ("eval_return", "eval_return_std", "eval_return_guide_free", "eval_catastrophes",
           "train_episodes", "train_return", "train_catastrophes", "guide_usage", "steps_per_second",
           "wall_time")
RESULT_COLUMNS = KEYS + ("step",) + METRICS
BASELINE = "none"
"""The strategy every other is compared with (SAC or TD3 without a guide)."""


def run_rows(metrics_rows: Iterable[Mapping[str, object]], task: str, strategy: str, backbone: str,
             seed: int) -> List[Dict[str, object]]:
    """A run's metrics.csv rows as tidy result rows."""
    return [{"task": task, "strategy": strategy, "backbone": backbone, "seed": int(seed),
             "step": int(row["step"]), **{name: row.get(name, math.nan) for name in METRICS}}
            for row in metrics_rows]


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
            writer.writerow({name: row.get(name, "") for name in RESULT_COLUMNS})
    write_atomic(path, write)


def read_results(path: Union[str, os.PathLike]) -> List[Dict[str, object]]:
    """The rows of a results.csv, numbers parsed (missing values as NaN)."""
    rows = []
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            row: Dict[str, object] = {"task": raw["task"], "strategy": raw["strategy"],
                                      "backbone": raw["backbone"], "seed": int(raw["seed"]),
                                      "step": int(raw["step"])}
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
