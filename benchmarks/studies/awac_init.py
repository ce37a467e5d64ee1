"""AWAC's offline score under two layer initialisations: Flax's default (guidedrl's) and
PyTorch's default ``nn.Linear`` (d3rlpy's), everything else as the offline suite's ``awac``
trial (a diagnostic for docs/RESULTS.md, "Against d3rlpy's AWAC on the same data").

Flax's ``nn.Dense`` starts with kernel ~ N(0, 1/fan_in) truncated (lecun normal) and zero bias;
PyTorch's ``nn.Linear`` with kernel ~ U(±1/sqrt(fan_in)) (a third of that variance) and bias
~ U(±1/sqrt(fan_in)). The ``torch`` variant swaps :class:`guidedrl.networks.MLP` for an MLP with
PyTorch's initialisation, in this process only (actor and critics: every network is an MLP);
nothing else changes. Offline phase only, on the offline suite's datasets (built by their
recipes into ``--store`` if missing), one XLA thread.

    python -m benchmarks.studies.awac_init --tasks HalfCheetah-v5 --json docs/results/awac_init.json
    python -m benchmarks.studies.awac_init --markdown docs/RESULTS.md     # the awac-init section

The JSON is written after every run and, run again with the same settings, runs it holds are
kept. The ``flax`` rows of a task equal the offline suite's ``awac`` runs (same config, same
seeds), so ``--flax-from DIR`` reads them from that suite's results.csv instead of training them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.common import ROOT, add_offline_options, command, improvement_text, one_xla_thread, write_json, \
    write_section

one_xla_thread()

import numpy as np  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "awac_init"
INITS = ("flax", "torch")


def use_torch_init() -> None:
    """Replace guidedrl's MLP (in every module that builds one) by one with PyTorch's default
    ``nn.Linear`` initialisation."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    import guidedrl.networks as networks
    from guidedrl.backbones import awac

    def bias_init(fan_in: int):
        def init(key, shape, dtype=jnp.float32):
            bound = 1.0 / np.sqrt(fan_in)
            return jax.random.uniform(key, shape, dtype, -bound, bound)
        return init

    kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")

    class TorchInitMLP(nn.Module):
        """ReLU hidden layers, a linear output layer; PyTorch's ``nn.Linear`` initialisation."""

        hidden_sizes: tuple
        out_dim: int

        @nn.compact
        def __call__(self, x):
            for size in self.hidden_sizes:
                x = nn.relu(nn.Dense(size, kernel_init=kernel_init, bias_init=bias_init(x.shape[-1]))(x))
            return nn.Dense(self.out_dim, kernel_init=kernel_init, bias_init=bias_init(x.shape[-1]))(x)

    networks.MLP = TorchInitMLP
    awac.MLP = TorchInitMLP
    jax.clear_caches()  # programs traced with the Flax MLP (a flax run earlier in this process)


def offline_run(task: str, seed: int, init: str, args) -> dict:
    """One offline-only AWAC run with the offline suite's trial config (the networks as
    :func:`use_torch_init` left them, ``init`` naming which)."""
    from guidedrl.experiments.suites import build_suite
    from guidedrl.training.loop import train

    trial = next(t for t in build_suite("offline", seeds=seed + 1, steps=10, offline_steps=args.offline_steps,
                                        tasks=[task], strategies=["awac"]) if t.seed == seed)
    run_dir = OUT / f"{task}-{init}-s{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = trial.config(str(run_dir)).replace(steps=0, offline_eval_every=args.offline_eval_every,
                                                checkpoint_every=10**9)
    started = time.perf_counter()
    run = train(config)
    return {"curve": [[int(r["offline_step"]), float(r["eval_return"])] for r in run.history
                      if r["phase"] == "offline"],
            "wall_seconds": time.perf_counter() - started}


def suite_rows(task: str, seed: int, suite_dir: Path) -> dict:
    """The offline suite's own ``awac`` run of (task, seed): its offline-phase evaluations."""
    from guidedrl.experiments import results

    rows = [r for r in results.read_results(suite_dir / "results.csv")
            if r["task"] == task and r["strategy"] == "awac" and int(r["seed"]) == seed and r["phase"] == "offline"]
    if not rows:
        raise SystemExit(f"--flax-from {suite_dir}: no offline awac rows of {task} seed {seed}")
    return {"curve": [[int(r["offline_step"]), float(r["eval_return"])] for r in rows], "wall_seconds": None,
            "from": str(suite_dir)}


def late_mean(curve: list) -> float:
    """Mean evaluation return over the last half of an offline curve ([[offline step, return], ...])."""
    half = curve[-1][0] // 2
    return float(np.mean([value for step, value in curve if step >= half]))


def table(results: dict) -> str:
    lines = ["| task | init | seeds | offline end (each seed) | median | mean of the last half of the offline curve "
             "| P(torch init ends higher) [95% CI] |", "|---|---|--:|---|--:|--:|--:|"]
    for task, by_init in results.items():
        ends = {init: [runs[s]["curve"][-1][1] for s in sorted(runs)] for init, runs in by_init.items()}
        for init, runs in by_init.items():
            late = [late_mean(runs[s]["curve"]) for s in sorted(runs)]
            p = improvement_text(ends["torch"], ends["flax"]) if init == "torch" and "flax" in ends else "—"
            lines.append(f"| {task} | {init} | {len(runs)} | {', '.join(f'{v:,.0f}' for v in ends[init])} | "
                         f"{statistics.median(ends[init]):,.1f} | {statistics.median(late):,.1f} | {p} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_offline_options(parser)
    parser.add_argument("--inits", nargs="+", default=list(INITS), choices=INITS)
    parser.add_argument("--store", default=str(ROOT / "docs" / "results" / "offline" / "minari"))
    parser.add_argument("--flax-from", type=Path, default=None,
                        help="read the flax rows from this offline suite output (its results.csv)")
    parser.add_argument("--json", type=Path, default=OUT / "results.json")
    parser.add_argument("--markdown", type=Path, default=None, help="replace the awac-init section of this file")
    args = parser.parse_args()

    from guidedrl.experiments.datasets import build_datasets
    from guidedrl.experiments.suites import OFFLINE_TASKS

    tasks = args.tasks or list(OFFLINE_TASKS)
    store = Path(args.store).resolve()
    os.environ["MINARI_DATASETS_PATH"] = str(store)
    settings = {"offline_steps": args.offline_steps, "offline_eval_every": args.offline_eval_every}
    results: dict = {}
    earlier: dict = {}  # an earlier invocation's JSON with the same settings: its runs are kept
    if args.json.exists():
        earlier = json.loads(args.json.read_text())
        if earlier.get("meta", {}).get("settings") == settings:
            results = earlier["results"]
        else:
            earlier = {}
    import jax

    meta = {"command": command(__spec__.name), "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
            "jax": jax.__version__, "settings": settings}

    def save() -> None:
        write_json(args.json, {"meta": meta, "results": results})

    added = 0  # runs trained or read in this invocation
    # flax runs first: the torch variant patches the networks for the rest of the process
    for init in sorted(args.inits, key=INITS.index):
        if init == "torch":
            use_torch_init()
        for task in tasks:
            runs = results.setdefault(task, {}).setdefault(init, {})
            to_train = [seed for seed in range(args.seeds) if str(seed) not in runs
                        and not (init == "flax" and args.flax_from is not None)]
            if to_train:  # the dataset once per task, and only where a run is trained
                OUT.mkdir(parents=True, exist_ok=True)
                build_datasets([task], OUT, store)
            for seed in range(args.seeds):
                if str(seed) in runs:
                    continue
                if seed in to_train:
                    runs[str(seed)] = offline_run(task, seed, init, args)
                else:
                    runs[str(seed)] = suite_rows(task, seed, args.flax_from)
                print(f"{task} {init} seed {seed}: offline end {runs[str(seed)]['curve'][-1][1]:.1f}", flush=True)
                added += 1
                save()
    if added or not earlier:
        save()
    else:  # nothing new: the JSON and its record of when it was measured stay as they were
        meta = earlier["meta"]
    wanted = {task: {init: results[task][init] for init in INITS if init in results.get(task, {})}
              for task in tasks if task in results}
    body = table(wanted)
    print(body)
    if args.markdown:
        write_section(args.markdown, "awac-init", body, meta,
                      note="offline phase only; the offline suite's awac config; P over seeds, rliable")


if __name__ == "__main__":
    main()
