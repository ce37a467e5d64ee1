"""The share of a run's wall time that evaluation takes, at the paper suite's protocol.

One run per strategy on SafeCartpole-v0 with the suite's settings (64-64, batch 128, evaluations
every 2,000 steps of 5 episodes for the deployed policy and for the actor alone, one XLA
thread), ``--steps`` long. The training part is each evaluation interval's steps over the
steps/s the loop logs for it (timed without the evaluation); the rest of the run's wall time
is evaluation (and checkpoints).

    python -m benchmarks.speed.eval_share                       # this build
    PYTHONPATH=<old checkout>/src python -m benchmarks.speed.eval_share   # an older build
"""

from __future__ import annotations

import argparse

from benchmarks.common import one_xla_thread

one_xla_thread()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--strategies", nargs="+", default=["none", "pag"])
    args = parser.parse_args()
    import guidedrl

    print(f"{'strategy':8} {'wall s':>7} {'training s':>10} {'evaluation share':>17}")
    for guidance in args.strategies:
        run = guidedrl.train("SafeCartpole-v0", algo="sac", guidance=guidance,
                             guide="default" if guidance != "none" else None, steps=args.steps, seed=0,
                             hidden_sizes=(64, 64), batch_size=128, eval_every=2_000, eval_episodes=5,
                             checkpoint_every=10**9, progress=False)
        rows = run.history
        training = sum((b["step"] - a["step"]) / b["steps_per_second"] for a, b in zip(rows, rows[1:]))
        wall = rows[-1]["wall_time"]
        print(f"{guidance:8} {wall:7.1f} {training:10.1f} {1 - training / wall:16.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
