"""docs/BENCHMARK.md's four claims, tested on a ``guidedrl bench`` results.csv.

Each claim becomes pairwise comparisons between strategies on one task and backbone, over
seeds: the probability that a run of X does better than a run of Y (rliable's probability of
improvement, 95% stratified-bootstrap interval). A comparison holds when the whole interval
is above 0.5, is reversed when it is below, and is unresolved otherwise. Measures (per run,
``guidedrl.experiments.results.per_run``): AUC, final return, training catastrophes (fewer is
better), and the early return — the mean of the evaluations in the first 10% of the budget
(the guide's head start).

1. SAG and PAG start above SAC (early return); PAG's AUC is at least SAG's, PIG's and RG's.
2. On repulsive tasks SAG and PAG have fewer training catastrophes than SAC and PIG.
3. PAG's final return is at least SAG's.
4. The switched critic target beats the actor's (AUC, the measure set before the runs; final
   return as a second look, added after the first ablation results; from the ablation-target
   suite).

    python benchmarks/claims.py docs/results/paper/results.csv --section paper-claims
    python benchmarks/claims.py docs/results/ablation-target/results.csv --section ablation-claims

With ``--against OTHER/results.csv`` (a rerun of the same suite, e.g. on another machine), each
comparison is set beside its verdict on OTHER's runs, and the verdicts that moved are counted:

    python benchmarks/claims.py docs/results/paper-rerun/results.csv --against docs/results/paper/results.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import write_section  # noqa: E402

from guidedrl.experiments import results, stats  # noqa: E402

REPULSIVE = ("SafeCartpole-v0", "PointCircle-v0", "PointReach-v0")


def early_returns(rows):
    """Per run: the mean eval return over the first 10% of its budget."""
    out = {}
    for key, (steps, run) in results.curves(rows).items():
        returns = np.array([float(r["eval_return"]) for r in run])
        out[key] = float(returns[steps <= 0.1 * steps[-1]].mean())
    return out


def comparisons(rows, reps: int):
    runs = results.per_run(rows)
    early = early_returns(rows)
    for key in runs:
        runs[key]["early_return"] = early[key]
        runs[key]["fewer_catastrophes"] = -runs[key]["train_catastrophes"]
    groups = defaultdict(dict)
    for (task, strategy, backbone, seed), values in runs.items():
        groups[task, backbone, strategy][seed] = values
    tasks = sorted({(t, b) for t, b, _ in groups})

    def compare(claim, task, backbone, x, y, measure, label):
        if (task, backbone, x) not in groups or (task, backbone, y) not in groups:
            return None
        xs = np.array([v[measure] for _, v in sorted(groups[task, backbone, x].items())])
        ys = np.array([v[measure] for _, v in sorted(groups[task, backbone, y].items())])
        p, low, high = stats.probability_of_improvement(xs, ys, reps=reps)
        verdict = "holds" if low > 0.5 else "reversed" if high < 0.5 else "unresolved"
        return (claim, task, backbone, f"{x} vs {y}", label, len(xs), len(ys), p, low, high, verdict)

    found = []
    for task, backbone in tasks:
        for x in ("sag", "pag"):
            found.append(compare(1, task, backbone, x, "none", "early_return", "early return higher"))
        for y in ("sag", "pig", "rg"):
            found.append(compare(1, task, backbone, "pag", y, "auc", "AUC higher"))
        if task in REPULSIVE:
            for x in ("sag", "pag"):
                for y in ("none", "pig"):
                    found.append(compare(2, task, backbone, x, y, "fewer_catastrophes", "fewer catastrophes"))
        found.append(compare(3, task, backbone, "pag", "sag", "final_return", "final return higher"))
        for g in ("sag", "pag"):
            for measure, label in (("auc", "AUC higher"), ("final_return", "final return higher")):
                found.append(compare(4, task, backbone, f"{g}[target=switched]", f"{g}[target=actor]", measure,
                                     label))
    return [row for row in found if row is not None]


def run_claims(doc: str, header: str, table_rows, command: str, note: str, against=None) -> None:
    """The command line of a claims script: read ``results`` (a results.csv), print the table of
    ``table_rows(rows, reps)`` (each a markdown table row) under ``header``, and with
    ``--section`` write it into docs/RESULTS.md between that section's markers."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--section", default=None, help="write the table into docs/RESULTS.md between these markers")
    parser.add_argument("--doc", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "RESULTS.md")
    if against:
        parser.add_argument("--against", type=Path, default=None,
                            help="another results.csv of the same suite: set each verdict beside its verdict there")
    args = parser.parse_args()
    rows = results.read_results(args.results)
    if against and args.against:
        text = against(rows, results.read_results(args.against), args.reps)
    else:
        text = "\n".join([header] + list(table_rows(rows, args.reps)))
    print(text)
    if args.section:
        meta = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                "command": f"python benchmarks/{command} " + " ".join(sys.argv[1:])}
        write_section(args.doc, args.section, text, meta, note=note.format(reps=args.reps))


def _table_rows(rows, reps):
    for claim, task, backbone, pair, label, nx, ny, p, low, high, verdict in comparisons(rows, reps):
        yield (f"| {claim} | {task} | {backbone} | {pair} | {label} | {nx} v {ny} | "
               f"{p:.2f} [{low:.2f}, {high:.2f}] | {verdict} |")


def against_table(rows, other_rows, reps) -> str:
    """Each comparison on ``rows`` beside the same comparison on ``other_rows``, and which
    verdicts moved (a comparison found in only one of them is listed as such)."""
    mine = {c[:5]: c for c in comparisons(rows, reps)}
    theirs = {c[:5]: c for c in comparisons(other_rows, reps)}
    lines = ["| claim | task | backbone | comparison | measure | P here [95% CI] | verdict here | P there [95% CI] "
             "| verdict there | moved |", "|--:|---|---|---|---|--:|---|--:|---|---|"]
    moved, missing, keys = [], 0, sorted(set(mine) | set(theirs), key=lambda k: (k[0], k[1], k[2], k[3], k[4]))

    def cell(c):
        return (f"{c[7]:.2f} [{c[8]:.2f}, {c[9]:.2f}]", c[10]) if c else ("—", "not compared")

    for key in keys:
        (p_here, v_here), (p_there, v_there) = cell(mine.get(key)), cell(theirs.get(key))
        compared = key in mine and key in theirs
        change = f"**{v_there} → {v_here}**" if compared and v_here != v_there else ""
        if change:
            moved.append(key)
        elif not compared:
            missing += 1
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {p_here} | {v_here} | {p_there} | "
                     f"{v_there} | {change} |")
    lines += ["", f"{len(moved)} of {len(keys) - missing} verdicts moved"
              + (": " + "; ".join(f"claim {k[0]}, {k[1]} {k[2]}, {k[3]} ({k[4]})" for k in moved) if moved else "")
              + "." + (f" {missing} comparisons have runs on one side only." if missing else "")]
    return "\n".join(lines)


def main() -> None:
    run_claims(__doc__, "| claim | task | backbone | comparison | measure | runs | P(X better than Y) [95% CI] | verdict |\n"
                        "|--:|---|---|---|---|--:|--:|---|", _table_rows, "claims.py",
               "probability of improvement over seeds, rliable, {reps} resamples", against=against_table)


if __name__ == "__main__":
    main()
