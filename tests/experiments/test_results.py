"""results.csv round trip and the summary's numbers against direct computations."""

import math

import pytest

from guidedrl.experiments import results, stats


def _hand_made_rows():
    rows = []
    steps = [0, 1000, 2000, 3000]
    curves = {  # (strategy, seed): eval returns; task "T", backbone "sac"
        ("none", 0): [-10, -8, -6, -4], ("none", 1): [-10, -9, -8, -7], ("none", 2): [-10, -10, -9, -9],
        ("pag", 0): [-6, -4, -2, 0], ("pag", 1): [-5, -3, -2, -1], ("pag", 2): [-10, -5, -1, -1],
    }
    catastrophes = {("none", 0): 5, ("none", 1): 7, ("none", 2): 9, ("pag", 0): 0, ("pag", 1): 1, ("pag", 2): 0}
    for (strategy, seed), returns in curves.items():
        metrics = [{"step": s, "eval_return": r, "train_catastrophes": catastrophes[strategy, seed] * i // 3}
                   for i, (s, r) in enumerate(zip(steps, returns))]
        rows += results.run_rows(metrics, "T", strategy, "sac", seed)
    return rows, curves, catastrophes


def test_results_round_trip(tmp_path):
    rows, _, _ = _hand_made_rows()
    results.write_results(tmp_path / "results.csv", rows)
    back = results.read_results(tmp_path / "results.csv")
    assert len(back) == len(rows) == 24
    assert list(back[0]) == list(results.RESULT_COLUMNS)
    assert back[5]["eval_return"] == rows[5]["eval_return"] and math.isnan(back[5]["guide_usage"])


def test_summary_numbers_equal_direct_computation(tmp_path):
    rows, curves, catastrophes = _hand_made_rows()
    results.write_results(tmp_path / "results.csv", rows)
    summary = {row["strategy"]: row for row in results.summarize(results.read_results(tmp_path / "results.csv"), reps=500)}
    steps = [0, 1000, 2000, 3000]
    low, high = -10.0, 0.0  # lowest and highest evaluation on the task
    for strategy in ("none", "pag"):
        aucs = [stats.normalized_auc(steps, curves[strategy, s], low, high) for s in range(3)]
        assert summary[strategy]["auc_iqm"] == pytest.approx(stats.iqm(aucs))
        assert summary[strategy]["final_return_iqm"] == pytest.approx(stats.iqm([curves[strategy, s][-1] for s in range(3)]))
        assert summary[strategy]["train_catastrophes_iqm"] == pytest.approx(
            stats.iqm([catastrophes[strategy, s] for s in range(3)]))
        assert summary[strategy]["seeds"] == 3
    # every pag run's AUC is above every none run's: P(pag > none) = 1
    assert summary["pag"]["p_improvement"] == pytest.approx(1.0)
    assert "p_improvement" not in summary["none"]
    # by hand: pag seed 0 curve (-6, -4, -2, 0) -> normalised (.4, .6, .8, 1) -> trapezoid mean 0.7
    assert stats.normalized_auc(steps, curves["pag", 0], low, high) == pytest.approx(0.7)
