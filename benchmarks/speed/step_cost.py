"""What a training step costs against the update it exists for, and where the rest goes.

For each configuration (the paper suite's settings: SafeCartpole-v0, 64-64, batch 128, one
gradient step per env step, one XLA thread), in one invocation:

* **bare update**: ``agent.update_many`` over K = 1000 minibatches in one jitted ``lax.scan``,
  per gradient step (the floor a training step cannot go below);
* **training step**: the loop's own steady-state steps/s (``guidedrl.train``, the interval after
  warm-up and compilation, evaluation excluded), per step;
* **split**: the same steps taken phase by phase through the loop's functions with a timer
  around each (``behaviour`` holds the wait for the action the previous call computed).

    python -m benchmarks.speed.step_cost                 # SAC, SAG and PAG, 3 repeats
    python -m benchmarks.speed.step_cost --configs sac sag --hidden 256,256 --no-split
    python -m benchmarks.speed.step_cost --json docs/results/step_cost.json
    PYTHONPATH=<old checkout>/src python -m benchmarks.speed.step_cost --no-split   # an older build

Like the suite's trials (``runner.train_trial``), the process gives XLA's pool one thread
(``guidedrl.training.threads.one_worker_thread``); ``--default-pool`` keeps one per core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

from benchmarks.common import PAPER_STEP, add_pool_option, alternate, bare_update_seconds, command, loop_step_ms, \
    one_xla_thread, set_pool

one_xla_thread()

import jax  # noqa: E402

CONFIGS = {"sac": dict(guidance="none"), "sag": dict(guidance="sag", guide="default"),
           "pag": dict(guidance="pag", guide="default")}


def bare_update_ms(settings: dict, repeats: int = 3) -> float:
    """Milliseconds per gradient step of ``update_many`` over 1,000 minibatches."""
    from guidedrl.config import Config

    return bare_update_seconds(Config(**settings), obs_dim=5, action_dim=1, repeats=repeats) * 1e3


def split_ms(settings: dict, measure: int = 3000) -> dict:
    """Milliseconds per step in each phase of the training step, through the loop's phase functions
    (``guidedrl.training.step``), in ``training_step``'s order."""
    from guidedrl.config import Config
    from guidedrl.training.setup import setup
    from guidedrl.training.state import flush_pending
    from guidedrl.training.step import behaviour, learn, record, step_env

    config = Config(**settings, steps=10**9, eval_every=10**9)
    state = setup(config, None, None, None)
    parts = {"behaviour (incl. wait for the action)": 0.0, "env step + guide": 0.0, "buffer add": 0.0,
             "learn (sample, call, finite check)": 0.0, "record": 0.0}
    names = list(parts)

    def one_step(timed: bool) -> None:
        step = state.progress.step
        t0 = time.perf_counter()
        action, from_guide = behaviour(state, step)
        t1 = time.perf_counter()
        outcome = step_env(state, action)
        t2 = time.perf_counter()
        state.buffer.add(state.obs, action, outcome.reward, outcome.next_obs, outcome.terminated,
                         outcome.truncated, state.guide_action, state.confidence,
                         outcome.next_guide_action, outcome.next_confidence, outcome.cost)
        t3 = time.perf_counter()
        learned = learn(state, step + 1, outcome)
        t4 = time.perf_counter()
        record(state, outcome, from_guide, learned)
        t5 = time.perf_counter()
        if timed:
            for name, dt in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                parts[name] += dt

    for _ in range(config.warmup_steps + 1000):
        one_step(False)
        if len(state.pending_metrics) > 100:
            flush_pending(state)
    for _ in range(measure):
        one_step(True)
        if len(state.pending_metrics) > 100:
            flush_pending(state)
    state.lock and state.lock.release()
    return {name: total / measure * 1e3 for name, total in parts.items()}


def main() -> int:
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
        settings = {**PAPER_STEP, **CONFIGS[name]}
        if args.hidden:
            settings["hidden_sizes"] = tuple(int(h) for h in args.hidden.split(","))
        times = alternate({"bare": lambda _: bare_update_ms(settings), "step": lambda _: loop_step_ms(settings)},
                          args.repeats)
        bare, step = times["bare"], times["step"]
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
        record = {"command": command(__spec__.name),
                  "machine": platform.machine(), "cpus": os.cpu_count(), "jax": jax.__version__,
                  "xla_pool": "one thread" if one_thread else "default",
                  "results": results}
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
