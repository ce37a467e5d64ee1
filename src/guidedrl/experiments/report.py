"""From ``results.csv`` to what a reader looks at: ``summary.csv``, ``report.md`` and PNG figures.

:func:`write_report` reads a benchmark directory's ``results.csv`` (and, if present, its
``trials.json``), and writes next to it:

- ``summary.csv``: one row per (task, strategy, backbone), the numbers of
  :func:`guidedrl.experiments.results.summarize` (rliable IQM and 95% stratified-bootstrap
  intervals), floats at full precision so a reader can compare them with a recomputation;
- ``report.md``: the same numbers as one table per task, what they mean, the crashed trials,
  and, for a suite that varies two settings of one strategy (``pag[phi=0.5,delta=0.9]``), the
  grid of those settings (:func:`parameter_grids`);
- ``figures/learning_curves.png``, ``figures/catastrophes.png``, ``figures/iqm_bars.png``.

Each built-in task's default guide acting alone — its return and catastrophes, as stored
with the package (:func:`guidedrl.envs.stored_alone`) — is shown as a reference: a line
under the task's table and a dotted line in the learning curves.

The tables use rliable (through ``summarize``); the shaded bands of the curves come from a
small percentile bootstrap over seeds (:func:`iqm_band`), one per evaluation step, because
rliable's interval estimates are per score, not per point of a curve.

matplotlib is imported only when the figures are drawn (``pip install -e ".[stats]"``).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from scipy import stats as scipy_stats

from guidedrl.errors import GuidedRLError
from guidedrl.experiments import results
from guidedrl.experiments.suites import OFFLINE_BASELINE, OFFLINE_DIP_BASELINE, OFFLINE_METHODS, parse_label

SUMMARY_COLUMNS = ("task", "strategy", "backbone", "seeds",
                   "auc_iqm", "auc_low", "auc_high",
                   "final_return_iqm", "final_return_low", "final_return_high",
                   "train_catastrophes_iqm", "train_catastrophes_low", "train_catastrophes_high",
                   "p_improvement", "p_improvement_low", "p_improvement_high")
"""The columns of ``summary.csv``: the keys :func:`results.summarize` returns (the
``p_improvement*`` ones are empty for the baseline and where no baseline run exists)."""

FIGURES = ("learning_curves.png", "catastrophes.png", "iqm_bars.png")
CURVE_REPS = 2000
"""Bootstrap resamples of the seeds for the shaded band of each curve (the figures only)."""
MISSING = "—"
"""How report.md shows a number that does not exist (P(improvement) of the baseline itself)."""

PathLike = Union[str, os.PathLike]
Group = Tuple[str, str, str]
"""(task, strategy, backbone)."""


def format_interval(point, low, high, digits: int) -> str:
    """``point [low, high]`` with ``digits`` decimals, e.g. ``0.70 [0.61, 0.82]``; ``—`` when
    the point is missing (None, empty or NaN)."""
    if _missing(point):
        return MISSING
    bounds = ", ".join("nan" if _missing(x) else f"{float(x):.{digits}f}" for x in (low, high))
    return f"{float(point):.{digits}f} [{bounds}]"


def iqm_band(values, reps: int = CURVE_REPS, seed: int = 0,
             level: float = 0.95) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``values`` (seeds × evaluation steps, NaN where a seed has no evaluation):
    the IQM over seeds (scipy's 25%-trimmed mean) and a ``level`` percentile-bootstrap
    interval from ``reps`` resamples of the seeds. Columns without any value stay NaN.

    Vectorised over resamples and over the columns that share the same seeds present.
    """
    values = np.asarray(values, float)
    if values.ndim != 2:
        raise ValueError(f"values must be (seeds, steps), got shape {values.shape}")
    rng = np.random.default_rng(seed)
    point, low, high = (np.full(values.shape[1], np.nan) for _ in range(3))
    present = ~np.isnan(values)
    masks, column_mask = np.unique(present.T, axis=0, return_inverse=True)
    tail = 100 * (1 - level) / 2
    for index, mask in enumerate(masks):
        columns = np.flatnonzero(column_mask.reshape(-1) == index)
        seeds_present = values[mask][:, columns]  # (n, k)
        n = seeds_present.shape[0]
        if n == 0:
            continue
        point[columns] = scipy_stats.trim_mean(seeds_present, 0.25, axis=0)
        resampled = seeds_present[rng.integers(0, n, size=(reps, n))]  # (reps, n, k)
        boot = scipy_stats.trim_mean(resampled, 0.25, axis=1)
        low[columns], high[columns] = np.percentile(boot, [tail, 100 - tail], axis=0)
    return point, low, high


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
    pyplot = _pyplot()  # before the bootstrap: a missing extra fails in a second, not a minute
    if (trials is not None and trials.get("suite") == "offline") or \
            results.is_offline_to_online(rows, OFFLINE_METHODS):
        return _write_offline_report(pyplot, out_dir, rows, trials, reps, seed)
    summary = results.summarize(rows, reps=reps, seed=seed)

    summary_path = out_dir / "summary.csv"
    _write_summary(summary_path, summary)
    figure_dir = out_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    colors = _colors(rows)
    references = guide_references({row["task"] for row in rows})
    figures = [
        _learning_curves(pyplot, figure_dir / FIGURES[0], rows, colors, seed, references),
        _catastrophes(pyplot, figure_dir / FIGURES[1], rows, colors, seed),
        _iqm_bars(pyplot, figure_dir / FIGURES[2], summary, colors),
    ]
    report_path = out_dir / "report.md"
    results.write_atomic(report_path, lambda handle: handle.write(_markdown(summary, rows, trials, reps, references)))
    return {"summary": summary_path, "report": report_path, "figures": figures}


# --- inputs -----------------------------------------------------------------------------------

def _missing(value) -> bool:
    if value is None or value == "":
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


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


def _pyplot():
    try:
        import matplotlib
    except ImportError as error:
        raise GuidedRLError(f"the report's figures need matplotlib: pip install -e \".[stats]\" ({error})") from None
    matplotlib.use("Agg")  # files only: never open a window, work without a display
    from matplotlib import pyplot
    return pyplot


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


def _save_figure(pyplot, figure, path: Path) -> Path:
    try:
        results.write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=110, bbox_inches="tight"), mode="wb")
    finally:
        pyplot.close(figure)
    return path


# --- parameter grids -------------------------------------------------------------------------

def _sort_value(value: str):
    try:
        return 0, float(value), value
    except ValueError:
        return 1, 0.0, value


def parameter_grids(summary: Sequence[Mapping[str, object]]) -> List[Dict[str, object]]:
    """The two-setting grids in a summary: per (task, backbone, base strategy) whose variants
    all carry the same two settings, each taking at least two values. Each grid is
    ``{"task", "backbone", "strategy", "rows": (name, values), "columns": (name, values),
    "cells": {(row value, column value): summary row}}``, values in numeric order."""
    groups: Dict[Tuple[str, str, str], List[Tuple[Dict[str, str], Mapping[str, object]]]] = defaultdict(list)
    for row in summary:
        base, settings = parse_label(str(row["strategy"]))
        groups[row["task"], row["backbone"], base].append((settings, row))
    grids = []
    for (task, backbone, base), members in sorted(groups.items()):
        names = [tuple(settings) for settings, _ in members]
        if len(set(names)) != 1 or len(names[0]) != 2:
            continue
        first, second = names[0]
        row_values = sorted({settings[first] for settings, _ in members}, key=_sort_value)
        column_values = sorted({settings[second] for settings, _ in members}, key=_sort_value)
        if len(row_values) < 2 or len(column_values) < 2:
            continue
        grids.append({"task": task, "backbone": backbone, "strategy": base,
                      "rows": (first, row_values), "columns": (second, column_values),
                      "cells": {(settings[first], settings[second]): row for settings, row in members}})
    return grids


def _grid_markdown(grids) -> List[str]:
    if not grids:
        return []
    lines = ["## Parameter grids", "",
             "The same numbers as above, laid out by the two settings the suite varies.", ""]
    for grid in grids:
        (row_name, row_values), (column_name, column_values) = grid["rows"], grid["columns"]
        for metric, title, digits in (("auc", "AUC", 2), ("final_return", "final return", 1),
                                      ("train_catastrophes", "training catastrophes", 1)):
            lines += [f"### {grid['task']}, {grid['strategy']} ({grid['backbone']}): {title} IQM [95% CI]", "",
                      f"| {row_name} \\ {column_name} | " + " | ".join(column_values) + " |",
                      "|---|" + "--:|" * len(column_values)]
            for row_value in row_values:
                cells = []
                for column_value in column_values:
                    row = grid["cells"].get((row_value, column_value))
                    cells.append(MISSING if row is None else format_interval(
                        row[f"{metric}_iqm"], row[f"{metric}_low"], row[f"{metric}_high"], digits))
                lines.append(f"| {row_value} | " + " | ".join(cells) + " |")
            lines.append("")
    return lines


# --- report.md --------------------------------------------------------------------------------

def _order(strategy: str, backbone: str) -> Tuple:
    """Within a task: by backbone, the baseline first, then the strategies alphabetically."""
    return backbone, strategy != results.BASELINE, strategy


def _row_order(row: Mapping[str, object]) -> Tuple:
    return _order(row["strategy"], row["backbone"])


def _wall_time(seconds) -> str:
    if _missing(seconds):
        return "unknown"
    total = int(round(float(seconds)))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _first_line(error) -> str:
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    return lines[0] if lines else "(no error message recorded)"


def _markdown(summary, rows, trials, reps: int, references: Mapping[str, Mapping[str, object]]) -> str:
    baseline = results.BASELINE
    runs = {tuple(row[k] for k in results.KEYS) for row in rows}
    lines = ["# GuidedRL benchmark report", ""] + _trial_lines(trials)
    lines += [
        f"{len(runs)} runs ({len(rows)} evaluations) from results.csv. Each number is the "
        f"interquartile mean (IQM) over seeds of a (task, strategy, backbone), with its 95% "
        f"stratified-bootstrap interval from rliable ({reps} resamples). AUC is the area under "
        f"the evaluation-return curve over the budget, normalised per task by the lowest and "
        f"highest evaluation return in this table (so it changes when runs are added). Final "
        f"return is the mean of the evaluations in the last 10% of the budget. Training "
        f"catastrophes are counted over the whole run. P(improvement) is the probability that a "
        f"run of the strategy has a higher AUC than a run of `{baseline}` on the same task and "
        f"backbone (ties count half).",
        "",
    ]
    by_task: Dict[str, List[Mapping[str, object]]] = defaultdict(list)
    for row in summary:
        by_task[row["task"]].append(row)
    header = ("| strategy | backbone | seeds | AUC IQM [95% CI] | final return IQM [95% CI] "
              f"| training catastrophes IQM [95% CI] | P(improvement over {baseline}) [95% CI] |")
    for task in sorted(by_task):
        lines += [f"## {task}", "", header, "|---|---|--:|--:|--:|--:|--:|"]
        for row in sorted(by_task[task], key=_row_order):
            cells = [row["strategy"], row["backbone"], str(row["seeds"]),
                     format_interval(row["auc_iqm"], row["auc_low"], row["auc_high"], 2),
                     format_interval(row["final_return_iqm"], row["final_return_low"], row["final_return_high"], 1),
                     format_interval(row["train_catastrophes_iqm"], row["train_catastrophes_low"],
                                     row["train_catastrophes_high"], 1),
                     format_interval(row.get("p_improvement"), row.get("p_improvement_low"),
                                     row.get("p_improvement_high"), 2)]
            lines.append("| " + " | ".join(cells) + " |")
        lines += _reference_lines(references.get(task))
        lines.append("")
    lines += _grid_markdown(parameter_grids(summary))
    lines += ["## Figures", "",
              "Learning curves: IQM over seeds of the evaluation return at each evaluation, shaded: "
              f"95% percentile-bootstrap interval over seeds ({CURVE_REPS} resamples).", "",
              "![learning curves](figures/learning_curves.png)", "",
              "![training catastrophes](figures/catastrophes.png)", "",
              "![IQM of AUC and final return](figures/iqm_bars.png)", ""]
    lines += _crashed_lines(trials)
    return "\n".join(lines)


def _reference_lines(reference: Optional[dict]) -> List[str]:
    """The line under a task's table naming its default guide's own return, if it has one."""
    if reference is None:
        return []
    return ["", f"The default guide alone (reference, not a run of this table): return "
                f"{reference['mean_return']:.1f} ± {reference['std_return']:.1f}, "
                f"{reference['catastrophes']} catastrophes in {reference['episodes']} "
                f"deterministic episodes (`{reference['command']}`)."]


def _trial_lines(trials) -> List[str]:
    """The suite, its command, the trials' statuses and the wall time (from trials.json)."""
    if trials is None:
        return []
    statuses = Counter(str(trial.get("status")) for trial in trials["trials"])
    counts = [f"{statuses.pop(status, 0)} {status}" for status in ("finished", "crashed", "pending")]
    counts += [f"{count} {status}" for status, count in sorted(statuses.items())]
    return [f"- Suite: `{trials.get('suite')}`",
            f"- Command: `{trials.get('command')}`",
            f"- Trials: {', '.join(counts)}",
            f"- Wall time: {_wall_time(trials.get('wall_time'))}",
            ""]


def _crashed_lines(trials) -> List[str]:
    if trials is None:
        return []
    crashed = [trial for trial in trials["trials"] if trial.get("status") == "crashed"]
    lines = ["## Crashed trials", ""]
    lines += [f"- `{trial.get('id')}`: {_first_line(trial.get('error'))}" for trial in crashed] or ["none"]
    return lines + [""]


# --- figures ----------------------------------------------------------------------------------

def _colors(rows) -> Dict[str, object]:
    """One color per strategy, the same in every figure (the baseline first)."""
    strategies = sorted({row["strategy"] for row in rows}, key=lambda s: (s != results.BASELINE, s))
    palette = [f"C{i}" for i in range(10)]
    if len(strategies) > len(palette):  # e.g. a 4 x 3 sensitivity grid: twenty distinct colors
        from matplotlib import colormaps
        palette = list(colormaps["tab20"].colors)
    return {strategy: palette[i % len(palette)] for i, strategy in enumerate(strategies)}


def _style(strategy: str, backbone: str, colors, backbones: Sequence[str]) -> Dict[str, object]:
    linestyles = ("-", "--", ":", "-.")
    return {"color": colors[strategy], "linestyle": linestyles[list(backbones).index(backbone) % len(linestyles)]}


def _group_curves(rows, metric: str, position: Callable[[Mapping], int] = lambda row: row["step"]
                  ) -> Dict[Group, Tuple[np.ndarray, np.ndarray]]:
    """Per (task, strategy, backbone): the evaluation positions (``position(row)``, by default the
    step) and a seeds × positions matrix of ``metric`` (NaN where a seed has no value there)."""
    by_group: Dict[Group, Dict[int, Dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        by_group[row["task"], row["strategy"], row["backbone"]][row["seed"]][position(row)] = float(row[metric])
    curves = {}
    for group, by_seed in by_group.items():
        steps = np.array(sorted({step for values in by_seed.values() for step in values}))
        matrix = np.array([[values.get(step, np.nan) for step in steps] for _, values in sorted(by_seed.items())])
        curves[group] = (steps, matrix)
    return curves


def _grid(pyplot, count: int, columns: int = 3):
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(max(7.5, 5 * columns), 3.6 * rows), squeeze=False)
    for ax in axes.reshape(-1)[count:]:
        ax.set_visible(False)
    return figure, axes.reshape(-1)[:count]


def _curve_figure(pyplot, path: Path, curves, tasks, colors, seed: int, ylabel: str, title: str,
                  references: Optional[Mapping[str, float]] = None,
                  switches: Optional[Mapping[str, int]] = None, order=None) -> Path:
    """One panel per task, a line and band per (strategy, backbone). With ``switches`` (task ->
    position of the offline phase's end), x is the phase axis of :func:`_phase_curves`."""
    order = order or _order
    backbones = sorted({backbone for _, _, backbone in curves})
    figure, axes = _grid(pyplot, max(1, len(tasks)))
    legend: Dict[str, object] = {}
    for ax, task in zip(axes, tasks):
        for (group_task, strategy, backbone), (steps, matrix) in sorted(
                curves.items(), key=lambda item: order(*item[0][1:])):
            if group_task != task:
                continue
            point, low, high = iqm_band(matrix, seed=seed)
            style = _style(strategy, backbone, colors, backbones)
            (line,) = ax.plot(steps, point, label=f"{strategy} ({backbone})", **style)
            ax.fill_between(steps, low, high, color=style["color"], alpha=0.2, linewidth=0)
            legend.setdefault(line.get_label(), line)
        if references and task in references:
            line = ax.axhline(references[task], color="black", linestyle=":", linewidth=1.2, label="guide alone")
            legend.setdefault(line.get_label(), line)
        ax.set_title(task)
        if switches is not None:
            _phase_axis(ax, switches.get(task, 0))
        else:
            ax.set_xlabel("environment steps")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    if not tasks:
        axes[0].set_axis_off()
        axes[0].text(0.5, 0.5, "no catastrophes in these runs", ha="center", va="center",
                     transform=axes[0].transAxes)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    if legend:  # below the axes, however many rows it takes (the PNG is cropped to include it)
        figure.legend(list(legend.values()), list(legend), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                      ncol=min(4, len(legend)), frameon=False)
    return _save_figure(pyplot, figure, path)


def _learning_curves(pyplot, path: Path, rows, colors, seed: int, references) -> Path:
    curves = _group_curves(rows, "eval_return")
    tasks = sorted({task for task, _, _ in curves})
    return _curve_figure(pyplot, path, curves, tasks, colors, seed, "evaluation return",
                         "Evaluation return: IQM over seeds, 95% bootstrap band",
                         {task: float(ref["mean_return"]) for task, ref in references.items()})


def _catastrophes(pyplot, path: Path, rows, colors, seed: int) -> Path:
    curves = _group_curves(rows, "train_catastrophes")
    tasks = sorted({task for (task, _, _), (_, matrix) in curves.items() if np.nansum(np.abs(matrix)) > 0})
    curves = {group: curve for group, curve in curves.items() if group[0] in tasks}
    return _curve_figure(pyplot, path, curves, tasks, colors, seed, "cumulative training catastrophes",
                         "Training catastrophes: IQM over seeds, 95% bootstrap band")


PAPER_BARS = (("auc", "AUC (normalised) IQM"), ("final_return", "final return IQM"))


def _iqm_bars(pyplot, path: Path, summary, colors, metrics=PAPER_BARS, row_order=None) -> Path:
    """One column per task, one row of horizontal bars per (metric, axis label) of ``metrics``."""
    row_order = row_order or _row_order
    by_task: Dict[str, List[Mapping[str, object]]] = defaultdict(list)
    for row in summary:
        by_task[row["task"]].append(row)
    tasks = sorted(by_task)
    height = max(len(rs) for rs in by_task.values())
    figure, axes = pyplot.subplots(len(metrics), len(tasks),
                                   figsize=(max(7.5, 4.5 * len(tasks)), len(metrics) * (1.2 + 0.35 * height)),
                                   squeeze=False)
    for column, task in enumerate(tasks):
        task_rows = sorted(by_task[task], key=row_order)
        labels = [f"{row['strategy']} ({row['backbone']})" for row in task_rows]
        positions = np.arange(len(task_rows))[::-1]  # the first row on top
        for ax, (metric, xlabel) in zip(axes[:, column], metrics):
            point = np.array([float(row.get(f"{metric}_iqm", math.nan)) for row in task_rows])
            low = np.array([float(row.get(f"{metric}_low", math.nan)) for row in task_rows])
            high = np.array([float(row.get(f"{metric}_high", math.nan)) for row in task_rows])
            # a point outside its own percentile interval (possible with few seeds) draws no bar end
            errors = np.nan_to_num(np.clip(np.stack([point - low, high - point]), 0, None))
            ax.barh(positions, np.nan_to_num(point), xerr=errors, capsize=3,
                    color=[colors[row["strategy"]] for row in task_rows], alpha=0.8)
            ax.set_yticks(positions, labels)
            ax.set_xlabel(xlabel)
            ax.grid(axis="x", alpha=0.3)
        axes[0, column].set_title(task)
    figure.suptitle("IQM over seeds with 95% stratified-bootstrap intervals (rliable)")
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    return _save_figure(pyplot, figure, path)


# --- the offline suite ------------------------------------------------------------------------

OFFLINE_SUMMARY_COLUMNS = (("task", "strategy", "backbone", "seeds")
                           + tuple(f"{measure}_{part}" for measure in results.OFFLINE_MEASURES
                                   for part in ("iqm", "low", "high"))
                           + ("p_improvement", "p_improvement_low", "p_improvement_high",
                              "p_smaller_dip", "p_smaller_dip_low", "p_smaller_dip_high"))
"""The columns of an offline suite's ``summary.csv`` (:func:`results.summarize_offline`)."""
OFFLINE_BARS = (("online_auc", "online AUC (normalised) IQM"), ("final_return", "final return IQM"),
                ("dip", "dip IQM"))


def _offline_order(strategy: str, backbone: str) -> Tuple:
    """The offline suite's methods in their table order, then any other label."""
    methods = list(OFFLINE_METHODS)
    return (methods.index(strategy) if strategy in methods else len(methods), strategy, backbone)


def _offline_row_order(row: Mapping[str, object]) -> Tuple:
    return _offline_order(row["strategy"], row["backbone"])


def phase_switches(rows) -> Dict[str, int]:
    """Per task: the offline gradient steps of its runs' offline phase (0 when none has one),
    where the online part of the phase axis starts."""
    switches: Dict[str, int] = defaultdict(int)
    for row in rows:
        switches[row["task"]] = max(switches[row["task"]],
                                    int(row["offline_step"]) if row.get("phase") == results.OFFLINE else 0)
    return dict(switches)


def phase_position(row: Mapping[str, object], switch: int) -> int:
    """Where a row stands on the phase axis: its offline gradient steps in the offline phase,
    then ``switch`` plus its environment steps online."""
    return int(row["offline_step"]) if row.get("phase") == results.OFFLINE else switch + int(row["step"])


def _phase_curves(rows, metric: str, switches: Mapping[str, int]) -> Dict[Group, Tuple[np.ndarray, np.ndarray]]:
    """:func:`_group_curves` on the phase axis (:func:`phase_position`)."""
    return _group_curves(rows, metric, lambda row: phase_position(row, switches[row["task"]]))


def _steps_label(value: float) -> str:
    value = max(float(value), 0.0)
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def _phase_axis(ax, switch: int) -> None:
    """Ticks in offline gradient steps left of ``switch`` and in environment steps right of it,
    the switch drawn as a vertical line."""
    from matplotlib.ticker import FuncFormatter

    if switch <= 0:
        ax.set_xlabel("environment steps (online)")
        return
    ax.axvline(switch, color="0.3", linestyle="--", linewidth=1.0)
    ax.text(switch, 1.0, " online →", transform=ax.get_xaxis_transform(), ha="left", va="top", fontsize=8,
            color="0.3")
    ax.text(switch, 1.0, "← offline ", transform=ax.get_xaxis_transform(), ha="right", va="top", fontsize=8,
            color="0.3")
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: _steps_label(x) if x < switch else _steps_label(x - switch)))
    ax.set_xlabel("offline gradient steps | online environment steps")


def _read_datasets(out_dir: Path) -> List[Mapping[str, object]]:
    from guidedrl.experiments.datasets import read_records

    return read_records(out_dir)


def _write_offline_report(pyplot, out_dir: Path, rows, trials, reps: int, seed: int) -> Dict[str, object]:
    """:func:`write_report` for an offline-to-online table."""
    summary = results.summarize_offline(rows, OFFLINE_BASELINE, OFFLINE_DIP_BASELINE, reps=reps, seed=seed)
    summary_path = out_dir / "summary.csv"
    _write_summary(summary_path, summary, OFFLINE_SUMMARY_COLUMNS)
    figure_dir = out_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    colors = _colors(rows)
    references = guide_references({row["task"] for row in rows})
    switches = phase_switches(rows)
    curves = _phase_curves(rows, "eval_return", switches)
    tasks = sorted({task for task, _, _ in curves})
    catastrophes = _phase_curves(rows, "train_catastrophes", switches)
    with_catastrophes = sorted({task for (task, _, _), (_, matrix) in catastrophes.items()
                                if np.nansum(np.abs(matrix)) > 0})
    figures = [
        _curve_figure(pyplot, figure_dir / FIGURES[0], curves, tasks, colors, seed, "evaluation return",
                      "Evaluation return: IQM over seeds, 95% bootstrap band (offline phase, then online)",
                      {task: float(ref["mean_return"]) for task, ref in references.items()}, switches,
                      _offline_order),
        _curve_figure(pyplot, figure_dir / FIGURES[1],
                      {group: curve for group, curve in catastrophes.items() if group[0] in with_catastrophes},
                      with_catastrophes, colors, seed, "cumulative training catastrophes",
                      "Training catastrophes: IQM over seeds, 95% bootstrap band", None, switches, _offline_order),
        _iqm_bars(pyplot, figure_dir / FIGURES[2], summary, colors, OFFLINE_BARS, _offline_row_order),
    ]
    report_path = out_dir / "report.md"
    text = _offline_markdown(summary, rows, trials, reps, references, _read_datasets(out_dir))
    results.write_atomic(report_path, lambda handle: handle.write(text))
    return {"summary": summary_path, "report": report_path, "figures": figures}


def _cell(row: Mapping[str, object], metric: str, digits: int) -> str:
    return format_interval(row.get(f"{metric}_iqm"), row.get(f"{metric}_low"), row.get(f"{metric}_high"), digits)


def _offline_markdown(summary, rows, trials, reps: int, references, datasets) -> str:
    runs = {tuple(row[k] for k in results.KEYS) for row in rows}
    share = f"{results.DIP_FRACTION:.0%}"
    lines = ["# GuidedRL offline-to-online benchmark report", ""] + _trial_lines(trials)
    lines += [
        f"{len(runs)} runs ({len(rows)} evaluations) from results.csv. Each number is the interquartile "
        f"mean (IQM) over seeds of a (task, method), with its 95% stratified-bootstrap interval from "
        f"rliable ({reps} resamples). Offline end: the evaluation return after the offline phase. Dip: "
        f"the lowest evaluation in the first {share} of the online budget minus the return the online "
        f"phase starts from (the offline-end score, or without an offline phase the step-0 evaluation); "
        f"negative is a drop. Online AUC: the area under the evaluation-return curve over the online "
        f"phase (from its start to its budget), normalised per task by the lowest and highest return on "
        f"the online curves of this table. Final return: the mean of the evaluations in the last 10% of "
        f"the online budget. Online training catastrophes: counted over the online phase. Guide usage: "
        f"the share of online training steps where the guide acted. P(improvement): the probability "
        f"that a run of the method has a higher online AUC than a run of `{OFFLINE_BASELINE}` on the "
        f"same task; P(smaller dip): that its dip is higher (a smaller drop) than a run of "
        f"`{OFFLINE_DIP_BASELINE}`'s (ties count half).",
        "",
        "## Methods",
        "",
        "| method | backbone | guidance | what |",
        "|---|---|---|---|",
    ]
    present = {row["strategy"] for row in summary}
    for label, method in OFFLINE_METHODS.items():
        if label in present:
            lines.append(f"| `{label}` | {method.backbone} | {method.guidance} | {method.description} |")
    lines.append("")
    lines += _dataset_lines(datasets, {row["task"] for row in summary})
    by_task: Dict[str, List[Mapping[str, object]]] = defaultdict(list)
    for row in summary:
        by_task[row["task"]].append(row)
    header = ("| method | backbone | seeds | offline end | dip | online AUC | final return "
              "| online training catastrophes | guide usage "
              f"| P(improvement over {OFFLINE_BASELINE}) | P(smaller dip than {OFFLINE_DIP_BASELINE}) |")
    for task in sorted(by_task):
        lines += [f"## {task}", "", "IQM [95% CI] over seeds.", "", header, "|---|---|--:|" + "--:|" * 8]
        for row in sorted(by_task[task], key=_offline_row_order):
            cells = [row["strategy"], row["backbone"], str(row["seeds"]),
                     _cell(row, "offline_end", 1), _cell(row, "dip", 1), _cell(row, "online_auc", 2),
                     _cell(row, "final_return", 1), _cell(row, "train_catastrophes", 1),
                     _cell(row, "guide_usage", 2),
                     format_interval(row.get("p_improvement"), row.get("p_improvement_low"),
                                     row.get("p_improvement_high"), 2),
                     format_interval(row.get("p_smaller_dip"), row.get("p_smaller_dip_low"),
                                     row.get("p_smaller_dip_high"), 2)]
            lines.append("| " + " | ".join(cells) + " |")
        lines += _reference_lines(references.get(task))
        lines.append("")
    lines += ["## Figures", "",
              "Learning curves: IQM over seeds of the evaluation return at each evaluation, shaded: "
              f"95% percentile-bootstrap interval over seeds ({CURVE_REPS} resamples). Left of the dashed "
              "line, the offline phase (x: offline gradient steps); right of it, the online phase (x: "
              "environment steps); runs without an offline phase start at the line.", "",
              "![learning curves](figures/learning_curves.png)", "",
              "![training catastrophes](figures/catastrophes.png)", "",
              "![IQM of online AUC, final return and dip](figures/iqm_bars.png)", ""]
    lines += _crashed_lines(trials)
    return "\n".join(lines)


def _dataset_lines(datasets: Sequence[Mapping[str, object]], tasks) -> List[str]:
    """The datasets table (from datasets.json) and the commands that make each."""
    shown = [record for record in datasets if record.get("task") in tasks]
    if not shown:
        return []
    lines = ["## Datasets", "",
             "Built by the suite before its trials (`guidedrl.experiments.datasets.RECIPES`), skipped when "
             "present in its Minari store; `guidedrl dataset info ID` shows each one's provenance.", "",
             "| task | dataset | kind | episodes | transitions | mean return ± std |",
             "|---|---|---|--:|--:|--:|"]
    for record in shown:
        mean = record.get("mean_return")
        ret = MISSING if _missing(mean) else f"{float(mean):.1f} ± {float(record.get('std_return') or 0.0):.1f}"
        lines.append(f"| {record['task']} | `{record.get('id')}` | {record.get('kind', '')} | "
                     f"{record.get('episodes', MISSING)} | {record.get('steps', MISSING)} | {ret} |")
    lines += ["", "Commands (run in this order, with `MINARI_DATASETS_PATH` set to the suite's store):", ""]
    for record in shown:
        lines.append(f"- {record['task']}:")
        lines += [f"  - `{command}`" for command in record.get("commands", [])]
        final = record.get("run_final_return")
        if not _missing(final):
            lines.append(f"  - the run's final evaluation return: {float(final):.1f}")
    return lines + [""]
