"""Experiments: statistics over runs (and, next, the benchmark grid, plots and reports)."""
