"""Peak resident memory of a guidedrl training run with a 1M-transition replay buffer.

Each run is a fresh Python process (``guidedrl train`` through the library) whose own
peak RSS (``getrusage``) is reported: the 100k-step run, and as the baseline in the
same invocation a 2k-step run of the same configuration (JAX runtime, compiled
programs, the buffer allocated but barely touched). The buffer is allocated once and
its pages are touched only as it fills, so the difference is mostly the stored
transitions plus the checkpoint's copy of them.

    python -m benchmarks.speed.memory                 # 100k steps, 64-64 networks
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_section

CHILD = """
import json, resource, sys, time
import guidedrl
steps, hidden, out = int(sys.argv[1]), tuple(int(h) for h in sys.argv[2].split(",")), sys.argv[3]
started = time.perf_counter()
guidedrl.train("Pendulum-v1", steps=steps, seed=0, hidden_sizes=hidden, buffer_size=1_000_000,
               checkpoint_every=10_000, out=out, progress=False)
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - started}))
"""


def measure(steps: int, hidden: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([sys.executable, "-c", CHILD, str(steps), hidden, str(Path(tmp) / "run")],
                                capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--baseline-steps", type=int, default=2_000)
    parser.add_argument("--hidden", default="64,64")
    parser.add_argument("--json", default="benchmarks/out/memory.json")
    parser.add_argument("--markdown", default="docs/PERFORMANCE.md")
    args = parser.parse_args()
    baseline = measure(args.baseline_steps, args.hidden)
    full = measure(args.steps, args.hidden)
    # obs 3, action 1 on Pendulum: 2*3 + 3*1 + 5 scalars = 14 float32 per transition
    stored_mib = min(args.steps, 1_000_000) * 14 * 4 / 2**20
    results = {"baseline": baseline, "full": full, "stored_transitions_mib": stored_mib,
               "ratio": full["peak_rss_mib"] / baseline["peak_rss_mib"]}
    meta = {"command": f"python -m {__spec__.name} --steps {args.steps} --hidden {args.hidden}",
            "cpus": __import__("os").cpu_count(), "date": time.strftime("%Y-%m-%d")}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    table = "\n".join([
        "| run (Pendulum-v1, SAC, buffer 1M, " + args.hidden.replace(",", "-") + ") | peak RSS (MiB) | wall time (s) |",
        "|---|---|---|",
        f"| {args.baseline_steps:,} steps (baseline) | {baseline['peak_rss_mib']:.0f} | {baseline['seconds']:.0f} |",
        f"| {args.steps:,} steps | {full['peak_rss_mib']:.0f} | {full['seconds']:.0f} |",
        "",
        f"Ratio {results['ratio']:.2f}x; the stored transitions themselves take {stored_mib:.1f} MiB.",
    ])
    print(table)
    write_section(Path(args.markdown), "memory", table, meta)


if __name__ == "__main__":
    main()
