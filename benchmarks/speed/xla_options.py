"""What XLA's CPU options buy a training step: the bare update and the host loop under each.

For each option set of :data:`OPTIONS` (XLA_FLAGS added to the environment's, or a JAX setting of
:data:`JAX_OPTIONS`), in a fresh process
of its own, alternated ``--repeats`` times, on Gymnasium Pendulum-v1 with SAC at batch 256:

- ``update``: the bare update, ``agent.update_many`` over minibatches in one ``lax.scan``, per
  gradient step (best of 2);
- ``loop``: the host loop's own steady-state steps/s (the second of two intervals of
  ``--measure`` steps, evaluation excluded), one gradient step per env step;
- ``numbers``: the largest difference of any parameter from the default options' after 300
  updates from the same start on the same minibatches (an option that changes the arithmetic
  shows here; 0 means bit for bit).

The CPU's instruction sets are listed with the table: bfloat16 matmuls are only worth trying where
it has AVX512-BF16 (or AMX).

    python -m benchmarks.speed.xla_options                     # writes docs/PERFORMANCE.md section
    python -m benchmarks.speed.xla_options --repeats 1 --measure 1000 --sizes 64,64   # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.common import alternate, command, in_process, meta, write_json, write_section

OPTIONS = {
    "default": "",
    "legacy runtime": "--xla_cpu_use_thunk_runtime=false",
    "XNNPACK": "--xla_cpu_use_xnnpack=true",
    "oneDNN": "--xla_cpu_use_onednn=true",
    "no fusion emitters": "--xla_cpu_use_fusion_emitters=false",
    "fast math": "--xla_cpu_enable_fast_math=true",
    "sync dispatch": "",
    "async dispatch": "",
}
"""Option sets measured, by name: XLA_FLAGS each adds (each is an XLA flag of this jaxlib)."""

JAX_OPTIONS = {"sync dispatch": {"jax_cpu_enable_async_dispatch": False},
               "async dispatch": {"jax_cpu_enable_async_dispatch": True}}
"""Option sets that are JAX settings instead, applied before the process's CPU client exists:
``jax_cpu_enable_async_dispatch`` (whether a jitted call returns before its program has run,
the program running on another thread)."""

UPDATES = 300


def _config(hidden):
    from guidedrl.config import Config

    return Config(env="Pendulum-v1", algo="sac", guidance="none", hidden_sizes=tuple(hidden), batch_size=256)


def trained_parameters(hidden, path: str) -> int:
    """Save the parameters after :data:`UPDATES` updates from seed 0 on fixed minibatches to
    ``path`` (.npy); returns how many there are."""
    import jax
    import numpy as np
    from jax.flatten_util import ravel_pytree

    from benchmarks.common import random_buffer
    from guidedrl import agent
    from guidedrl.training.jitted import PRNG_IMPL, init_agent

    config = _config(hidden).agent
    rng = np.random.default_rng(0)
    buffer = random_buffer(3, 1, rng)
    key = jax.random.key(0, impl=PRNG_IMPL)
    state = init_agent(config, key, 3, 1)
    state, _ = jax.jit(agent.update_many, static_argnums=0)(config, state, buffer.sample(rng, UPDATES, 256), key,
                                                              10**6)
    flat = np.asarray(ravel_pytree(jax.tree_util.tree_map(np.asarray, state.backbone))[0])
    np.save(path, flat)
    return int(flat.size)


def measure(hidden, steps: int, repeat: int, path: str, settings: dict) -> dict:
    """One option set's numbers in this process (its XLA_FLAGS already set; ``settings``: JAX
    settings applied first)."""
    import jax

    for name, value in settings.items():
        jax.config.update(name, value)
    from benchmarks.common import bare_update_seconds
    from benchmarks.speed.throughput import guidedrl_steps_per_second

    return {"update_ms": 1e3 * bare_update_seconds(_config(hidden), 3, 1, repeats=2, batches=steps),
            "loop_steps_per_second": guidedrl_steps_per_second(tuple(hidden), steps, repeat),
            "parameters": trained_parameters(hidden, path)}


def cpu_flags() -> list:
    """The CPU's vector instruction sets that matter for matmuls (from /proc/cpuinfo)."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    return [flag for flag in flags.split(":", 1)[1].split() if flag in wanted]


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["64,64", "256,256"])
    parser.add_argument("--options", nargs="+", default=list(OPTIONS), choices=list(OPTIONS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", type=int, default=3_000, help="timed steps per measurement (> 1000)")
    parser.add_argument("--json", default="docs/results/xla_options.json")
    parser.add_argument("--markdown", default="docs/PERFORMANCE.md")
    args = parser.parse_args()
    if "default" not in args.options:
        args.options.insert(0, "default")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            hidden = [int(h) for h in size.split(",")]
            runs = alternate(
                {name: lambda repeat, name=name: in_process(
                    __spec__.name, "measure", hidden, args.measure, repeat, f"{tmp}/{size}-{name}.npy",
                    JAX_OPTIONS.get(name, {}), env={"XLA_FLAGS": OPTIONS[name]}) for name in args.options},
                args.repeats,
                lambda repeat, name, m: print(f"{size} {name} repeat {repeat}: update {m['update_ms']:.3f} ms, "
                                              f"loop {m['loop_steps_per_second']:.0f} steps/s", flush=True))
            reference = np.load(f"{tmp}/{size}-default.npy")
            results[size] = {}
            for name, values in runs.items():
                params = np.load(f"{tmp}/{size}-{name}.npy")
                results[size][name] = {
                    "xla_flags": OPTIONS[name], "jax": JAX_OPTIONS.get(name, {}), "runs": values,
                    "update_ms": statistics.median(v["update_ms"] for v in values),
                    "loop_steps_per_second": statistics.median(v["loop_steps_per_second"] for v in values),
                    "max_parameter_difference": float(np.max(np.abs(params - reference))),
                }
    info = {**meta(command(__spec__.name)), "cpu_flags": cpu_flags()}
    write_json(Path(args.json), {"meta": info, "results": results})

    lines = ["| network | options (XLA_FLAGS or JAX setting) | bare update | vs default | loop steps/s | vs default "
             f"| largest parameter difference after {UPDATES} updates |", "|---|---|--:|--:|--:|--:|--:|"]
    for size, by_name in results.items():
        base = by_name["default"]
        for name, r in by_name.items():
            settings = [r["xla_flags"]] if r["xla_flags"] else []
            settings += [f"{k}={v}" for k, v in r["jax"].items()]
            flags = f" (`{' '.join(settings)}`)" if settings else ""
            lines.append(f"| {size.replace(',', '-')} | {name}{flags} | {r['update_ms']:.3f} ms "
                         f"| {base['update_ms'] / r['update_ms']:.2f}x | {r['loop_steps_per_second']:.0f} "
                         f"| {r['loop_steps_per_second'] / base['loop_steps_per_second']:.2f}x "
                         f"| {r['max_parameter_difference']:.1e} |")
    lines.append("")
    lines.append(f"The CPU's instruction sets for matmuls: {', '.join(info['cpu_flags']) or 'none found'} "
                 "(\"vs default\": speed-up, above 1 faster; medians over repeats, each in its own process).")
    write_section(Path(args.markdown), "xla-options", "\n".join(lines), info)


if __name__ == "__main__":
    main()
