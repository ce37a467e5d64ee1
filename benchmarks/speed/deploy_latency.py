"""Microseconds per action at batch 1 (what a control loop calls): ``run.act`` against the exported
policy in ``guidedrl.deploy`` (NumPy) and in onnxruntime, at 64-64 and 256-256, on one core.

For each network size a SAC/PAG agent on SafeCartpole-v0 (5 observations, 1 action; a fresh
agent: the time does not depend on the weights) is exported to both formats; the deployed policy
(the guide acting where λ >= 0.5, PAG's perturbation network beside the actor) and the actor
alone are timed. The process is pinned to one core and XLA, NumPy's BLAS and onnxruntime to one
thread; the three runtimes are alternated ``--repeats`` times over ``--calls`` calls each, medians.
Target (docs/DEPLOY.md): the exported policy within 50 µs at 256-256 and at least 5x faster than
``run.act``.

    python -m benchmarks.speed.deploy_latency
    python -m benchmarks.speed.deploy_latency --json docs/results/deploy_latency.json
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

from benchmarks.common import alternate, medians, one_xla_thread, write_json

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
one_xla_thread()

import numpy as np  # noqa: E402


def build(hidden):
    """(run, exported npz policy, onnx session, guide) for a fresh SAC/PAG agent of ``hidden``."""
    import jax
    import onnxruntime as ort

    from guidedrl import agent, deploy
    from guidedrl.config import Config
    from guidedrl.training.run import Run

    config = Config(env="SafeCartpole-v0", algo="sac", guidance="pag", hidden_sizes=hidden, guide=None)
    state = agent.init(config, jax.random.PRNGKey(0), 5, 1)

    def guide(obs):  # a cheap stand-in for the user's guide: trusted on half the track
        return np.array([-0.5], np.float32), float(obs[0] > 0.0)

    run = Run(config, state, 5, [-1.0], [1.0], guide=guide)
    folder = tempfile.mkdtemp()
    npz = run.export(os.path.join(folder, "p.npz"), "numpy")
    onnx_path = run.export(os.path.join(folder, "p.onnx"), "onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    return run, deploy.GuidedPolicy(deploy.load(str(npz)), guide), session, guide


def time_calls(call, calls: int) -> float:
    """Median µs per call over ``calls`` calls (after 200 of warm-up)."""
    for _ in range(200):
        call()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    obs = np.array([0.3, 0.9, 0.1, -0.4, 0.2], np.float32)
    rows = []
    for hidden in ((64, 64), (256, 256)):
        run, guided, session, guide = build(hidden)
        guide_action, confidence = guide(obs)
        feed = {"obs": obs[None], "guide_action": guide_action[None], "confidence": np.array([confidence], np.float32)}
        callers = {
            "run.act": lambda: run.act(obs),
            "deploy (numpy)": lambda: guided.act(obs),
            "onnxruntime": lambda: session.run(None, feed),
            "run.act, actor alone": lambda: run.act(obs, guide_free=True),
            "deploy (numpy), actor alone": lambda: guided.exported.act(obs),
        }
        times = alternate({name: lambda _, call=call: time_calls(call, args.calls) for name, call in callers.items()},
                          args.repeats)
        rows.append({"hidden": list(hidden), "us": medians(times), "all": times})
    print(f"\nMeasured {time.strftime('%Y-%m-%d')} on one core of a {os.cpu_count()}-core machine with "
          f"`python -m {__spec__.name} --repeats {args.repeats} --calls {args.calls}` "
          "(SAC/PAG, 5 observations, 1 action, batch 1; medians of alternated runs; the guide's own time included "
          "in run.act and deploy, not in onnxruntime).\n")
    print("| network | run.act (µs) | deploy, numpy (µs) | onnxruntime (µs) | run.act / numpy | run.act / onnxruntime |")
    print("|---|--:|--:|--:|--:|--:|")
    for row in rows:
        us = row["us"]
        print(f"| {row['hidden'][0]}-{row['hidden'][1]} | {us['run.act']:.1f} | {us['deploy (numpy)']:.1f} | "
              f"{us['onnxruntime']:.1f} | {us['run.act'] / us['deploy (numpy)']:.1f}x | "
              f"{us['run.act'] / us['onnxruntime']:.1f}x |")
    print("\nactor alone:", ", ".join(f"{row['hidden'][0]}-{row['hidden'][1]}: run.act {row['us']['run.act, actor alone']:.1f} µs, "
                                      f"numpy {row['us']['deploy (numpy), actor alone']:.1f} µs" for row in rows))
    if args.json:
        write_json(args.json, {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
                               "cores": os.cpu_count(), "repeats": args.repeats, "calls": args.calls, "rows": rows})


if __name__ == "__main__":
    main()
