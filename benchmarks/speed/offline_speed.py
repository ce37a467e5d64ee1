"""Offline AWAC gradient steps per second: guidedrl against d3rlpy's AWAC, alternated in one run.

Both libraries train AWAC offline on the same transitions (Gymnasium ``Pendulum-v1``, rollouts
of the LQR guide with exploration noise, 20k transitions by default, written by
``guidedrl.offline.collect`` as a Minari dataset under ``benchmarks/out/offline_speed/minari``
that guidedrl reads, and converted by this script, from the same file, to an ``.npz`` that d3rlpy
reads) with the same settings: hidden layers 256-256 and 64-64, batch 1024 (AWAC's reference
batch) and 256, Adam with learning rate 3e-4 for actor and critics, actor weight decay 1e-4 (coupled L2, as
torch's Adam), γ 0.99, τ 0.005, twin critics, λ 1.0 with the batch-softmax weights, one action
sample for the advantage, a Gaussian policy with tanh mean and a state-independent log-std in
[-6, 0]. docs/BENCHMARK.md, "Speed protocol".

One core against one core, each side in its own process: guidedrl with one XLA thread
(``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``), d3rlpy with
``torch.set_num_threads(1)``. For each (network, batch) the two alternate ``--repeats`` times
(guidedrl, d3rlpy, guidedrl, d3rlpy, ...), each measurement a fresh process; the table reports
medians and the ratio of medians.

* guidedrl: what a user gets from ``guidedrl.train(..., algo="awac", dataset=..., offline_steps=
  1000 + measure, steps=0, offline_eval_every=1000)``: the loop logs gradient steps per second
  per evaluation interval with the evaluation excluded; the first interval (compilation, the
  first jitted chunk of 1,000 steps) is dropped and the rate is that of the ``--measure`` steps
  after it.
* d3rlpy 2.8.1 (``benchmarks/studies/_d3rlpy_awac.py``): ``AWAC.fit`` on ``--d3rlpy-measure`` gradient
  steps after ``--d3rlpy-warmup`` steps of a first ``fit``, with no evaluators, the no-op logger
  and no progress bar (minibatch sampling included, as in guidedrl's loop); beside it,
  ``AWAC.update(batch)`` alone on minibatches sampled beforehand (d3rlpy's arithmetic without its
  Python-side sampling).

d3rlpy 2.8.1 pins gymnasium 1.0.0 (guidedrl's venv has 1.4), so it runs from a virtual
environment of its own, by default ``.venv-d3rlpy`` in the repository root (git-ignored). Make it
with the CPU torch wheel, pinned (an unpinned torch pulls GBs of CUDA libraries):

    python3 -m venv .venv-d3rlpy && .venv-d3rlpy/bin/pip install torch==2.13.0 d3rlpy==2.8.1

Then, from the repository root with guidedrl's venv active:

    python -m benchmarks.speed.offline_speed                                   # docs/PERFORMANCE.md section
    python -m benchmarks.speed.offline_speed --sizes 64,64 --batches 256 --repeats 1   # a quick look

The dataset's transitions are converted for d3rlpy here, not with d3rlpy's own Minari loader
(suspected of misaligning episodes after the first; docs/ALGORITHMS.md, "AWAC"), and the worker
checks the episodes d3rlpy built against them before timing anything. Benchmarks never assert
a time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, loader_differs, one_xla_thread, read_transitions, write_section

one_xla_thread()

import numpy as np  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "offline_speed"
DATASET_ID = "bench/pendulum-noisy-v0"
ENV_ID = "Pendulum-v1"
EPISODE_LENGTH = 200
HEADING = "## Offline gradient steps against d3rlpy"
CHUNK = 1_000
"""guidedrl's offline gradient steps per jitted call (the loop's default ``offline_chunk``)."""


# -- the data ----------------------------------------------------------------------------------


def write_dataset(transitions: int, seed: int) -> None:
    """The LQR guide's rollouts on Pendulum-v1 with Gaussian noise 0.3 on the normalised action
    (episodes of 200 steps, all cut by the time limit), written by guidedrl's collector as the
    Minari dataset ``DATASET_ID`` under ``MINARI_DATASETS_PATH``, actions in the env's units."""
    from guidedrl.offline import collect

    collect(ENV_ID, "guide", -(-transitions // EPISODE_LENGTH), DATASET_ID, noise=0.3, seed=seed, guide="lqr")


def prepare_data(transitions: int, seed: int) -> Path:
    """Write the Minari dataset and the ``.npz`` of its transitions for the d3rlpy worker; returns
    the ``.npz``'s path."""
    import minari

    os.environ["MINARI_DATASETS_PATH"] = str(OUT / "minari")
    npz = OUT / "pendulum.npz"
    if DATASET_ID in minari.list_local_datasets():  # written afresh: same seed, same dataset
        with contextlib.redirect_stdout(io.StringIO()):  # Minari prints that it deleted it
            minari.delete_dataset(DATASET_ID)
    write_dataset(transitions, seed)
    data = read_transitions(DATASET_ID)
    np.savez(npz, **data)
    return npz


def guidedrl_loader_agrees(data: dict) -> str:
    """Whether guidedrl's own loader (``guidedrl.offline.load_transitions``, what the loop reads)
    gives the same transitions as this script's reader (what d3rlpy is given)."""
    import gymnasium as gym

    differs = loader_differs(DATASET_ID, gym.make(ENV_ID), data)
    return "same transitions" if differs is None else f"differs in {differs}"


# -- the two sides ---------------------------------------------------------------------------


AWAC_SETTINGS = dict(actor_lr=3e-4, critic_lr=3e-4, gamma=0.99, tau=0.005, awac_lambda=1.0, awac_weights="softmax",
                     awac_advantage_samples=1, awac_actor_weight_decay=1e-4, awac_log_std_min=-6.0,
                     awac_log_std_max=0.0)
"""guidedrl's AWAC settings, written out though most are its defaults (d3rlpy's are in the worker)."""


def guidedrl_steps_per_second(hidden: tuple, batch: int, measure: int, seed: int) -> float:
    """Steady-state offline gradient steps/s of ``guidedrl.train``, from the loop's own rate.

    The offline phase runs ``CHUNK + measure`` gradient steps evaluated every ``CHUNK``: the
    first interval holds compilation and the first chunk; the loop logs each later interval's
    gradient steps per second with the evaluation excluded, and the rate over the ``measure``
    timed steps is their total over their summed time."""
    import guidedrl

    run = guidedrl.train(
        ENV_ID, algo="awac", guidance="none", dataset=DATASET_ID, offline_steps=CHUNK + measure, steps=0,
        offline_eval_every=CHUNK, offline_chunk=CHUNK, seed=seed, hidden_sizes=hidden, batch_size=batch,
        eval_episodes=1, checkpoint_every=10**9, progress=False, out=None, **AWAC_SETTINGS,
    )
    timed = [row for row in run.history if row["phase"] == "offline" and int(row["offline_step"]) > CHUNK]
    assert len(timed) == measure // CHUNK and int(timed[-1]["offline_step"]) == CHUNK + measure
    return measure / sum(CHUNK / float(row["steps_per_second"]) for row in timed)


def _run_worker(command: list, env: dict) -> dict:
    """Run one measurement process; its last stdout line is its JSON result."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_guidedrl(hidden: str, batch: int, measure: int, seed: int) -> dict:
    command = [sys.executable, "-m", __spec__.name, "--worker", "--sizes", hidden,
               "--batches", str(batch), "--measure", str(measure), "--seed", str(seed)]
    return _run_worker(command, dict(os.environ))


def measure_d3rlpy(python: str, npz: Path, hidden: str, batch: int, warmup: int, measure: int,
                   update_only: int, seed: int) -> dict:
    command = [python, "-m", "benchmarks.studies._d3rlpy_awac", "--data", str(npz), "--hidden", hidden,
               "--batch", str(batch), "--warmup", str(warmup), "--measure", str(measure),
               "--update-only", str(update_only), "--seed", str(seed), "--threads", "1"]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return _run_worker(command, env)


# -- the report ------------------------------------------------------------------------------


def table(results: dict) -> str:
    lines = ["| network | batch | guidedrl (gradient steps/s) | d3rlpy fit (steps/s) | guidedrl / d3rlpy | "
             "d3rlpy update alone (steps/s) | guidedrl / d3rlpy update alone |",
             "|---|---|---|---|---|---|---|"]
    for r in results.values():
        lines.append(f"| {r['hidden'].replace(',', '-')} | {r['batch']} | {r['guidedrl_median']:,.0f} | "
                     f"{r['d3rlpy_median']:,.1f} | {r['ratio']:.1f}x | {r['d3rlpy_update_median']:,.1f} | "
                     f"{r['ratio_update']:.1f}x |")
    return "\n".join(lines)


def write_markdown(path: Path, body: str, meta: dict) -> None:
    """The section between the ``offline-speed`` markers, under its heading (appended once)."""
    text = path.read_text()
    if "<!-- offline-speed:begin -->" not in text:
        path.write_text(text.rstrip("\n") + f"\n\n{HEADING}\n")
    write_section(path, "offline-speed", body, meta,
                  note="medians over repeats, alternated; ratio of medians; one core per side")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256,256", "64,64"], help="hidden sizes, e.g. 256,256")
    parser.add_argument("--batches", nargs="+", type=int, default=[1024, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", type=int, default=2_000,
                        help="guidedrl's timed gradient steps, a multiple of 1000 (after 1000 for compilation and warm-up)")
    parser.add_argument("--d3rlpy-measure", type=int, default=300, help="d3rlpy's timed fit() gradient steps")
    parser.add_argument("--d3rlpy-warmup", type=int, default=50, help="d3rlpy's fit() gradient steps before")
    parser.add_argument("--d3rlpy-update-only", type=int, default=100,
                        help="d3rlpy's timed update(batch) calls on batches sampled beforehand (0: skip)")
    parser.add_argument("--d3rlpy-python", default=str(ROOT / ".venv-d3rlpy" / "bin" / "python"))
    parser.add_argument("--transitions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=str(ROOT / "docs" / "results" / "offline_speed.json"))
    parser.add_argument("--markdown", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one guidedrl measurement
    args = parser.parse_args()

    os.environ["MINARI_DATASETS_PATH"] = str(OUT / "minari")
    if args.worker:  # one guidedrl measurement, in a process of its own
        hidden = tuple(int(h) for h in args.sizes[0].split(","))
        if args.measure % CHUNK:
            raise SystemExit(f"--measure {args.measure} must be a multiple of {CHUNK} (the loop's offline chunk)")
        rate = guidedrl_steps_per_second(hidden, args.batches[0], args.measure, args.seed)
        print(json.dumps({"steps_per_second": rate}), flush=True)
        return

    if not Path(args.d3rlpy_python).exists():
        raise SystemExit(f"no d3rlpy interpreter at {args.d3rlpy_python}; make it with: python3 -m venv "
                         ".venv-d3rlpy && .venv-d3rlpy/bin/pip install torch==2.13.0 d3rlpy==2.8.1")
    OUT.mkdir(parents=True, exist_ok=True)
    npz = prepare_data(args.transitions, args.seed)
    with np.load(npz) as file:
        data = {name: file[name] for name in file.files}
    loader = guidedrl_loader_agrees(data)
    print(f"dataset {DATASET_ID}: {len(data['reward'])} transitions in {len(data['episode_lengths'])} episodes "
          f"(MINARI_DATASETS_PATH={OUT / 'minari'}); guidedrl's loader: {loader}", flush=True)
    print("settings (both): Adam lr 3e-4 actor and critics, actor weight decay 1e-4, gamma 0.99, tau 0.005, "
          "2 critics, lambda 1.0 (batch softmax), 1 advantage sample, Gaussian policy tanh mean, "
          "log-std in [-6, 0]; one core per side, each in its own process: guidedrl.train's offline phase with "
          "1 XLA thread, d3rlpy's AWAC.fit with torch.set_num_threads(1)",
          flush=True)

    results, alignment, versions = {}, None, {}
    for hidden in args.sizes:
        for batch in args.batches:
            ours, fits, updates = [], [], []
            for repeat in range(args.repeats):
                mine = measure_guidedrl(hidden, batch, args.measure, args.seed + repeat)
                ours.append(mine["steps_per_second"])
                theirs = measure_d3rlpy(args.d3rlpy_python, npz, hidden, batch, args.d3rlpy_warmup,
                                        args.d3rlpy_measure, args.d3rlpy_update_only, args.seed + repeat)
                fits.append(theirs["fit_steps_per_second"])
                updates.append(theirs.get("update_steps_per_second", float("nan")))
                alignment = theirs["alignment"]
                versions = {"d3rlpy": theirs["d3rlpy"], "torch": theirs["torch"], "torch_threads": theirs["threads"]}
                print(f"{hidden} batch {batch} repeat {repeat}: guidedrl {ours[-1]:.0f}, d3rlpy fit {fits[-1]:.1f}, "
                      f"d3rlpy update alone {updates[-1]:.1f} gradient steps/s", flush=True)
            results[f"{hidden}/{batch}"] = {
                "hidden": hidden, "batch": batch, "guidedrl": ours,
                "d3rlpy_fit": fits, "d3rlpy_update": updates,
                "guidedrl_median": statistics.median(ours), "d3rlpy_median": statistics.median(fits),
                "d3rlpy_update_median": statistics.median(updates),
                "ratio": statistics.median(ours) / statistics.median(fits),
                "ratio_update": statistics.median(ours) / statistics.median(updates),
            }

    import jax

    command = (f"python -m {__spec__.name} --sizes " + " ".join(args.sizes) + " --batches "
               + " ".join(map(str, args.batches)) + f" --repeats {args.repeats} --measure {args.measure} "
               f"--d3rlpy-measure {args.d3rlpy_measure} --d3rlpy-warmup {args.d3rlpy_warmup} "
               f"--d3rlpy-update-only {args.d3rlpy_update_only} --transitions {args.transitions}")
    meta = {"command": command, "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "jax": jax.__version__, **versions,
            "xla_flags": os.environ["XLA_FLAGS"], "dataset": DATASET_ID, "transitions": int(len(data["reward"])),
            "episodes": int(len(data["episode_lengths"])), "d3rlpy_alignment": alignment,
            "guidedrl_loader": loader,
            "guidedrl_measured": "guidedrl.train's offline phase (the loop's own rate, evaluation excluded)",
            "load_average": os.getloadavg()}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    body = table(results)
    print(body)
    write_markdown(Path(args.markdown), body, meta)


if __name__ == "__main__":
    main()
