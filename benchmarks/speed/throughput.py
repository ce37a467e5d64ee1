"""Training throughput of guidedrl's SAC against Stable-Baselines3's SAC and sbx's (its JAX port), alternated in one run.

Settings shared by both (docs/BENCHMARK.md, "Speed protocol"): Gymnasium Pendulum-v1, one
gradient step per environment step, batch 256, Adam 3e-4, learning starts at 1,000
steps, buffer 1M, automatic temperature; networks 64-64 and 256-256. Each measurement
times ``--measure`` steady-state training steps after a warm-up (learning start, JIT
compilation / first updates) of as many steps, without evaluation. Each measurement runs in a
fresh process of its own (its own JAX client and thread pools; torch for SB3 alone), and the
libraries alternate ``--repeats`` times per network size; the table reports medians and the
ratio of medians.

The same invocation measures the machine's float32 matmul throughput (a jitted 256×256 by
256×256 product, the shape of the 256-256 networks' layers at batch 256) and the share of it
that guidedrl's 256-256 update reaches (its FLOPs from XLA's cost analysis × updates/s).

Needs the bench extra: ``pip install torch==2.13.0 && pip install -e ".[bench]"`` (torch 2.13
CPU, stable-baselines3, sbx-rl).

    python -m benchmarks.speed.throughput                      # writes docs/PERFORMANCE.md section
    python -m benchmarks.speed.throughput --repeats 1 --measure 1000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from benchmarks.common import alternate, in_process, matmul_gflops, write_section

LEARNING_STARTS = 1_000


def guidedrl_steps_per_second(hidden: tuple, measure: int, seed: int, guidance: str = "none") -> float:
    """Steady-state steps/s of guidedrl.train, timed by the loop itself over the last interval.

    The loop logs steps/s per evaluation interval, excluding evaluation time. With
    eval_every = measure and 2 * measure steps, the first interval holds the warm-up,
    compilation and first updates, and the second exactly the ``measure`` timed steps.
    """
    import guidedrl

    hidden = tuple(hidden)  # a list when it came through in_process
    guide = guidedrl.names.resolve_guide("lqr", "Pendulum-v1") if guidance != "none" else None
    run = guidedrl.train(
        "Pendulum-v1", algo="sac", guidance=guidance, guide=guide, steps=2 * measure,
        seed=seed, hidden_sizes=hidden, batch_size=256, learning_starts=LEARNING_STARTS,
        updates_per_step=1, train_every=1, eval_every=measure, eval_episodes=1,
        checkpoint_every=10**9, progress=False,
    )
    last = run.history[-1]
    assert last["step"] - run.history[-2]["step"] == measure
    return float(last["steps_per_second"])


def sb3_steps_per_second(hidden: tuple, measure: int, seed: int) -> float:
    """Steady-state steps/s of Stable-Baselines3's SAC with the same settings."""
    import torch
    from stable_baselines3 import SAC

    torch.set_num_threads(os.cpu_count() or 1)
    model = SAC(
        "MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=list(hidden)), batch_size=256,
        learning_rate=3e-4, buffer_size=1_000_000, learning_starts=LEARNING_STARTS, train_freq=1,
        gradient_steps=1, ent_coef="auto", seed=seed, verbose=0, device="cpu",
    )
    model.learn(measure)  # warm-up, as for guidedrl
    started = time.perf_counter()
    model.learn(measure, reset_num_timesteps=False)
    return measure / (time.perf_counter() - started)


def sbx_steps_per_second(hidden: tuple, measure: int, seed: int) -> float:
    """Steady-state steps/s of sbx's SAC (Stable-Baselines Jax) with the same settings."""
    from sbx import SAC

    model = SAC(
        "MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=list(hidden)), batch_size=256,
        learning_rate=3e-4, buffer_size=1_000_000, learning_starts=LEARNING_STARTS, train_freq=1,
        gradient_steps=1, ent_coef="auto", seed=seed, verbose=0,
    )
    model.learn(measure)  # warm-up, as for guidedrl
    started = time.perf_counter()
    model.learn(measure, reset_num_timesteps=False)
    return measure / (time.perf_counter() - started)


def update_gflop(hidden: tuple) -> float:
    """FLOPs (in units of 1e9) of one guidedrl SAC update on Pendulum-v1 at batch 256, from XLA's
    cost analysis of the compiled gradient step."""
    import jax

    from guidedrl import agent
    from guidedrl.config import Config
    from guidedrl.replay import ReplayBuffer
    from guidedrl.training.jitted import PRNG_IMPL

    config = Config(env="Pendulum-v1", guidance="none", hidden_sizes=hidden, batch_size=256).agent
    key = jax.random.key(0, impl=PRNG_IMPL)
    state = jax.eval_shape(lambda: agent.init(config, key, 3, 1))
    batch = ReplayBuffer(1, 3, 1).batch_spec(1, 256)
    compiled = jax.jit(agent.update_many, static_argnums=0).lower(config, state, batch, key, 0).compile()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    return float(analysis["flops"]) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["64,64", "256,256"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", type=int, default=3_000,
                        help="timed steps per measurement (after as many warm-up steps; > 1000)")
    parser.add_argument("--strategies", nargs="*", default=["none", "rg", "sag", "pig", "pag", "residual"],
                        help="strategies whose cost relative to plain SAC is measured (empty: skip)")
    parser.add_argument("--strategy-size", default="256,256")
    parser.add_argument("--json", default="benchmarks/out/throughput.json")
    parser.add_argument("--markdown", default="docs/PERFORMANCE.md")
    args = parser.parse_args()

    results = {}
    for size in args.sizes:
        hidden = tuple(int(h) for h in size.split(","))
        ours, theirs, jax_peer = [], [], []
        for repeat in range(args.repeats):
            ours.append(in_process(__spec__.name, "guidedrl_steps_per_second", hidden, args.measure, repeat))
            theirs.append(in_process(__spec__.name, "sb3_steps_per_second", hidden, args.measure, repeat))
            jax_peer.append(in_process(__spec__.name, "sbx_steps_per_second", hidden, args.measure, repeat))
            print(f"{size} repeat {repeat}: guidedrl {ours[-1]:.0f} steps/s, SB3 {theirs[-1]:.0f} steps/s, "
                  f"sbx {jax_peer[-1]:.0f} steps/s", flush=True)
        results[size] = {
            "guidedrl": ours,
            "sb3": theirs,
            "sbx": jax_peer,
            "guidedrl_median": statistics.median(ours),
            "sb3_median": statistics.median(theirs),
            "sbx_median": statistics.median(jax_peer),
            "ratio": statistics.median(ours) / statistics.median(theirs),
            "ratio_sbx": statistics.median(ours) / statistics.median(jax_peer),
        }
    ceiling = matmul_gflops()
    results["matmul"] = {"gflops_256": ceiling}
    if "256,256" in results:
        flop = update_gflop((256, 256))
        achieved = flop * results["256,256"]["guidedrl_median"]
        results["matmul"].update({"update_gflop_256": flop, "update_gflops_256": achieved,
                                  "share_of_ceiling": achieved / ceiling})
    hidden = tuple(int(h) for h in args.strategy_size.split(","))
    strategy_rates = alternate(  # alternated within each repeat
        {name: lambda repeat, name=name: in_process(__spec__.name, "guidedrl_steps_per_second", hidden, args.measure,
                                                    repeat, name)
         for name in args.strategies}, args.repeats,
        lambda repeat, name, rate: print(f"{name} ({args.strategy_size}) repeat {repeat}: {rate:.0f} steps/s",
                                         flush=True))
    if strategy_rates:
        base = statistics.median(strategy_rates.get("none") or [float("nan")])
        results["strategies"] = {
            name: {"steps_per_second": rates, "median": statistics.median(rates),
                   "time_per_step_vs_sac": base / statistics.median(rates)}
            for name, rates in strategy_rates.items()
        }
    meta = {
        "command": f"python -m {__spec__.name} " + " ".join(
            f"--{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in
            {"sizes": args.sizes, "repeats": args.repeats, "measure": args.measure,
             "strategies": args.strategies, "strategy-size": args.strategy_size}.items()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))

    lines = [
        "| network | guidedrl SAC (steps/s) | sbx SAC (steps/s) | SB3 SAC (steps/s) | vs sbx | vs SB3 |",
        "|---|---|---|---|---|---|",
    ]
    for size, r in results.items():
        if size in ("strategies", "matmul"):
            continue
        lines.append(f"| {size.replace(',', '-')} | {r['guidedrl_median']:.0f} | {r['sbx_median']:.0f} | "
                     f"{r['sb3_median']:.0f} | {r['ratio_sbx']:.2f}x | {r['ratio']:.2f}x |")
    m = results["matmul"]
    lines += ["", f"The machine's float32 matmul throughput (256×256 by 256×256, jitted): {m['gflops_256']:.0f} GFLOP/s."]
    if "share_of_ceiling" in m:
        lines.append(f"guidedrl's 256-256 update ({m['update_gflop_256'] * 1e3:.1f} MFLOP, XLA's cost analysis) at "
                     f"its median rate: {m['update_gflops_256']:.1f} GFLOP/s, {m['share_of_ceiling']:.0%} of it.")
    if "strategies" in results:
        lines += ["", f"Strategies on the SAC backbone ({args.strategy_size.replace(',', '-')} networks, "
                  "Pendulum-v1 with the LQR guide), time per step relative to plain SAC:", "",
                  "| strategy | steps/s | time per step vs SAC |", "|---|---|---|"]
        for name, r in results["strategies"].items():
            lines.append(f"| {name} | {r['median']:.0f} | {r['time_per_step_vs_sac']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    write_section(Path(args.markdown), "throughput", table, meta)


if __name__ == "__main__":
    main()
