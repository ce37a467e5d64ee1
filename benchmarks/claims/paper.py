"""docs/BENCHMARK.md's four claims, tested on a ``guidedrl bench`` results.csv.

The comparisons and their verdicts are ``guidedrl.experiments.claims.paper_comparisons``'s (its
docstring states the claims): rliable's probability that a run of X does better than a run of Y
on one task and backbone, over seeds, with its 95% stratified-bootstrap interval; a comparison
holds when the whole interval is above 0.5, is reversed when it is below, and is unresolved
otherwise.

    python -m benchmarks.claims.paper docs/results/paper/results.csv --section paper-claims
    python -m benchmarks.claims.paper docs/results/ablation-target/results.csv --section ablation-claims

With ``--against OTHER/results.csv`` (a rerun of the same suite, e.g. on another machine), each
comparison is set beside its verdict on OTHER's runs, and the verdicts that moved are counted:

    python -m benchmarks.claims.paper docs/results/paper-rerun/results.csv --against docs/results/paper/results.csv
"""

from __future__ import annotations

from guidedrl.experiments import claims

from benchmarks.common import run_claims


if __name__ == "__main__":
    run_claims(__spec__.name, __doc__, claims.PAPER_HEADER, claims.paper_table,
               "probability of improvement over seeds, rliable, {reps} resamples", against=claims.against_table)
