"""One XLA worker thread for a process that runs on one core.

XLA's CPU runtime runs a program's operations on a thread pool sized, when JAX creates its CPU
client, by the cores the process may run on; with ``--xla_cpu_multi_thread_eigen=false`` the
pool no longer splits an operation across threads, but it still hands independent operations
from thread to thread and its idle workers spin looking for work. For a process meant to use one
core (a benchmark trial; ``runner.WORKER_ENV``), that costs time: on a 2-core machine a 64-64
SAC training step took 0.928 ms with the default pool and 0.745 ms with one thread, its update
in a scan 0.368 and 0.290 ms (``python -m benchmarks.speed.step_cost`` and ``--default-pool``;
docs/PERFORMANCE.md, "One worker thread per trial"). JAX has no option for the pool's size, so
:func:`one_worker_thread` creates the client while the process may run on one core only, then
gives every thread of the process back the cores it had.
"""

from __future__ import annotations

import os


def backend_exists() -> bool:
    """Whether JAX's backends (and so the CPU client's thread pool) already exist."""
    try:
        from jax._src.xla_bridge import backends_are_initialized
    except ImportError:  # pragma: no cover - a JAX without it: assume not, the call is harmless
        return False
    return bool(backends_are_initialized())


def _threads() -> list:
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:  # pragma: no cover - not Linux
        return [0]


def one_worker_thread() -> bool:
    """Create JAX's CPU client with a one-thread pool; True if done here, False when the client
    already existed or the platform cannot restrict a process's cores (then nothing changes).
    Every thread of the process may run on all of its cores afterwards, as before."""
    if not hasattr(os, "sched_setaffinity") or backend_exists():
        return False
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        import jax

        jax.devices("cpu")
    finally:
        for tid in _threads():  # threads started meanwhile inherited the one core
            try:
                os.sched_setaffinity(tid, cores)
            except OSError:  # a thread that has ended since
                pass
    return True


def pool_threads() -> int:
    """How many of this process's threads belong to XLA's CPU pool (named ``tf_XLAEigen``)."""
    count = 0
    for tid in _threads():
        try:
            with open(f"/proc/self/task/{tid}/comm") as handle:
                count += handle.read().strip() == "tf_XLAEigen"
        except OSError:
            pass
    return count
