"""A suite's learning floor on this machine: its gradient steps × the bare update time of each
configuration, one XLA thread, over the cores.

The floor is what the suite would cost if a training step cost nothing but its update (no env,
no guide, no evaluation, no host work): each configuration's ``update_many`` over 1,000 minibatches
in one ``lax.scan`` is timed once (the best of ``--repeats``), and multiplied by the gradient
steps its runs take. The suite's wall time from its own records (``benchmarks/suite_time.py``),
measured on the same machine, over this floor is the suite's overhead ratio (docs/BENCHMARK.md's
target: at most 2x). Machines differ by up to 3x, so the matmul throughput is printed beside it.

The process measures as the suite's trials run: one XLA thread (``--xla_cpu_multi_thread_eigen=false``)
and a one-thread XLA pool (``guidedrl.training.threads.one_worker_thread``, as ``runner.train_trial``
does); ``--default-pool`` keeps XLA's default pool (one thread per core), as trials ran before.

    python benchmarks/suite_floor.py --suite paper --cores 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("MUJOCO_GL", "disable")


def add_pool_option(parser) -> None:
    """``--default-pool``: keep XLA's default thread pool instead of the trials' one thread."""
    parser.add_argument("--default-pool", action="store_true",
                        help="keep XLA's default thread pool (one thread per core) instead of one thread")


def set_pool(default_pool: bool) -> bool:
    """Give XLA's pool one thread as the suite's trials do (``runner.train_trial``), unless
    ``default_pool``; False when the pool stays the default (also for a build without it)."""
    if default_pool:
        return False
    try:
        from guidedrl.training.threads import one_worker_thread
    except ImportError:  # an older build (PYTHONPATH=<checkout>/src): its default pool
        return False
    return one_worker_thread()


def gradient_steps(config) -> int:
    """Gradient steps of a run: K = train_every × updates_per_step at every train_every-th env
    step from learning_starts on."""
    due = [t for t in range(max(config.warmup_steps, 1), config.steps + 1) if t % config.train_every == 0]
    return len(due) * config.gradient_steps_per_call


def task_dims(task: str) -> tuple:
    """(observation size, action size) of a task's env."""
    import numpy as np

    from guidedrl.envs import make_env

    env = make_env(task)
    return int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape))


def bare_update_seconds(config, obs_dim: int, action_dim: int, repeats: int = 3, batches: int = 1000) -> float:
    """Seconds per gradient step of ``update_many`` for ``config`` (best of ``repeats``)."""
    import time

    import jax
    import numpy as np

    from guidedrl import agent
    from guidedrl.replay import ReplayBuffer
    from guidedrl.training.jitted import PRNG_IMPL, init_agent

    agent_config = config.agent
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(5000, obs_dim, action_dim)
    for _ in range(5000):
        buffer.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, action_dim), rng.normal(), rng.normal(size=obs_dim),
                   False, False, rng.uniform(-1, 1, action_dim), float(rng.uniform() < 0.2),
                   rng.uniform(-1, 1, action_dim), float(rng.uniform() < 0.2))
    key = jax.random.key(0, impl=PRNG_IMPL)
    state = init_agent(agent_config, key, obs_dim, action_dim)
    update = jax.jit(agent.update_many, static_argnums=0, donate_argnums=1)
    best = float("inf")
    for repeat in range(repeats + 1):  # the first compiles
        batch = jax.device_put(buffer.sample(rng, batches, config.minibatch_size))
        jax.block_until_ready(batch)
        started = time.perf_counter()
        state, metrics = update(agent_config, state, batch, key, 10**6)
        jax.block_until_ready(metrics)
        if repeat:
            best = min(best, (time.perf_counter() - started) / batches)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="paper")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    add_pool_option(parser)
    args = parser.parse_args()
    set_pool(args.default_pool)
    from guidedrl.training.threads import pool_threads

    from guidedrl.experiments.suites import build_suite

    from throughput import matmul_gflops  # benchmarks/ is on the path of a script run from it

    trials = build_suite(args.suite)
    dims, per_config = {}, {}
    for trial in trials:
        config = trial.config()
        key = (trial.task, trial.backbone, trial.strategy)
        if trial.task not in dims:
            dims[trial.task] = task_dims(trial.task)
        entry = per_config.setdefault(key, {"runs": 0, "gradient_steps": 0, "config": config})
        entry["runs"] += 1
        entry["gradient_steps"] += gradient_steps(config)
    total = 0.0
    print(f"{'task':16} {'backbone':4} {'strategy':24} {'runs':>4} {'grad steps':>11} {'update ms':>9} {'seconds':>8}")
    for (task, backbone, strategy), entry in per_config.items():
        entry["update_seconds"] = bare_update_seconds(entry["config"], *dims[task], repeats=args.repeats)
        entry["seconds"] = entry["gradient_steps"] * entry["update_seconds"]
        total += entry["seconds"]
        print(f"{task:16} {backbone:4} {strategy:24} {entry['runs']:4d} {entry['gradient_steps']:11,d} "
              f"{entry['update_seconds'] * 1e3:9.3f} {entry['seconds']:8.0f}", flush=True)
    gflops = matmul_gflops()
    floor = total / args.cores
    steps = sum(e["gradient_steps"] for e in per_config.values())
    print(f"\n{len(trials)} runs, {steps:,d} gradient steps: {total / 3600:.2f} h of one core, "
          f"floor {floor / 3600:.2f} h on {args.cores} cores; matmul 256x256: {gflops:.0f} GFLOP/s; "
          f"XLA pool threads: {pool_threads()}")
    if args.json:
        record = {"command": "python benchmarks/suite_floor.py " + " ".join(sys.argv[1:]),
                  "runs": len(trials), "gradient_steps": steps, "one_core_seconds": total,
                  "floor_seconds": floor, "cores": args.cores, "matmul_gflops_256": gflops,
                  "xla_pool_threads": pool_threads(),
                  "configs": [{"task": t, "backbone": b, "strategy": s, "runs": e["runs"],
                               "gradient_steps": e["gradient_steps"], "update_seconds": e["update_seconds"]}
                              for (t, b, s), e in per_config.items()]}
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
