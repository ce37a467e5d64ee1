"""A suite's learning floor on this machine: its gradient steps × the bare update time of each
configuration, one XLA thread, over the cores.

The floor is what the suite would cost if a training step cost nothing but its update (no env,
no guide, no evaluation, no host work): each configuration's ``update_many`` over 1,000 minibatches
in one ``lax.scan`` is timed once (the best of ``--repeats``), and multiplied by the gradient
steps its runs take. The suite's wall time from its own records (``benchmarks.speed.suite_time``),
measured on the same machine, over this floor is the suite's overhead ratio (docs/BENCHMARK.md's
target: at most 2x). Machines differ by up to 3x, so the matmul throughput is printed beside it.

The process measures as the suite's trials run: one XLA thread (``--xla_cpu_multi_thread_eigen=false``)
and a one-thread XLA pool (``guidedrl.training.threads.one_worker_thread``, as ``runner.train_trial``
does); ``--default-pool`` keeps XLA's default pool (one thread per core), as trials ran before.

    python -m benchmarks.speed.suite_floor --suite paper --cores 2
"""

from __future__ import annotations

import argparse
import json

from benchmarks.common import add_pool_option, bare_update_seconds, command, matmul_gflops, one_xla_thread, set_pool, \
    task_dims

one_xla_thread()


def gradient_steps(config) -> int:
    """Gradient steps of a run: K = train_every × updates_per_step at every train_every-th env
    step from learning_starts on."""
    due = [t for t in range(max(config.warmup_steps, 1), config.steps + 1) if t % config.train_every == 0]
    return len(due) * config.gradient_steps_per_call


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
        record = {"command": command(__spec__.name),
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
