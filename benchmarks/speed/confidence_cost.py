"""Time per training step of a learned confidence (q-gap, risk) against the given λ, in one invocation.

For SAG and PAG on SafeCartpole-v0 with the paper suite's settings (64-64, batch 128, one
gradient step per environment step, one XLA thread), each configuration's steady-state time per
step from the loop's own steps/s (``benchmarks.common.loop_step_ms``), the six runs
alternated ``--repeats`` times; medians, and q-gap / given (target: at most 1.15x) and risk / given
(target: at most 1.3x) per strategy.

    python -m benchmarks.speed.confidence_cost
    python -m benchmarks.speed.confidence_cost --json docs/results/confidence_cost.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from benchmarks.common import PAPER_STEP, alternate, loop_step_ms, medians, one_xla_thread, write_json

one_xla_thread()

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
    times = alternate({key: lambda _, overrides=overrides: loop_step_ms({**PAPER_STEP, **overrides}, args.measure)
                       for key, overrides in CONFIGS.items()}, args.repeats,
                      lambda repeat, key, ms: print(f"repeat {repeat + 1}: {key[0]} {key[1]}: {ms:.3f} ms/step",
                                                    flush=True))
    median = medians(times)
    print(f"\nMeasured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores with "
          f"`python -m {__spec__.name} --repeats {args.repeats} --measure {args.measure}` "
          "(SafeCartpole-v0, 64-64, batch 128, one XLA thread; medians of alternated runs).\n")
    print("| strategy | given (ms/step) | q-gap (ms/step) | risk (ms/step) | q-gap / given | risk / given |")
    print("|---|--:|--:|--:|--:|--:|")
    rows = []
    for strategy in ("sag", "pag"):
        given, learned, risky = (median[(strategy, rule)] for rule in ("given", "q-gap", "risk"))
        rows.append({"strategy": strategy, "given_ms": given, "q_gap_ms": learned, "risk_ms": risky,
                     "ratio": learned / given, "risk_ratio": risky / given,
                     "given_all": times[(strategy, "given")], "q_gap_all": times[(strategy, "q-gap")],
                     "risk_all": times[(strategy, "risk")]})
        print(f"| {strategy} | {given:.3f} | {learned:.3f} | {risky:.3f} | {learned / given:.2f}x | {risky / given:.2f}x |")
    if args.json:
        write_json(args.json, {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
                               "cores": os.cpu_count(), "repeats": args.repeats, "measure": args.measure, "rows": rows})


if __name__ == "__main__":
    main()
