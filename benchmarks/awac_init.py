"""AWAC's offline score under two layer initialisations: Flax's default (guidedrl's) and
PyTorch's default ``nn.Linear`` (d3rlpy's), everything else as the offline suite's ``awac``
trial (a diagnostic for docs/RESULTS.md, "Against d3rlpy's AWAC on the same data").

Flax's ``nn.Dense`` starts with kernel ~ N(0, 1/fan_in) truncated (lecun normal) and zero bias;
PyTorch's ``nn.Linear`` with kernel ~ U(±1/sqrt(fan_in)) (a third of that variance) and bias
~ U(±1/sqrt(fan_in)). The ``torch`` variant swaps :class:`guidedrl.networks.MLP` for an MLP with
PyTorch's initialisation, in this process only (actor and critics: every network is an MLP);
nothing else changes. Offline phase only, on the offline suite's datasets (built by their
recipes into ``--store`` if missing), one XLA thread.

    python benchmarks/awac_init.py --tasks HalfCheetah-v5 --json docs/results/awac_init.json
    python benchmarks/awac_init.py --markdown docs/RESULTS.md     # the awac-init section

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
import sys
import time
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("MUJOCO_GL", "disable")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
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


def offline_run(task: str, seed: int, args, store: Path) -> dict:
    """One offline-only AWAC run with the offline suite's trial config."""
    from guidedrl.experiments.suites import build_suite
    from guidedrl.training.loop import train

    trial = next(t for t in build_suite("offline", seeds=seed + 1, steps=10, offline_steps=args.offline_steps,
                                        tasks=[task], strategies=["awac"]) if t.seed == seed)
    run_dir = OUT / f"{task}-{args.init_now}-s{seed}"
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


def table(results: dict) -> str:
    from guidedrl.experiments import stats

    lines = ["| task | init | seeds | offline end (each seed) | median | mean of the last half of the offline curve "
             "| P(torch init ends higher) [95% CI] |", "|---|---|--:|---|--:|--:|--:|"]
    for task, by_init in results.items():
        ends = {init: [runs[s]["curve"][-1][1] for s in sorted(runs)] for init, runs in by_init.items()}
        for init, runs in by_init.items():
            late = [np.mean([v for step, v in runs[s]["curve"] if step >= args_offline_half(runs[s])])
                    for s in sorted(runs)]
            p = "—"
            if init == "torch" and "flax" in ends and min(len(ends["flax"]), len(ends["torch"])) >= 2:
                pr, low, high = stats.probability_of_improvement(np.array(ends["torch"]), np.array(ends["flax"]),
                                                                 reps=10_000)
                p = f"{pr:.2f} [{low:.2f}, {high:.2f}]"
            lines.append(f"| {task} | {init} | {len(runs)} | {', '.join(f'{v:,.0f}' for v in ends[init])} | "
                         f"{statistics.median(ends[init]):,.1f} | {statistics.median(late):,.1f} | {p} |")
    return "\n".join(lines)


def args_offline_half(run: dict) -> int:
    return run["curve"][-1][0] // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=None, help="default: the offline suite's tasks")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--offline-steps", type=int, default=25_000)
    parser.add_argument("--offline-eval-every", type=int, default=2_500)
    parser.add_argument("--inits", nargs="+", default=list(INITS), choices=INITS)
    parser.add_argument("--store", default=str(ROOT / "docs" / "results" / "offline" / "minari"))
    parser.add_argument("--flax-from", type=Path, default=None,
                        help="read the flax rows from this offline suite output (its results.csv)")
    parser.add_argument("--json", type=Path, default=OUT / "results.json")
    parser.add_argument("--markdown", type=Path, default=None, help="replace the awac-init section of this file")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from guidedrl.experiments.datasets import build_datasets
    from guidedrl.experiments.suites import OFFLINE_TASKS

    tasks = args.tasks or list(OFFLINE_TASKS)
    store = Path(args.store).resolve()
    settings = {"offline_steps": args.offline_steps, "offline_eval_every": args.offline_eval_every}
    results: dict = {}
    if args.json.exists():
        earlier = json.loads(args.json.read_text())
        if earlier.get("meta", {}).get("settings") == settings:
            results = earlier["results"]
    import jax

    command = "python benchmarks/awac_init.py " + " ".join(sys.argv[1:])
    meta = {"command": command.strip(), "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
            "jax": jax.__version__, "settings": settings}

    def save() -> None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
        tmp.replace(args.json)

    # flax runs first: the torch variant patches the networks for the rest of the process
    for init in sorted(args.inits, key=INITS.index):
        if init == "torch":
            use_torch_init()
        args.init_now = init
        for task in tasks:
            runs = results.setdefault(task, {}).setdefault(init, {})
            for seed in range(args.seeds):
                if str(seed) in runs:
                    continue
                if init == "flax" and args.flax_from is not None:
                    runs[str(seed)] = suite_rows(task, seed, args.flax_from)
                else:
                    os.environ["MINARI_DATASETS_PATH"] = str(store)
                    OUT.mkdir(parents=True, exist_ok=True)
                    build_datasets([task], OUT, store)
                    runs[str(seed)] = offline_run(task, seed, args, store)
                print(f"{task} {init} seed {seed}: offline end {runs[str(seed)]['curve'][-1][1]:.1f}", flush=True)
                save()
    save()
    wanted = {task: {init: results[task][init] for init in INITS if init in results.get(task, {})}
              for task in tasks if task in results}
    body = table(wanted)
    print(body)
    if args.markdown:
        from throughput import write_section

        write_section(args.markdown, "awac-init", body, meta,
                      note="offline phase only; the offline suite's awac config; P over seeds, rliable")


if __name__ == "__main__":
    main()
