"""Time per training step of a learned confidence (q-gap, risk) against the given λ, in one invocation.

For SAG and PAG on SafeCartpole-v0 with the paper suite's settings (64-64, batch 128, one
gradient step per environment step, one XLA thread), each configuration's steady-state time per
step from the loop's own steps/s (benchmarks/step_cost.py's ``loop_step_ms``), the four runs
alternated ``--repeats`` times; medians, and q-gap / given (target: at most 1.15x) and risk / given
(target: at most 1.3x) per strategy.

    python benchmarks/confidence_cost.py
    python benchmarks/confidence_cost.py --json docs/results/confidence_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("MUJOCO_GL", "disable")

from step_cost import SETTINGS, loop_step_ms  # noqa: E402  (benchmarks/ is on the path of a script run from it)

CONFIGS = {
    (strategy, confidence): dict(guidance=strategy, guide="default", confidence=confidence)
    for strategy in ("sag", "pag") for confidence in ("given", "q-gap", "risk")
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", type=int, default=4000, help="steps in the timed interval (after as many of warm-up)")
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args()
    times = {key: [] for key in CONFIGS}
    for repeat in range(args.repeats):
        for key, overrides in CONFIGS.items():
            times[key].append(loop_step_ms({**SETTINGS, **overrides}, args.measure))
            print(f"repeat {repeat + 1}: {key[0]} {key[1]}: {times[key][-1]:.3f} ms/step", flush=True)
    medians = {key: statistics.median(values) for key, values in times.items()}
    print(f"\nMeasured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores with "
          f"`python benchmarks/confidence_cost.py --repeats {args.repeats} --measure {args.measure}` "
          "(SafeCartpole-v0, 64-64, batch 128, one XLA thread; medians of alternated runs).\n")
    print("| strategy | given (ms/step) | q-gap (ms/step) | risk (ms/step) | q-gap / given | risk / given |")
    print("|---|--:|--:|--:|--:|--:|")
    rows = []
    for strategy in ("sag", "pag"):
        given, learned, risky = (medians[(strategy, rule)] for rule in ("given", "q-gap", "risk"))
        rows.append({"strategy": strategy, "given_ms": given, "q_gap_ms": learned, "risk_ms": risky,
                     "ratio": learned / given, "risk_ratio": risky / given,
                     "given_all": times[(strategy, "given")], "q_gap_all": times[(strategy, "q-gap")],
                     "risk_all": times[(strategy, "risk")]})
        print(f"| {strategy} | {given:.3f} | {learned:.3f} | {risky:.3f} | {learned / given:.2f}x | {risky / given:.2f}x |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
                       "cores": os.cpu_count(), "repeats": args.repeats, "measure": args.measure, "rows": rows},
                      handle, indent=1)


if __name__ == "__main__":
    main()
