"""Run logs: ``metrics.csv`` (one row per evaluation), TensorBoard events, ``config.json``."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

METRICS = "metrics.csv"
CONFIG = "config.json"
TENSORBOARD = "tb"
TIMING_COLUMNS = ("steps_per_second", "wall_time")
"""Columns that depend on the machine's speed; everything else is reproducible from the seed."""


def write_config(directory: Path, data: dict) -> None:
    (directory / CONFIG).write_text(json.dumps(data, indent=2))


def read_metrics(directory: Path) -> List[Dict[str, str]]:
    """The rows of ``metrics.csv`` as dicts of strings (empty when there is none)."""
    path = Path(directory) / METRICS
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _format(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def row_position(row: Dict[str, object]) -> Tuple[int, int]:
    """Where a row stands in a run: (offline gradient steps, environment steps) — offline rows
    have step 0, online rows the whole offline phase behind them (rows of runs without the
    offline_step column count it as 0)."""
    offline = row.get("offline_step", "")
    return int(offline) if offline not in ("", None) else 0, int(row["step"])


def tensorboard_step(row: Dict[str, object]) -> int:
    """TensorBoard's one axis: offline gradient steps, then environment steps after them."""
    offline, step = row_position(row)
    return offline + step


class MetricsLogger:
    """Appends evaluation rows to metrics.csv and TensorBoard.

    On resume at ``resume_at`` = (offline step, step), rows written after the checkpoint being
    resumed are dropped (with ``redo``, the row at that very position too: its evaluation is
    run again) and TensorBoard purges events past that point.
    """

    def __init__(self, directory: Path, columns: Sequence[str], resume_at: Optional[Tuple[int, int]] = None,
                 redo: bool = False):
        from tensorboardX import SummaryWriter  # heavy import kept out of library import time

        self.directory = Path(directory)
        self.columns = list(columns)
        path = self.directory / METRICS
        if resume_at is not None and path.exists():
            kept = [row for row in read_metrics(self.directory)
                    if row_position(row) < resume_at or (row_position(row) == resume_at and not redo)]
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.columns)
                writer.writeheader()
                writer.writerows({c: row.get(c, "") for c in self.columns} for row in kept)
        elif not path.exists() or resume_at is None:
            with path.open("w", newline="") as handle:
                csv.writer(handle).writerow(self.columns)
        self._csv = path.open("a", newline="")
        purge = None if resume_at is None else sum(resume_at) + (0 if redo else 1)
        self._tb = SummaryWriter(str(self.directory / TENSORBOARD), purge_step=purge)

    def log(self, row: Dict[str, object]) -> None:
        """Write one row (missing columns are left empty) and its numbers to TensorBoard."""
        line = io.StringIO()
        csv.DictWriter(line, fieldnames=self.columns).writerow(
            {c: _format(row.get(c, "")) for c in self.columns})
        end = self._csv.tell()
        try:
            self._csv.write(line.getvalue())
            self._csv.flush()
        except OSError as error:  # a full disk: take the partial row back, name the file
            self._csv = _reopen_truncated(self._csv, end)
            if error.filename is None:
                error.filename = str(self.directory / METRICS)
            raise
        step = tensorboard_step(row)
        for name, value in row.items():
            if (name not in ("step", "offline_step") and isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value)):
                self._tb.add_scalar(name, value, step)
        self._tb.flush()

    def close(self) -> None:
        self._csv.close()
        self._tb.close()


def _reopen_truncated(handle, size: int):
    """``handle``'s file cut back to ``size`` bytes, reopened for appending (what a failed
    write left in Python's buffer is dropped with the old handle)."""
    path = handle.name
    try:
        handle.close()
    except OSError:
        pass
    with open(path, "r+b") as raw:
        raw.truncate(size)
    return open(path, "a", newline="")


def progress_bar(config, seeds: int = 1, width: Optional[int] = None):
    """The terminal's progress bar of a training run: task, steps, last training return, steps/s,
    elapsed and ETA (``rich``; one task, ``total=config.steps``). The task's label is shortened
    until the line fits the terminal (80 columns: env and seeds, without algo/strategy)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress
    from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.table import Column

    width = Console().width if width is None else width
    seeds_text = f" x{seeds}" if seeds > 1 else ""
    steps = len(str(config.steps))
    room = width - (2 * steps + 1) - len("ret -1234.5") - len("1234/s") - 2 * len("0:00:00") - len("ETA") - 12
    labels = [f"{config.algo}/{config.guidance} {config.env}{seeds_text}", f"{config.env}{seeds_text}"]
    label = next((text for text in labels if len(text) <= room), labels[-1][:max(room - 1, 4)] + "…")
    fixed = dict(table_column=Column(no_wrap=True))
    return RichProgress(
        TextColumn(label.replace("[", "\\["), **fixed),
        BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=4)),
        MofNCompleteColumn(**fixed),
        TextColumn("ret {task.fields[ret]:.1f}", **fixed),
        TextColumn("{task.fields[sps]:.0f}/s", **fixed),
        TimeElapsedColumn(**fixed),
        TextColumn("ETA", **fixed),
        TimeRemainingColumn(**fixed),
        expand=True,
    )
