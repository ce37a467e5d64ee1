"""Statistics over runs, as docs/BENCHMARK.md's protocol asks for them.

Per run: the normalised area under the evaluation-return curve (AUC) and the final return.
Per (task, strategy) over seeds: the interquartile mean (IQM) with a 95% stratified-bootstrap
interval, and the probability of improvement of one strategy over another — both from
rliable (Agarwal et al., 2021), imported here only (``pip install -e ".[stats]"``).

Score arrays follow rliable's convention: shape (runs, tasks), one column per task, so a
bootstrap resamples runs within each task (stratified) and a single task is a plain
bootstrap over seeds.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Dict, Mapping, Tuple

import numpy as np
from scipy import stats as scipy_stats

from guidedrl.errors import GuidedRLError

Interval = Tuple[float, float, float]
"""(point estimate, lower, upper)."""


def normalized_auc(steps, returns, low: float, high: float) -> float:
    """The trapezoidal mean over the run of (R - low) / (high - low): 1 is "``high`` from the
    first evaluation on", 0 "``low`` throughout"; ``low``/``high`` are a task's reference
    returns (e.g. the lowest and highest evaluation seen on it)."""
    steps, returns = np.asarray(steps, float), np.asarray(returns, float)
    if steps.ndim != 1 or steps.shape != returns.shape or steps.size < 2:
        raise ValueError(f"need matching 1-d steps and returns with 2+ points, got {steps.shape} and {returns.shape}")
    if not high > low:
        raise ValueError(f"need high > low, got low={low}, high={high}")
    normalized = (returns - low) / (high - low)
    return float(np.trapezoid(normalized, steps) / (steps[-1] - steps[0]))


def final_return(steps, returns, fraction: float = 0.1) -> float:
    """The mean of the evaluations in the last ``fraction`` of the run's steps (at least the last)."""
    steps, returns = np.asarray(steps, float), np.asarray(returns, float)
    tail = steps >= steps[-1] - fraction * (steps[-1] - steps[0])
    return float(returns[tail].mean())


def iqm(values) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy's 25%-trimmed mean), over all entries."""
    return float(scipy_stats.trim_mean(np.asarray(values, float).reshape(-1), proportiontocut=0.25))


def _rliable():
    try:
        from rliable import library, metrics
    except ImportError as error:
        raise GuidedRLError(
            f"the benchmark statistics need rliable: pip install -e \".[stats]\" ({error})"
        ) from None
    return library, metrics


@contextlib.contextmanager
def _seeded_global_rng(seed: int):
    """rliable 1.2's stratified bootstraps draw from NumPy's global generator and ignore the
    ``random_state`` they are given: seed it for the call and put the caller's state back."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # arch's notice that rliable's random_state is deprecated
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        np.random.set_state(saved)


def _as_scores(values) -> np.ndarray:
    scores = np.asarray(values, float)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] < 1:
        raise ValueError(f"scores must be (runs,) or (runs, tasks), got shape {scores.shape}")
    return scores


def iqm_intervals(scores: Mapping[str, np.ndarray], reps: int = 10_000, seed: int = 0,
                  level: float = 0.95) -> Dict[str, Interval]:
    """IQM and its stratified-bootstrap interval for each named score array (runs × tasks)."""
    library, metrics = _rliable()
    score_dict = {name: _as_scores(values) for name, values in scores.items()}
    with _seeded_global_rng(seed):
        points, intervals = library.get_interval_estimates(
            score_dict, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps,
            confidence_interval_size=level, random_state=np.random.RandomState(seed))
    return {name: (float(points[name][0]), float(intervals[name][0, 0]), float(intervals[name][1, 0]))
            for name in score_dict}


def probability_of_improvement(scores_x, scores_y, reps: int = 10_000, seed: int = 0,
                               level: float = 0.95) -> Interval:
    """P(X > Y): the probability that a run of X beats a run of Y on the same task (ties count
    half), averaged over tasks, with its stratified-bootstrap interval."""
    library, metrics = _rliable()
    pair = {"x,y": (_as_scores(scores_x), _as_scores(scores_y))}
    with _seeded_global_rng(seed):
        points, intervals = library.get_interval_estimates(
            pair, metrics.probability_of_improvement, reps=reps, confidence_interval_size=level,
            random_state=np.random.RandomState(seed))
    lower, upper = np.asarray(intervals["x,y"], float).reshape(2)
    return float(points["x,y"]), float(lower), float(upper)
