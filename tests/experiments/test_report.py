"""summary.csv, report.md and the figures against recomputation from the same results.csv."""

import csv
import json
import math

import numpy as np
import pytest

from guidedrl.errors import GuidedRLError
from guidedrl.experiments import figures, report, results, tables
from guidedrl.experiments.suites import parse_label

REPS = 500
STEPS = [0, 1000, 2000, 3000]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GLOBAL_SEED = 1234
"""rliable 1.2's bootstraps draw their indices from the global ``np.random`` (their
``update_indices`` call ``np.random.choice``), not from the ``random_state`` stats.py passes:
the tests seed it before each summary they compare, so equal numbers mean equal computations."""


def _hand_made_rows(catastrophes_on_cliff=True):
    """Two tasks, none and pag on sac, 4 seeds; only task "Cliff" has training catastrophes."""
    rows = []
    curves = {  # (task, strategy, seed): eval returns
        ("Cliff", "none", 0): [-10, -8, -6, -4], ("Cliff", "none", 1): [-10, -9, -8, -7],
        ("Cliff", "none", 2): [-10, -10, -9, -9], ("Cliff", "none", 3): [-9, -8, -8, -6],
        ("Cliff", "pag", 0): [-6, -4, -2, 0], ("Cliff", "pag", 1): [-5, -3, -2, -1],
        ("Cliff", "pag", 2): [-10, -5, -1, -1], ("Cliff", "pag", 3): [-7, -6, -3, -2],
        ("Reach", "none", 0): [0, 10, 20, 30], ("Reach", "none", 1): [0, 5, 15, 40],
        ("Reach", "none", 2): [5, 10, 10, 20], ("Reach", "none", 3): [0, 0, 10, 25],
        ("Reach", "pag", 0): [0, 30, 60, 90], ("Reach", "pag", 1): [10, 20, 40, 100],
        ("Reach", "pag", 2): [0, 5, 30, 20], ("Reach", "pag", 3): [5, 40, 50, 80],
    }
    total_catastrophes = {"none": [5, 7, 9, 4], "pag": [0, 1, 0, 2]}
    for (task, strategy, seed), returns in curves.items():
        total = total_catastrophes[strategy][seed] if task == "Cliff" and catastrophes_on_cliff else 0
        metrics = [{"step": step, "eval_return": value, "train_catastrophes": total * i // 3}
                   for i, (step, value) in enumerate(zip(STEPS, returns))]
        rows += results.run_rows(metrics, task, strategy, "sac", seed)
    return rows


def _trials(statuses_errors):
    return {"suite": "smoke", "command": "guidedrl bench --suite smoke", "wall_time": 3725.6,
            "trials": [{"id": f"trial-{i}", "task": "Cliff", "strategy": "pag", "backbone": "sac", "seed": i,
                        "status": status, "error": error} for i, (status, error) in enumerate(statuses_errors)]}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("bench")
    results.write_results(out_dir / "results.csv", _hand_made_rows())
    (out_dir / "trials.json").write_text(json.dumps(_trials([
        ("finished", None), ("crashed", "ValueError: guide returned NaN\nTraceback (most recent call last):"),
        ("finished", None), ("pending", None)])))
    np.random.seed(GLOBAL_SEED)
    paths = report.write_report(out_dir, reps=REPS, seed=0)
    return out_dir, paths


def _read_summary(path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def _table_row(markdown, task, strategy, backbone="sac"):
    section = markdown.split(f"## {task}\n", 1)[1].split("\n## ", 1)[0]
    matches = [line for line in section.splitlines() if line.startswith(f"| {strategy} | {backbone} |")]
    assert len(matches) == 1, section
    return matches[0]


def test_summary_csv_equals_recomputed_summary(written):
    out_dir, paths = written
    assert paths["summary"] == out_dir / "summary.csv"
    fieldnames, rows = _read_summary(paths["summary"])
    assert tuple(fieldnames) == report.SUMMARY_COLUMNS
    np.random.seed(GLOBAL_SEED)
    expected = results.summarize(results.read_results(out_dir / "results.csv"), reps=REPS, seed=0)
    assert [(r["task"], r["strategy"], r["backbone"]) for r in rows] == [
        ("Cliff", "none", "sac"), ("Cliff", "pag", "sac"), ("Reach", "none", "sac"), ("Reach", "pag", "sac")]
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected):
        assert (row["task"], row["strategy"], row["backbone"], int(row["seeds"])) == \
               (want["task"], want["strategy"], want["backbone"], want["seeds"]) and want["seeds"] == 4
        for name in report.SUMMARY_COLUMNS[4:]:
            if name not in want:
                assert row[name] == "", (name, row)
            else:  # exact: repr round-trips a float
                assert float(row[name]) == want[name], (name, row[name], want[name])
    pag_cliff = rows[1]
    assert float(pag_cliff["p_improvement"]) == 1.0  # every pag run's AUC beats every none run's
    assert rows[0]["p_improvement"] == rows[0]["p_improvement_low"] == ""


def test_report_md_tables_hold_the_summary_numbers(written):
    out_dir, paths = written
    markdown = paths["report"].read_text()
    _, rows = _read_summary(paths["summary"])
    summary = {(r["task"], r["strategy"]): r for r in rows}
    assert markdown.startswith("# ")
    assert "## Cliff\n" in markdown and "## Reach\n" in markdown
    assert f"{REPS} resamples" in markdown
    row = summary["Reach", "pag"]
    auc = tables.format_interval(float(row["auc_iqm"]), float(row["auc_low"]), float(row["auc_high"]), 2)
    final = tables.format_interval(float(row["final_return_iqm"]), float(row["final_return_low"]),
                                   float(row["final_return_high"]), 1)
    improvement = tables.format_interval(float(row["p_improvement"]), float(row["p_improvement_low"]),
                                         float(row["p_improvement_high"]), 2)
    line = _table_row(markdown, "Reach", "pag")
    assert line.strip("| ").split(" | ")[2:] == ["4", auc, final, "0.0 [0.0, 0.0]", improvement]
    # the baseline has no P(improvement) over itself; its catastrophes on Cliff are 4..9
    baseline = _table_row(markdown, "Cliff", "none")
    assert baseline.endswith(f"| {tables.MISSING} |")
    cliff = summary["Cliff", "none"]
    assert tables.format_interval(float(cliff["train_catastrophes_iqm"]), float(cliff["train_catastrophes_low"]),
                                  float(cliff["train_catastrophes_high"]), 1) in baseline
    for name in figures.FIGURES:
        assert f"](figures/{name})" in markdown


def test_report_md_lists_trials_and_crashes(written):
    _, paths = written
    markdown = paths["report"].read_text()
    head = markdown.split("## ", 1)[0]
    assert "`smoke`" in head and "`guidedrl bench --suite smoke`" in head
    assert "2 finished, 1 crashed, 1 pending" in head
    assert "1:02:06" in head  # 3725.6 s
    crashed = markdown.split("## Crashed trials\n", 1)[1]
    assert "- `trial-1`: ValueError: guide returned NaN\n" in crashed
    assert "Traceback" not in crashed and "trial-0" not in crashed


def test_figures_are_png_files(written):
    out_dir, paths = written
    assert paths["figures"] == [out_dir / "figures" / name for name in figures.FIGURES]
    for path in paths["figures"]:
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000, (path, len(data))
    assert not list(out_dir.rglob("*.tmp"))


def test_figures_show_the_tasks_they_should(tmp_path, monkeypatch):
    """Catastrophe panels only for tasks with catastrophes, and a note when there are none."""
    from matplotlib.figure import Figure
    seen = {}
    original = Figure.savefig

    def recording_savefig(figure, handle, *args, **kwargs):
        name = handle.name.rsplit("/", 1)[-1].removesuffix(".tmp")
        seen[name] = ([ax.get_title() for ax in figure.axes if ax.get_visible() and ax.get_title()],
                      [text.get_text() for ax in figure.axes for text in ax.texts],
                      [len(ax.lines) for ax in figure.axes if ax.get_visible()])
        return original(figure, handle, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    for catastrophes, catastrophe_titles in ((True, ["Cliff"]), (False, [])):
        out_dir = tmp_path / str(catastrophes)
        out_dir.mkdir()
        results.write_results(out_dir / "results.csv", _hand_made_rows(catastrophes_on_cliff=catastrophes))
        report.write_report(out_dir, reps=50)
        titles, texts, lines = seen["learning_curves.png"]
        assert titles == ["Cliff", "Reach"] and lines == [2, 2]  # one line per (strategy, backbone)
        titles, texts, _ = seen["catastrophes.png"]
        assert titles == catastrophe_titles
        assert ("no catastrophes in these runs" in texts) == (not catastrophes)
        assert seen["iqm_bars.png"][0] == ["Cliff", "Reach"]
        markdown = (out_dir / "report.md").read_text()
        assert "Crashed trials" not in markdown and "Suite" not in markdown  # no trials.json


def test_no_crash_is_listed_as_none(tmp_path):
    results.write_results(tmp_path / "results.csv", _hand_made_rows())
    (tmp_path / "trials.json").write_text(json.dumps({**_trials([("finished", None)]), "wall_time": None}))
    markdown = report.write_report(tmp_path, reps=50)["report"].read_text()
    assert "1 finished, 0 crashed, 0 pending" in markdown and "Wall time: unknown" in markdown
    assert markdown.split("## Crashed trials\n", 1)[1].strip() == "none"


def test_missing_or_empty_results_name_the_path(tmp_path):
    with pytest.raises(GuidedRLError, match="results.csv does not exist") as error:
        report.write_report(tmp_path, reps=50)
    assert str(tmp_path / "results.csv") in str(error.value)
    results.write_results(tmp_path / "results.csv", [])
    with pytest.raises(GuidedRLError, match="has no rows") as error:
        report.write_report(tmp_path, reps=50)
    assert str(tmp_path / "results.csv") in str(error.value)
    assert not (tmp_path / "summary.csv").exists() and not (tmp_path / "report.md").exists()


def test_format_interval():
    assert tables.format_interval(0.70449, 0.6, 0.81234, 2) == "0.70 [0.60, 0.81]"
    assert tables.format_interval(-4.25, -7.04, -1.96, 1) == "-4.2 [-7.0, -2.0]"
    assert tables.format_interval(3, 1, 5, 1) == "3.0 [1.0, 5.0]"
    for missing in (None, "", math.nan):
        assert tables.format_interval(missing, missing, missing, 2) == tables.MISSING


def test_parse_label_inverts_variant():
    from guidedrl.experiments.suites import _variant
    assert parse_label(_variant("pag", phi=0.5, delta=0.9)) == ("pag", {"phi": "0.5", "delta": "0.9"})
    assert parse_label(_variant("sag", target="actor")) == ("sag", {"target": "actor"})
    assert parse_label("pag[phi=0.5,delta=0.9]") == ("pag", {"phi": "0.5", "delta": "0.9"})
    assert parse_label("sag[target=actor]") == ("sag", {"target": "actor"})
    assert parse_label("none") == ("none", {})
    assert parse_label("odd[name]") == ("odd[name]", {})


def test_parameter_grid_in_report(tmp_path):
    """A 3 x 2 grid of PAG's settings (values listed out of order, one cell absent): the
    report lays the summary's numbers out by setting, in numeric (not string) order, with —
    for the gap."""
    rows = []
    cells = {(phi, delta): 10 * phi + delta for phi in (2, 0.1, 10) for delta in (0.9, 0.5)}
    del cells[2, 0.9]
    for (phi, delta), level in cells.items():
        for seed in range(3):
            metrics = [{"step": step, "eval_return": level * (i + 1) + seed, "train_catastrophes": int(level) + i * seed}
                       for i, step in enumerate(STEPS)]
            rows += results.run_rows(metrics, "Cliff", f"pag[phi={phi:g},delta={delta:g}]", "sac", seed)
    results.write_results(tmp_path / "results.csv", rows)
    np.random.seed(GLOBAL_SEED)
    markdown = report.write_report(tmp_path, reps=REPS)["report"].read_text()
    np.random.seed(GLOBAL_SEED)
    summary = results.summarize(rows, reps=REPS, seed=0)
    grids = tables.parameter_grids(summary)
    assert len(grids) == 1
    grid = grids[0]
    assert grid["rows"] == ("phi", ["0.1", "2", "10"]) and grid["columns"] == ("delta", ["0.5", "0.9"])
    by_label = {row["strategy"]: row for row in summary}
    for metric, title in (("final_return", "final return"), ("train_catastrophes", "training catastrophes")):
        section = markdown.split(f"### Cliff, pag (sac): {title} IQM [95% CI]\n", 1)[1].split("\n\n", 1)[0]
        lines = section.strip().splitlines()
        assert lines[0] == "| phi \\ delta | 0.5 | 0.9 |"
        for line, phi in zip(lines[2:], ("0.1", "2", "10")):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            assert cells[0] == phi
            for cell, delta in zip(cells[1:], ("0.5", "0.9")):
                row = by_label.get(f"pag[phi={phi},delta={delta}]")
                expected = tables.MISSING if row is None else tables.format_interval(
                    row[f"{metric}_iqm"], row[f"{metric}_low"], row[f"{metric}_high"], 1)
                assert cell == expected
        assert len(lines) == 5 and "| 2 | " in section and tables.MISSING in section


def test_no_grid_for_plain_strategies_or_one_setting():
    summary = [{"task": "T", "backbone": "sac", "strategy": s} for s in
               ("none", "pag", "sag[target=actor]", "sag[target=switched]", "pig[beta0=1,delta=0.5]")]
    assert tables.parameter_grids(summary) == []


def test_guide_alone_reference_for_built_in_tasks(tmp_path, monkeypatch):
    """A built-in task gets its default guide alone as a reference (the numbers stored with
    the package): a sentence under its table and a dotted line at that return in its panel;
    a task that is not built in gets neither."""
    from matplotlib.figure import Figure

    from guidedrl.envs import ALONE_COMMAND, stored_alone
    stored = stored_alone()["PointMass-v0"]
    panels = {}
    original = Figure.savefig

    def recording_savefig(figure, handle, *args, **kwargs):
        if handle.name.rsplit("/", 1)[-1].startswith("learning_curves"):
            for ax in figure.axes:
                if ax.get_visible() and ax.get_title():
                    panels[ax.get_title()] = [(line.get_label(), list(line.get_ydata())) for line in ax.lines]
        return original(figure, handle, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    rows = [{**row, "task": "PointMass-v0" if row["task"] == "Reach" else row["task"]} for row in _hand_made_rows()]
    results.write_results(tmp_path / "results.csv", rows)
    markdown = report.write_report(tmp_path, reps=50)["report"].read_text()
    section = markdown.split("## PointMass-v0\n", 1)[1].split("\n## ", 1)[0]
    assert (f"return {stored['mean_return']:.1f} ± {stored['std_return']:.1f}, {stored['catastrophes']} "
            f"catastrophes in {stored['episodes']} deterministic episodes (`{ALONE_COMMAND}`)") in section
    assert "guide alone" not in markdown.split("## Cliff\n", 1)[1].split("\n## ", 1)[0]
    reference = [ydata for label, ydata in panels["PointMass-v0"] if label == "guide alone"]
    assert reference == [[stored["mean_return"]] * 2]
    assert [label for label, _ in panels["Cliff"]] == ["none (sac)", "pag (sac)"]
