"""``report.md``'s text: the tables of a summary, the parameter grids, the trials' lines and the
offline suite's report, as markdown (:mod:`guidedrl.experiments.report` writes it).

Each number is shown as ``IQM [low, high]`` (:func:`format_interval`); a number that does not
exist (P(improvement) of the baseline itself) as :data:`MISSING`. Rows are ordered by
:func:`order` (the paper suites) or :func:`offline_order` (the offline suite's methods), the
same order as the figures' legends.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from guidedrl.experiments import results
from guidedrl.experiments.suites import OFFLINE_BASELINE, OFFLINE_DIP_BASELINE, OFFLINE_METHODS, parse_label

MISSING = "—"
"""How report.md shows a number that does not exist (P(improvement) of the baseline itself)."""


def format_interval(point, low, high, digits: int) -> str:
    """``point [low, high]`` with ``digits`` decimals, e.g. ``0.70 [0.61, 0.82]``; ``—`` when
    the point is missing (None, empty or NaN)."""
    if _missing(point):
        return MISSING
    bounds = ", ".join("nan" if _missing(x) else f"{float(x):.{digits}f}" for x in (low, high))
    return f"{float(point):.{digits}f} [{bounds}]"


def _missing(value) -> bool:
    if value is None or value == "":
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def order(strategy: str, backbone: str) -> Tuple:
    """Within a task: by backbone, the baseline first, then the strategies alphabetically."""
    return backbone, strategy != results.BASELINE, strategy


def row_order(row: Mapping[str, object]) -> Tuple:
    return order(row["strategy"], row["backbone"])


def offline_order(strategy: str, backbone: str) -> Tuple:
    """The offline suite's methods in their table order, then any other label."""
    methods = list(OFFLINE_METHODS)
    return (methods.index(strategy) if strategy in methods else len(methods), strategy, backbone)


def offline_row_order(row: Mapping[str, object]) -> Tuple:
    return offline_order(row["strategy"], row["backbone"])

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

def _wall_time(seconds) -> str:
    if _missing(seconds):
        return "unknown"
    total = int(round(float(seconds)))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _first_line(error) -> str:
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    return lines[0] if lines else "(no error message recorded)"


def markdown(summary, rows, trials, reps: int, references: Mapping[str, Mapping[str, object]],
             curve_reps: int) -> str:
    """report.md of a paper-style suite: a table per task, the parameter grids, the figures, the crashed
    trials (``reps``: the tables' rliable resamples; ``curve_reps``: the curves' bands')."""
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
        for row in sorted(by_task[task], key=row_order):
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
              f"95% percentile-bootstrap interval over seeds ({curve_reps} resamples).", "",
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

# --- the offline suite ------------------------------------------------------------------------

def _cell(row: Mapping[str, object], metric: str, digits: int) -> str:
    return format_interval(row.get(f"{metric}_iqm"), row.get(f"{metric}_low"), row.get(f"{metric}_high"), digits)


def offline_markdown(summary, rows, trials, reps: int, references, datasets, curve_reps: int) -> str:
    """report.md of the offline suite: its methods, datasets, a table per task, figures, crashed trials."""
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
        for row in sorted(by_task[task], key=offline_row_order):
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
              f"95% percentile-bootstrap interval over seeds ({curve_reps} resamples). Left of the dashed "
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
