"""What a training step costs against the update it exists for, and where the rest goes.

For each configuration (the paper suite's settings: SafeCartpole-v0, 64-64, batch 128, one
gradient step per env step, one XLA thread), in one invocation:

* **bare update**: ``agent.update_many`` over K = 1000 minibatches in one jitted ``lax.scan``,
  per gradient step (the floor a training step cannot go below);
* **training step**: the loop's own steady-state steps/s (``guidedrl.train``, the interval after
  warm-up and compilation, evaluation excluded), per step;
* **split**: the same steps taken phase by phase through the loop's functions with a timer
  around each (``behaviour`` holds the wait for the action the previous call computed).

    python benchmarks/step_cost.py                 # SAC, SAG and PAG, 3 repeats
    python benchmarks/step_cost.py --configs sac sag --hidden 256,256 --no-split
    python benchmarks/step_cost.py --json docs/results/step_cost.json
    PYTHONPATH=<old checkout>/src python benchmarks/step_cost.py --no-split   # an older build

Like the suite's trials (``runner.train_trial``), the process gives XLA's pool one thread
(``guidedrl.training.threads.one_worker_thread``); ``--default-pool`` keeps one per core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("MUJOCO_GL", "disable")

import jax  # noqa: E402

SETTINGS = dict(env="SafeCartpole-v0", algo="sac", hidden_sizes=(64, 64), batch_size=128,
                learning_starts=1000, updates_per_step=1, train_every=1, eval_episodes=1,
                checkpoint_every=10**9, progress=False)
CONFIGS = {"sac": dict(guidance="none"), "sag": dict(guidance="sag", guide="default"),
           "pag": dict(guidance="pag", guide="default")}


def bare_update_ms(settings: dict, repeats: int = 3) -> float:
    """Milliseconds per gradient step of ``update_many`` over 1,000 minibatches."""
    from guidedrl.config import Config
    from suite_floor import bare_update_seconds  # benchmarks/ is on the path of a script run from it

    return bare_update_seconds(Config(**settings), obs_dim=5, action_dim=1, repeats=repeats) * 1e3


def loop_step_ms(settings: dict, measure: int = 4000) -> float:
    """Milliseconds per training step, from the loop's own steps/s after warm-up."""
    from guidedrl.config import Config
    from guidedrl.training.loop import train

    run = train(Config(**settings, steps=2 * measure, eval_every=measure))
    return 1e3 / float(run.history[-1]["steps_per_second"])


def split_ms(settings: dict, measure: int = 3000) -> dict:
    """Milliseconds per step in each phase of the training step, through the loop's functions."""
    from guidedrl.config import Config
    from guidedrl.training import loop as training

    config = Config(**settings, steps=10**9, eval_every=10**9)
    state = training.setup(config, None, None, None)
    parts = {"behaviour (incl. wait for the action)": 0.0, "env step + guide": 0.0, "buffer add": 0.0,
             "learn (sample, call, finite check)": 0.0, "record": 0.0}
    names = list(parts)

    def one_step(timed: bool) -> None:
        step = state.progress.step
        t0 = time.perf_counter()
        action, from_guide = training.behaviour(state, step)
        t1 = time.perf_counter()
        outcome = training.step_env(state, action)
        t2 = time.perf_counter()
        state.buffer.add(state.obs, action, outcome.reward, outcome.next_obs, outcome.terminated,
                         outcome.truncated, state.guide_action, state.confidence,
                         outcome.next_guide_action, outcome.next_confidence)
        t3 = time.perf_counter()
        learned = training.learn(state, step + 1, outcome)
        t4 = time.perf_counter()
        training.record(state, outcome, from_guide, learned)
        t5 = time.perf_counter()
        if timed:
            for name, dt in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                parts[name] += dt

    for _ in range(config.warmup_steps + 1000):
        one_step(False)
        if len(state.pending_metrics) > 100:
            training._flush_pending(state)
    for _ in range(measure):
        one_step(True)
        if len(state.pending_metrics) > 100:
            training._flush_pending(state)
    state.lock and state.lock.release()
    return {name: total / measure * 1e3 for name, total in parts.items()}


def main() -> int:
    from suite_floor import add_pool_option, set_pool

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        help="which configurations (default: all)")
    parser.add_argument("--hidden", default=None,
                        help="hidden sizes, e.g. 256,256 (default: the suite's 64,64)")
    parser.add_argument("--no-split", action="store_true",
                        help="skip the split (for a build of guidedrl older than the loop in phases)")
    add_pool_option(parser)
    args = parser.parse_args()
    one_thread = set_pool(args.default_pool)
    results = {}
    for name in args.configs:
        settings = {**SETTINGS, **CONFIGS[name]}
        if args.hidden:
            settings["hidden_sizes"] = tuple(int(h) for h in args.hidden.split(","))
        bare, step = [], []
        for _ in range(args.repeats):  # alternated, so a noisy neighbour hits both
            bare.append(bare_update_ms(settings))
            step.append(loop_step_ms(settings))
        split = {} if args.no_split else split_ms(settings)
        results[name] = {"bare_update_ms": statistics.median(bare), "step_ms": statistics.median(step),
                         "ratio": statistics.median(step) / statistics.median(bare), "split_ms": split,
                         "bare_runs": bare, "step_runs": step}
    print(f"{'config':6} {'bare update':>12} {'training step':>14} {'ratio':>6}")
    for name, r in results.items():
        print(f"{name:6} {r['bare_update_ms']:10.3f}ms {r['step_ms']:12.3f}ms {r['ratio']:6.2f}")
    for name, r in results.items():
        print(f"\n{name}: split of a step (ms), sum {sum(r['split_ms'].values()):.3f}")
        for part, ms in r["split_ms"].items():
            print(f"  {part:40} {ms:.3f}")
    if args.json:
        record = {"command": "python benchmarks/step_cost.py " + " ".join(sys.argv[1:]),
                  "machine": platform.machine(), "cpus": os.cpu_count(), "jax": jax.__version__,
                  "xla_pool": "one thread" if one_thread else "default",
                  "results": results}
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
