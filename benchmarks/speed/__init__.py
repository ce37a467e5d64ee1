"""Timings: steps, updates, calls, suites, memory and deployed actions (docs/PERFORMANCE.md)."""
