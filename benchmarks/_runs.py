"""Shared by the benchmark scripts: run (or finish) one training run, bootstrap intervals."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

import guidedrl
from guidedrl.training.logging import read_metrics


def run_or_resume(run_dir: Path, steps: int, **train_kwargs) -> list:
    """Train into ``run_dir`` unless it already holds a finished run; an interrupted one is
    resumed from its checkpoint. Returns the metrics rows."""
    rows = read_metrics(run_dir)
    if (run_dir / "checkpoint").exists() and rows and int(rows[-1]["step"]) >= steps:
        return rows
    started = time.perf_counter()
    if (run_dir / "checkpoint").exists():
        guidedrl.train(train_kwargs.get("env", "Pendulum-v1"), resume=str(run_dir), progress=False,
                       guide=train_kwargs.get("guide"))
    else:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        guidedrl.train(steps=steps, out=str(run_dir), progress=False, **train_kwargs)
    print(f"{run_dir.name}: {time.perf_counter() - started:.0f} s", flush=True)
    return read_metrics(run_dir)


def bootstrap_ci(values, reps: int = 10_000, seed: int = 0, level: float = 0.95):
    """Mean and percentile-bootstrap interval of the mean over seeds."""
    values = np.asarray(values, float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(reps, len(values)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(values.mean()), float(lo), float(hi)
