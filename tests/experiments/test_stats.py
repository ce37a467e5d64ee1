"""The benchmark statistics on hand-made numbers."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from guidedrl.experiments import stats


def test_normalized_auc_on_hand_made_curves():
    steps = [0, 1000, 2000, 3000, 4000]
    assert stats.normalized_auc(steps, [10] * 5, low=0, high=10) == pytest.approx(1.0)
    assert stats.normalized_auc(steps, [0] * 5, low=0, high=10) == pytest.approx(0.0)
    assert stats.normalized_auc(steps, [0, 2.5, 5, 7.5, 10], low=0, high=10) == pytest.approx(0.5)
    # a jump at the second evaluation: trapezoids (0+1)/2 * 1/4 + 3 * 1/4 = 0.875
    assert stats.normalized_auc(steps, [0, 10, 10, 10, 10], low=0, high=10) == pytest.approx(0.875)
    # uneven evaluation steps weigh by their spacing
    assert stats.normalized_auc([0, 1, 4], [0, 10, 10], low=0, high=10) == pytest.approx((0.5 + 3) / 4)
    with pytest.raises(ValueError, match="high > low"):
        stats.normalized_auc(steps, [0] * 5, low=1, high=1)
    with pytest.raises(ValueError, match="matching"):
        stats.normalized_auc(steps, [0] * 4, low=0, high=1)


def test_final_return_is_the_mean_of_the_last_tenth():
    steps = np.arange(0, 100_001, 2000)  # 51 evaluations: the last 10% of steps holds 6 of them
    returns = np.where(steps >= 90_000, 7.0, -100.0)
    assert stats.final_return(steps, returns) == pytest.approx(7.0)
    assert stats.final_return([0, 2000, 4000], [1.0, 2.0, 3.0]) == pytest.approx(3.0)


def test_iqm_is_the_mean_of_the_middle_half():
    assert stats.iqm([1, 2, 3, 4, 100, -50, 5, 6]) == pytest.approx(np.mean([2, 3, 4, 5]))
    assert stats.iqm([[1.0, 2.0], [3.0, 4.0]]) == pytest.approx(2.5)


def test_iqm_intervals_match_numpy_and_contain_the_estimate():
    rng = np.random.default_rng(0)
    scores = {"a": rng.normal(0, 1, (10, 3)), "b": np.full((5, 2), 4.0)}
    result = stats.iqm_intervals(scores, reps=2000)
    point, low, high = result["a"]
    assert point == pytest.approx(stats.iqm(scores["a"]))
    assert low < point < high
    assert result["b"] == pytest.approx((4.0, 4.0, 4.0))  # identical runs: no spread
    # a single task given as a vector is a bootstrap over its runs
    assert stats.iqm_intervals({"c": [1, 2, 3, 4, 5]}, reps=500)["c"][0] == pytest.approx(3.0)


def test_probability_of_improvement_on_hand_made_runs():
    assert stats.probability_of_improvement([2, 3, 4], [1, 1, 1], reps=500) == pytest.approx((1.0, 1.0, 1.0))
    assert stats.probability_of_improvement([0, 0], [1, 1], reps=500)[0] == pytest.approx(0.0)
    # ties count half; [1, 3] vs [2, 2]: pairs (1<2, 1<2, 3>2, 3>2) -> 0.5
    assert stats.probability_of_improvement([1, 3], [2, 2], reps=500)[0] == pytest.approx(0.5)
    assert stats.probability_of_improvement([1, 2], [1, 2], reps=500)[0] == pytest.approx(0.5)


def test_intervals_depend_on_the_seed_only_not_on_the_global_generator():
    """rliable draws its bootstrap from NumPy's global generator; the seed must still decide."""
    values = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.3, 0.8])
    other = np.array([0.2, 0.1, 0.3, 0.6, 0.05, 0.4, 0.2])
    np.random.seed(1)
    first = stats.iqm_intervals({"a": values}, reps=300, seed=5), stats.probability_of_improvement(values, other, reps=300, seed=5)
    np.random.seed(2)
    state = np.random.get_state()
    second = stats.iqm_intervals({"a": values}, reps=300, seed=5), stats.probability_of_improvement(values, other, reps=300, seed=5)
    assert first == second
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # the caller's generator is left alone
    assert stats.iqm_intervals({"a": values}, reps=300, seed=6) != first[0]


def test_iqm_band_exact_and_missing_values():
    values = np.array([[0.0, 1.0, 5.0], [2.0, 1.0, np.nan], [4.0, 1.0, 7.0], [100.0, 1.0, np.nan]])
    point, low, high = stats.iqm_band(values, reps=400, seed=3)
    # column 0: the middle two of (0, 2, 4, 100) -> 3; column 1: all equal -> no spread
    assert point[0] == pytest.approx(3.0) and point[1] == 1.0 and low[1] == high[1] == 1.0
    assert point[2] == pytest.approx(6.0)  # the two seeds present
    assert 0.0 <= low[0] < point[0] < high[0] <= 100.0 and 5.0 <= low[2] < high[2] <= 7.0
    again = stats.iqm_band(values, reps=400, seed=3)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip((point, low, high), again))
    assert np.isnan(stats.iqm_band(np.array([[np.nan], [np.nan]]))[0]).all()
    # without missing values the band is the percentile bootstrap of scipy's trim_mean over
    # one set of resampled seed indices
    full = values[:, :2]
    _, low, high = stats.iqm_band(full, reps=400, seed=3)
    boot = scipy_stats.trim_mean(full[np.random.default_rng(3).integers(0, 4, size=(400, 4))], 0.25, axis=1)
    assert np.array_equal(low, np.percentile(boot, 2.5, axis=0))
    assert np.array_equal(high, np.percentile(boot, 97.5, axis=0))


def test_early_return_is_the_mean_of_the_first_tenth():
    steps = np.arange(0, 100_001, 2000)  # 51 evaluations: steps 0..10000 (6 of them) are the first 10%
    returns = np.where(steps <= 10_000, 3.0, 500.0)
    assert stats.early_return(steps, returns) == pytest.approx(3.0)
    assert stats.early_return([0, 2000, 4000], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert stats.early_return([0, 500, 1000], [1.0, 2.0, 9.0], fraction=0.5) == pytest.approx(1.5)


def test_mean_interval_is_a_percentile_bootstrap_of_the_mean():
    values = np.array([1.0, 2.0, 3.0, 10.0])
    mean, low, high = stats.mean_interval(values, reps=500, seed=4)
    means = values[np.random.default_rng(4).integers(0, 4, size=(500, 4))].mean(axis=1)
    assert mean == 4.0 and (low, high) == tuple(np.quantile(means, [0.025, 0.975]))
    assert stats.mean_interval([5.0, 5.0, 5.0]) == (5.0, 5.0, 5.0)
