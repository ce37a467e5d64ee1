"""A trial's process gives XLA's CPU pool one thread and keeps its cores
(``guidedrl.training.threads``); importing guidedrl computes nothing with JAX, or it would be
too late to size the pool. Each check runs in a fresh interpreter: this one's backend exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os
from jax._src.xla_bridge import backends_are_initialized
import guidedrl, guidedrl.experiments.runner, guidedrl.training.loop, guidedrl.cli
after_import = backends_are_initialized()
from guidedrl.training import threads
cores = sorted(os.sched_getaffinity(0))
done = {mode!r} == "one" and threads.one_worker_thread()
import jax, jax.numpy as jnp
jax.jit(lambda a: (a @ a).sum() + jnp.sin(a).sum())(jnp.ones((64, 64))).block_until_ready()
tids = os.listdir("/proc/self/task")
affinities = sorted({{tuple(sorted(os.sched_getaffinity(int(t)))) for t in tids}})
print(json.dumps(dict(after_import=after_import, done=done, again=threads.one_worker_thread(),
                      pool=threads.pool_threads(), cores=cores, affinities=affinities)))
"""

linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/task") or not hasattr(os, "sched_setaffinity"),
                                reason="thread affinity is read from Linux's /proc")


def probe(mode: str) -> dict:
    env = {**os.environ, "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(mode=mode)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@linux_only
def test_one_worker_thread_sizes_the_pool_and_gives_the_cores_back():
    one = probe("one")
    assert not one["after_import"], "importing guidedrl created JAX's backend"
    assert one["done"] and not one["again"]
    assert one["pool"] == 1
    assert one["affinities"] == [one["cores"]], "a thread kept the single core it was created on"


@linux_only
def test_the_default_pool_has_a_thread_per_core():
    default = probe("default")
    assert not default["done"] and not default["again"]  # the backend exists once jax has computed
    assert default["pool"] == len(default["cores"])
