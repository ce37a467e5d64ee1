"""Statistics over runs, as docs/BENCHMARK.md's protocol asks for them — the one place they
are computed (the report, the claims and the benchmark scripts import them from here).

Per run: the normalised area under the evaluation-return curve (AUC), the final return and the
early return.
Per (task, strategy) over seeds: the interquartile mean (IQM) with a 95% stratified-bootstrap
interval, and the probability of improvement of one strategy over another — both from
rliable (Agarwal et al., 2021), imported here only (``pip install -e ".[stats]"``).
Without rliable, small percentile bootstraps over seeds: per point of a learning curve
(:func:`iqm_band`, the report's shaded bands) and of a mean (:func:`mean_interval`).

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


def early_return(steps, returns, fraction: float = 0.1) -> float:
    """The mean of the evaluations in the first ``fraction`` of the run's budget (steps at most
    ``fraction`` × the last step; a curve starts at step 0): the guide's head start."""
    steps, returns = np.asarray(steps, float), np.asarray(returns, float)
    return float(returns[steps <= fraction * steps[-1]].mean())


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


def iqm_band(values, reps: int = 2000, seed: int = 0,
             level: float = 0.95) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``values`` (seeds × evaluation steps, NaN where a seed has no evaluation):
    the IQM over seeds (scipy's 25%-trimmed mean) and a ``level`` percentile-bootstrap
    interval from ``reps`` resamples of the seeds. Columns without any value stay NaN.

    Vectorised over resamples and over the columns that share the same seeds present (rliable's
    interval estimates are per score, not per point of a curve, hence this one).
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


def mean_interval(values, reps: int = 10_000, seed: int = 0, level: float = 0.95) -> Interval:
    """The mean over seeds and its ``level`` percentile-bootstrap interval from ``reps`` resamples."""
    values = np.asarray(values, float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(reps, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(values.mean()), float(low), float(high)
