"""docs/BENCHMARK.md's confidence claims, tested on the confidence suite's results.csv.

The claims and their verdicts are ``guidedrl.experiments.claims.confidence_verdicts``'s (its
docstring states them): per task, over seeds, rliable's probability of improvement P(X better
than Y) with its 95% stratified-bootstrap interval, "holds" when the whole interval is above 0.5,
"reversed" when below, "unresolved" otherwise; below the verdicts, the training catastrophes per
run on the repulsive tasks and the risk confidence's catastrophe targets.

    python -m benchmarks.claims.confidence docs/results/confidence/results.csv --section confidence-claims
"""

from __future__ import annotations

from guidedrl.experiments import claims

from benchmarks.common import run_claims


if __name__ == "__main__":
    run_claims(__spec__.name, __doc__, claims.CONFIDENCE_HEADER, claims.confidence_table,
               "probability of improvement over seeds, rliable, {reps} resamples")
