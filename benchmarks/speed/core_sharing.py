"""Do two runs at once each run at one run's speed? The suite's learning floor
(``benchmarks.speed.suite_floor``) divides its one-core time by the cores, which assumes so.

Times the bare update of one paper-suite configuration (``update_many`` over 1,000 minibatches in
one ``lax.scan``, one XLA thread, as ``benchmarks.speed.suite_floor`` does) in one process alone, then in
``--cores`` processes started together, alternated ``--rounds`` times; reports the medians and
the slowdown of a process when it shares the machine.

    python -m benchmarks.speed.core_sharing --task SafeCartpole-v0 --strategy none
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from benchmarks.common import ROOT, add_pool_option, bare_update_seconds, one_xla_thread, set_pool, task_dims


def child(task: str, strategy: str, backbone: str, default_pool: bool) -> None:
    one_xla_thread()  # before jax is imported
    from guidedrl.experiments.suites import build_suite

    set_pool(default_pool)

    trial = next(t for t in build_suite("paper")
                 if (t.task, t.strategy, t.backbone) == (task, strategy, backbone))
    print(json.dumps({"update_seconds": bare_update_seconds(trial.config(), *task_dims(task), repeats=3)}))


def measure(processes: int, args) -> list:
    command = [sys.executable, "-m", __spec__.name, "--child", "--task", args.task, "--strategy", args.strategy,
               "--backbone", args.backbone] + (["--default-pool"] if args.default_pool else [])
    started = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(processes)]
    out = []
    for process in started:
        stdout, _ = process.communicate()
        if process.returncode:
            sys.exit(f"a measuring process failed ({process.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1])["update_seconds"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="SafeCartpole-v0")
    parser.add_argument("--strategy", default="none")
    parser.add_argument("--backbone", default="sac")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    add_pool_option(parser)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.task, args.strategy, args.backbone, args.default_pool)
        return
    alone, shared = [], []
    for round_ in range(args.rounds):
        alone += measure(1, args)
        shared += measure(args.cores, args)
        print(f"round {round_ + 1}: alone {alone[-1] * 1e3:.3f} ms, "
              f"{args.cores} at once {', '.join(f'{s * 1e3:.3f}' for s in shared[-args.cores:])} ms", flush=True)
    a, s = statistics.median(alone), statistics.median(shared)
    print(f"{args.task} {args.backbone} {args.strategy}: bare update {a * 1e3:.3f} ms alone, {s * 1e3:.3f} ms with "
          f"{args.cores} processes at once (medians): {s / a:.2f}x per process")


if __name__ == "__main__":
    main()
