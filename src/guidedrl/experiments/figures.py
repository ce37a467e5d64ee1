"""The report's PNG figures (:data:`FIGURES`): learning curves and training catastrophes, IQM over
seeds with a percentile-bootstrap band per evaluation (:func:`guidedrl.experiments.stats.iqm_band`),
and the IQM bars of the summary with their rliable intervals. The offline suite's curves run
over the offline phase, then the online one (:func:`phase_position`).

matplotlib is imported only when the figures are drawn (``pip install -e ".[stats]"``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from guidedrl.errors import GuidedRLError
from guidedrl.experiments import results
from guidedrl.experiments.stats import iqm_band
from guidedrl.experiments.tables import offline_order, offline_row_order, order, row_order

FIGURES = ("learning_curves.png", "catastrophes.png", "iqm_bars.png")
CURVE_REPS = 2000
"""Bootstrap resamples of the seeds for the shaded band of each curve (the figures only)."""
Group = Tuple[str, str, str]
"""(task, strategy, backbone)."""


def pyplot():
    """matplotlib's pyplot on the Agg backend, or an error naming the extra to install."""
    try:
        import matplotlib
    except ImportError as error:
        raise GuidedRLError(f"the report's figures need matplotlib: pip install -e \".[stats]\" ({error})") from None
    matplotlib.use("Agg")  # files only: never open a window, work without a display
    from matplotlib import pyplot
    return pyplot


def _save_figure(pyplot, figure, path: Path) -> Path:
    try:
        results.write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=110, bbox_inches="tight"), mode="wb")
    finally:
        pyplot.close(figure)
    return path


def draw(pyplot, figure_dir: Path, rows, summary, seed: int, references) -> List[Path]:
    """The three figures of a paper-style suite in ``figure_dir`` (:data:`FIGURES`): learning
    curves (with each task's guide alone, ``references``, dotted), catastrophes, IQM bars."""
    figure_dir.mkdir(exist_ok=True)
    colors = _colors(rows)
    return [
        _learning_curves(pyplot, figure_dir / FIGURES[0], rows, colors, seed, references),
        _catastrophes(pyplot, figure_dir / FIGURES[1], rows, colors, seed),
        _iqm_bars(pyplot, figure_dir / FIGURES[2], summary, colors),
    ]


def draw_offline(pyplot, figure_dir: Path, rows, summary, seed: int, references) -> List[Path]:
    """The offline suite's three figures in ``figure_dir``, the curves over the offline phase,
    then the online one (:func:`phase_position`)."""
    figure_dir.mkdir(exist_ok=True)
    colors = _colors(rows)
    switches = phase_switches(rows)
    curves = phase_curves(rows, "eval_return", switches)
    tasks = sorted({task for task, _, _ in curves})
    catastrophes = phase_curves(rows, "train_catastrophes", switches)
    with_catastrophes = sorted({task for (task, _, _), (_, matrix) in catastrophes.items()
                                if np.nansum(np.abs(matrix)) > 0})
    return [
        _curve_figure(pyplot, figure_dir / FIGURES[0], curves, tasks, colors, seed, "evaluation return",
                      "Evaluation return: IQM over seeds, 95% bootstrap band (offline phase, then online)",
                      {task: float(ref["mean_return"]) for task, ref in references.items()}, switches,
                      offline_order),
        _curve_figure(pyplot, figure_dir / FIGURES[1],
                      {group: curve for group, curve in catastrophes.items() if group[0] in with_catastrophes},
                      with_catastrophes, colors, seed, "cumulative training catastrophes",
                      "Training catastrophes: IQM over seeds, 95% bootstrap band", None, switches, offline_order),
        _iqm_bars(pyplot, figure_dir / FIGURES[2], summary, colors, OFFLINE_BARS, offline_row_order),
    ]


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
                  switches: Optional[Mapping[str, int]] = None, sort_key=order) -> Path:
    """One panel per task, a line and band per (strategy, backbone). With ``switches`` (task ->
    position of the offline phase's end), x is the phase axis of :func:`phase_curves`."""
    backbones = sorted({backbone for _, _, backbone in curves})
    figure, axes = _grid(pyplot, max(1, len(tasks)))
    legend: Dict[str, object] = {}
    for ax, task in zip(axes, tasks):
        for (group_task, strategy, backbone), (steps, matrix) in sorted(
                curves.items(), key=lambda item: sort_key(*item[0][1:])):
            if group_task != task:
                continue
            point, low, high = iqm_band(matrix, reps=CURVE_REPS, seed=seed)
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


def _iqm_bars(pyplot, path: Path, summary, colors, metrics=PAPER_BARS, sort_key=row_order) -> Path:
    """One column per task, one row of horizontal bars per (metric, axis label) of ``metrics``."""
    by_task: Dict[str, List[Mapping[str, object]]] = defaultdict(list)
    for row in summary:
        by_task[row["task"]].append(row)
    tasks = sorted(by_task)
    height = max(len(rs) for rs in by_task.values())
    figure, axes = pyplot.subplots(len(metrics), len(tasks),
                                   figsize=(max(7.5, 4.5 * len(tasks)), len(metrics) * (1.2 + 0.35 * height)),
                                   squeeze=False)
    for column, task in enumerate(tasks):
        task_rows = sorted(by_task[task], key=sort_key)
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

OFFLINE_BARS = (("online_auc", "online AUC (normalised) IQM"), ("final_return", "final return IQM"),
                ("dip", "dip IQM"))


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


def phase_curves(rows, metric: str, switches: Mapping[str, int]) -> Dict[Group, Tuple[np.ndarray, np.ndarray]]:
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

