"""What one gradient step costs when K seeds are updated together (``jax.vmap`` over agents).

The benchmark grid is many short runs of small networks, where a jitted update on the CPU is
bound by launching XLA's kernels rather than by arithmetic. Updating K independent agents
in one vmapped call would then cost far less than K calls. This script measures it: for each
network size, batch size and strategy it times ``agent.update_many`` (one gradient step, a
Pendulum-sized problem: 3 observations, 1 action) on one agent and vmapped over K agents,
alternating the sizes in one invocation, and reports time per step and per agent-step
relative to K = 1.

    python -m benchmarks.speed.seed_batching                  # writes a docs/PERFORMANCE.md section
    python -m benchmarks.speed.seed_batching --seeds 1 --batch 64 128 256 --section update-cost
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time

import jax
import jax.numpy as jnp

from guidedrl import agent
from guidedrl.config import Config
from guidedrl.replay import ReplayBuffer
from guidedrl.types import BATCH_FIELDS, Batch

from benchmarks.common import ROOT, alternate, command, meta, write_section

OBS_DIM, ACTION_DIM = 3, 1


def _batch(key, seeds: int, batch_size: int) -> Batch:
    """Random minibatches of the replay buffer's shapes, one per seed: (seeds, 1, batch_size, ...)."""
    spec = ReplayBuffer(batch_size, OBS_DIM, ACTION_DIM).batch_spec(1, batch_size)
    fields = {}
    for index, name in enumerate(BATCH_FIELDS):
        shape = (seeds,) + getattr(spec, name).shape
        fields[name] = jax.random.uniform(jax.random.fold_in(key, index), shape, minval=-1.0, maxval=1.0)
    for name in ("confidence", "next_confidence"):
        fields[name] = (fields[name] > 0).astype(jnp.float32)
    fields["terminated"] = jnp.zeros_like(fields["terminated"])
    return Batch(**fields)


def time_per_step(config: Config, seeds: int, repeats: int) -> float:
    """Seconds per vmapped gradient step of ``seeds`` agents (median over ``repeats`` timings)."""
    keys = jax.random.split(jax.random.key(0), seeds)
    states = jax.vmap(lambda k: agent.init(config, k, OBS_DIM, ACTION_DIM))(keys)
    batches = _batch(jax.random.key(1), seeds, config.minibatch_size)
    step = jax.jit(jax.vmap(lambda s, b, k: agent.update_many(config, s, b, k, 0)), donate_argnums=0)
    states, _ = step(states, batches, keys)  # compile
    jax.block_until_ready(states)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(50):
            states, metrics = step(states, batches, keys)
        jax.block_until_ready(states)
        samples.append((time.perf_counter() - started) / 50)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--hidden", nargs="+", default=["64,64", "256,256"])
    parser.add_argument("--guidance", nargs="+", default=["none", "pag"])
    parser.add_argument("--batch", type=int, nargs="+", default=[256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--section", default="seed-batching",
                        help="name of the docs/PERFORMANCE.md section and docs/results JSON to write")
    args = parser.parse_args()
    results = []
    for hidden, batch, guidance in itertools.product(args.hidden, args.batch, args.guidance):
        sizes = tuple(int(h) for h in hidden.split(","))
        config = Config(env="Pendulum-v1", guidance=guidance, hidden_sizes=sizes, batch_size=batch).agent
        # alternate the sizes so that drift on a shared machine hits all
        times = alternate({k: lambda _, k=k: time_per_step(config, k, args.repeats) for k in args.seeds}, 2)
        base = statistics.median(times[args.seeds[0]])
        for seeds in args.seeds:
            t = statistics.median(times[seeds])
            results.append({"hidden": hidden, "batch": batch, "guidance": guidance, "seeds": seeds, "ms_per_step": 1e3 * t,
                            "relative_step_cost": t / base, "relative_cost_per_agent": t / base / seeds})
            print(json.dumps(results[-1]), flush=True)
    measured = meta(command(__spec__.name))
    (ROOT / f"docs/results/{args.section.replace('-', '_')}.json").write_text(
        json.dumps({**measured, "results": results}, indent=1) + "\n")
    lines = ["| networks | batch | strategy | seeds K | ms per vmapped step | step cost vs K = 1 | cost per agent-step vs K = 1 |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['hidden']} | {r['batch']} | {r['guidance']} | {r['seeds']} | {r['ms_per_step']:.2f} | "
                     f"{r['relative_step_cost']:.2f}x | {r['relative_cost_per_agent']:.2f}x |")
    write_section(ROOT / "docs/PERFORMANCE.md", args.section, "\n".join(lines), measured,
                  note="one gradient step, medians of timings alternated between K in one invocation")


if __name__ == "__main__":
    main()
