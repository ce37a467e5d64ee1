"""docs/BENCHMARK.md's offline-to-online claims 1-4, tested on the offline suite's results.csv (claim 5,
against d3rlpy, is ``python -m benchmarks.studies.d3rlpy_awac``'s).

The claims and their verdicts are ``guidedrl.experiments.claims.offline_verdicts``'s (its
docstring states them): per task, over seeds, rliable's probability of improvement (holds when
its whole 95% interval is above 0.5, reversed when below, unresolved otherwise), and for claim 3
the IQM of final return minus offline-end score against 0.

    python -m benchmarks.claims.offline docs/results/offline/results.csv --section offline-claims
"""

from __future__ import annotations

from guidedrl.experiments import claims

from benchmarks.common import run_claims


if __name__ == "__main__":
    run_claims(__spec__.name, __doc__, claims.OFFLINE_HEADER, claims.offline_table,
               "over seeds, rliable, {reps} resamples")
