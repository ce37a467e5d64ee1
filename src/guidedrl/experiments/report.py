"""From ``results.csv`` to what a reader looks at: ``summary.csv``, ``report.md`` and PNG figures.

:func:`write_report` reads a benchmark directory's ``results.csv`` (and, if present, its
``trials.json``), and writes next to it:

- ``summary.csv``: one row per (task, strategy, backbone), the numbers of
  :func:`guidedrl.experiments.results.summarize` (rliable IQM and 95% stratified-bootstrap
  intervals), floats at full precision so a reader can compare them with a recomputation;
- ``report.md``: the same numbers as one table per task, what they mean, the crashed trials,
  and, for a suite that varies two settings of one strategy (``pag[phi=0.5,delta=0.9]``), the
  grid of those settings (:func:`guidedrl.experiments.tables.parameter_grids`);
- ``figures/learning_curves.png``, ``figures/catastrophes.png``, ``figures/iqm_bars.png``
  (:mod:`guidedrl.experiments.figures`).

Each built-in task's default guide acting alone — its return and catastrophes, as stored
with the package (:func:`guidedrl.envs.stored_alone`) — is shown as a reference: a line
under the task's table and a dotted line in the learning curves.

The tables use rliable (through ``summarize``); the shaded bands of the curves come from a
small percentile bootstrap over seeds (:func:`guidedrl.experiments.stats.iqm_band`), one per
evaluation step, because rliable's interval estimates are per score, not per point of a curve.
This module reads the inputs and writes the files; :mod:`guidedrl.experiments.tables` holds
report.md's text and :mod:`guidedrl.experiments.figures` the figures.

matplotlib is imported only when the figures are drawn (``pip install -e ".[stats]"``).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from guidedrl.errors import GuidedRLError
from guidedrl.experiments import figures, results, tables
from guidedrl.experiments.suites import OFFLINE_BASELINE, OFFLINE_DIP_BASELINE, OFFLINE_METHODS

SUMMARY_COLUMNS = ("task", "strategy", "backbone", "seeds",
                   "auc_iqm", "auc_low", "auc_high",
                   "final_return_iqm", "final_return_low", "final_return_high",
                   "train_catastrophes_iqm", "train_catastrophes_low", "train_catastrophes_high",
                   "p_improvement", "p_improvement_low", "p_improvement_high")
"""The columns of ``summary.csv``: the keys :func:`results.summarize` returns (the
``p_improvement*`` ones are empty for the baseline and where no baseline run exists)."""
OFFLINE_SUMMARY_COLUMNS = (("task", "strategy", "backbone", "seeds")
                           + tuple(f"{measure}_{part}" for measure in results.OFFLINE_MEASURES
                                   for part in ("iqm", "low", "high"))
                           + ("p_improvement", "p_improvement_low", "p_improvement_high",
                              "p_smaller_dip", "p_smaller_dip_low", "p_smaller_dip_high"))
"""The columns of an offline suite's ``summary.csv`` (:func:`results.summarize_offline`)."""

PathLike = Union[str, os.PathLike]


def write_report(out_dir: PathLike, reps: int = 10_000, seed: int = 0) -> Dict[str, object]:
    """Write ``summary.csv``, ``report.md`` and ``figures/*.png`` from ``<out_dir>/results.csv``.

    An offline-to-online table (the offline suite's: runs with an offline phase, or its method
    labels) gets the offline report instead (:func:`_write_offline_report`): the measures of
    :func:`results.offline_per_run` (columns :data:`OFFLINE_SUMMARY_COLUMNS`), the datasets of
    ``datasets.json``, and curves drawn over the offline phase, then the online one.

    ``reps`` bootstrap resamples for the tables' intervals (rliable) and ``seed`` for them and
    for the curves' bands. Returns ``{"summary": path, "report": path, "figures": [paths]}``.
    """
    out_dir = Path(out_dir)
    rows = _read_rows(out_dir / "results.csv")
    trials = _read_trials(out_dir / "trials.json")
    pyplot = figures.pyplot()  # before the bootstrap: a missing extra fails in a second, not a minute
    if (trials is not None and trials.get("suite") == "offline") or \
            results.is_offline_to_online(rows, OFFLINE_METHODS):
        return _write_offline_report(pyplot, out_dir, rows, trials, reps, seed)
    summary = results.summarize(rows, reps=reps, seed=seed)

    summary_path = out_dir / "summary.csv"
    _write_summary(summary_path, summary)
    references = guide_references({row["task"] for row in rows})
    drawn = figures.draw(pyplot, out_dir / "figures", rows, summary, seed, references)
    report_path = out_dir / "report.md"
    text = tables.markdown(summary, rows, trials, reps, references, figures.CURVE_REPS)
    results.write_atomic(report_path, lambda handle: handle.write(text))
    return {"summary": summary_path, "report": report_path, "figures": drawn}


def _write_offline_report(pyplot, out_dir: Path, rows, trials, reps: int, seed: int) -> Dict[str, object]:
    """:func:`write_report` for an offline-to-online table."""
    summary = results.summarize_offline(rows, OFFLINE_BASELINE, OFFLINE_DIP_BASELINE, reps=reps, seed=seed)
    summary_path = out_dir / "summary.csv"
    _write_summary(summary_path, summary, OFFLINE_SUMMARY_COLUMNS)
    references = guide_references({row["task"] for row in rows})
    drawn = figures.draw_offline(pyplot, out_dir / "figures", rows, summary, seed, references)
    report_path = out_dir / "report.md"
    text = tables.offline_markdown(summary, rows, trials, reps, references, _read_datasets(out_dir),
                                   figures.CURVE_REPS)
    results.write_atomic(report_path, lambda handle: handle.write(text))
    return {"summary": summary_path, "report": report_path, "figures": drawn}


# --- inputs -----------------------------------------------------------------------------------

def _read_rows(path: Path) -> List[Dict[str, object]]:
    if not path.is_file():
        raise GuidedRLError(f"no results to report: {path} does not exist (run the benchmark first)")
    try:
        rows = results.read_results(path)
    except (KeyError, ValueError) as error:
        raise GuidedRLError(f"{path} is not a results.csv with columns {', '.join(results.RESULT_COLUMNS)} "
                            f"({type(error).__name__}: {error})") from None
    if not rows:
        raise GuidedRLError(f"no results to report: {path} has no rows")
    return rows


def guide_references(tasks) -> Dict[str, Mapping[str, object]]:
    """Per task in ``tasks`` that is built in: its default guide alone, as stored with the
    package (``mean_return``, ``std_return``, ``catastrophes``, ``episodes``, ``command``)."""
    from guidedrl.envs import ALONE_COMMAND, stored_alone

    stored = stored_alone()
    return {task: {**stored[task], "command": ALONE_COMMAND} for task in tasks if task in stored}


def _read_trials(path: Path) -> Optional[Mapping[str, object]]:
    if not path.is_file():
        return None
    try:
        trials = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise GuidedRLError(f"{path} is not valid JSON: {error}") from None
    if (not isinstance(trials, dict) or not isinstance(trials.get("trials"), list)
            or not all(isinstance(trial, dict) for trial in trials["trials"])):
        raise GuidedRLError(f"{path} must be an object with a \"trials\" list of objects "
                            f"(suite, command, wall_time, trials), got {str(trials)[:200]}")
    return trials


def _read_datasets(out_dir: Path) -> List[Mapping[str, object]]:
    from guidedrl.experiments.datasets import read_records

    return read_records(out_dir)


# --- outputs ----------------------------------------------------------------------------------

def _csv_value(value) -> object:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # shortest string that reads back to the same float
    if isinstance(value, (int, np.integer)):
        return int(value)
    return value


def _write_summary(path: Path, summary: Sequence[Mapping[str, object]],
                   columns: Sequence[str] = SUMMARY_COLUMNS) -> None:
    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in summary:
            writer.writerow({name: _csv_value(row.get(name)) for name in columns})
    results.write_atomic(path, write)

