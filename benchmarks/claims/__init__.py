"""docs/BENCHMARK.md's claims on a suite's results.csv, written into docs/RESULTS.md (the verdicts are
``guidedrl.experiments.claims``'s), and each run's own measures."""
