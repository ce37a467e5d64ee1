"""Speed and sample-efficiency measurements of guidedrl (not run by the tests), grouped by purpose.

Run each script as a module from the repository's root, e.g. ``python -m benchmarks.speed.throughput
--help``:

- ``benchmarks.speed``: what a step, an update, a call, a suite and a deployed action cost, and
  guidedrl against Stable-Baselines3, sbx and d3rlpy (docs/PERFORMANCE.md);
- ``benchmarks.claims``: docs/BENCHMARK.md's claims on a suite's results.csv, written into
  docs/RESULTS.md (the verdicts themselves are :mod:`guidedrl.experiments.claims`);
- ``benchmarks.studies``: the built-in tasks and guides, Pendulum learning checks and the AWAC
  studies (docs/RESULTS.md, docs/OFFLINE.md, docs/GUIDES.md, docs/ENVS.md);
- ``benchmarks.common``: what the scripts share (the docs' marked sections, XLA's threads,
  alternated timings, resumable runs).

The scripts are clients of the package: they import its public and phase modules, and nothing in
``src/`` or ``tests/`` imports them.
"""
