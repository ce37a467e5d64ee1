"""AWAC on the offline suite's datasets: guidedrl against d3rlpy 2.8.1, the same data, budgets,
networks, batch and evaluation, side by side (docs/BENCHMARK.md, "Offline to online", claim 5).

For each task and seed, both libraries train AWAC on the task's dataset (the offline suite's
recipe, ``guidedrl.experiments.datasets.RECIPES``; built into the store if missing) for
``--offline-steps`` gradient steps evaluated every ``--offline-eval-every``, then fine-tune
online for ``--online-steps`` environment steps evaluated every ``--eval-every``:

* guidedrl: ``guidedrl.training.loop.train`` with the offline suite's ``awac`` trial config
  (``guidedrl bench --suite offline``'s settings: 64-64 networks, batch 128, λ = 1, the dataset
  kept beside the online buffer), one XLA thread;
* d3rlpy: ``AWAC.fit`` on the same transitions, then ``AWAC.fit_online`` with the dataset as its
  buffer (online data appended, nothing evicted, as guidedrl does), in its own virtual
  environment (``.venv-d3rlpy``; d3rlpy pins gymnasium 1.0.0), ``torch.set_num_threads(1)``,
  with the settings of ``benchmarks/studies/_d3rlpy_awac.py``'s ``build_awac`` (docs/PERFORMANCE.md,
  "Offline gradient steps against d3rlpy", lists what differs and what cannot be changed).

**The same data.** The dataset's Minari file is read here into flat transitions
(``benchmarks.common.read_transitions``: s = obs[:-1], s' = obs[1:], actions rescaled to [-1, 1]),
checked equal to what guidedrl's own loader gives, and written to an ``.npz`` the d3rlpy worker
turns into its ``MDPDataset`` (``_d3rlpy_awac.episodes_for_d3rlpy``: a time-limited episode
gets its final next observation as an extra row), after which the worker checks every episode
and transition d3rlpy built against the ``.npz`` (``_d3rlpy_awac.check_alignment``).

**The same env and evaluation.** d3rlpy's venv has neither guidedrl nor MuJoCo, so the env
stays in this process: the worker acts through a ``gymnasium.Env`` that forwards ``reset`` and
``step`` over a pipe to ``guidedrl.envs.make_env(task)`` here (actions in [-1, 1], clipped to it
before stepping). Evaluations are guidedrl's: ``--eval-episodes`` deterministic episodes (the
policy's mean action, ``AWAC.predict``), episode i reset with seed ``seed + EVAL_SEED_OFFSET +
i`` (``guidedrl.training.evaluate``); online training episode k resets with guidedrl's
``episode_seed(seed, k)``.

    python -m benchmarks.studies.d3rlpy_awac            # every task, 3 seeds, the suite's budgets
    python -m benchmarks.studies.d3rlpy_awac --tasks Pendulum-v1 --offline-steps 500 --online-steps 0   # smoke
    # guidedrl's side: the suite's awac runs; then online for seed 0 only
    python -m benchmarks.studies.d3rlpy_awac --guidedrl-from docs/results/offline
    python -m benchmarks.studies.d3rlpy_awac --guidedrl-from docs/results/offline --online-seeds 1

``--d3rlpy-entropy-off`` (a diagnostic, its own ``--json``): d3rlpy's AWAC keeps SAC's critic
target, min Q(s', a') - α log π(a'|s') with a' drawn from the tanh-squashed policy, and its α is
a dummy log-temperature of 0 that nothing trains, so α = 1; guidedrl's AWAC (docs/ALGORITHMS.md) has
no entropy term. The flag sets that log-temperature to -100 (α = 0 in float32), to measure how
much of a score difference the term explains.

``--guidedrl-actor-weight-decay X`` (a diagnostic, its own ``--json``): guidedrl's actor loss is
the batch mean of w·log π, d3rlpy's the batch sum, so the same coupled weight decay (1e-4) is
N = batch size times stronger, relative to the loss, in guidedrl; X = 1e-4 / N matches d3rlpy's.
guidedrl's side is then trained here (``--guidedrl-from`` is not read for it).

``--online-seeds K``: only seeds below K fine-tune online (on both sides); the others stop after
the offline phase, whose score is then compared alone (d3rlpy's ``fit_online`` runs one gradient
step per environment step at d3rlpy's rate, about 6 ms at 64-64 on one core, so each online
run costs it several minutes). The JSON is written after every seed; run again with the same
settings, the script keeps the (task, seed) runs it holds (with the online budget now asked of
that seed) and trains the rest, so a later ``--online-seeds 3`` adds the online runs of seeds
1 and 2 to an ``--online-seeds 1`` invocation's.

Datasets go to ``--store`` (default: the suite's store ``bench/offline/minari`` if it exists,
else ``benchmarks/out/d3rlpy_awac/minari``); results to ``--json`` (default
``benchmarks/out/d3rlpy_awac/results.json``), the table to stdout (and ``--markdown FILE``
replaces the ``d3rlpy-awac`` section of that file; the diagnostics append ``-entropy-off`` and
``-weight-decay`` to its name).
Wall times are each run's own, evaluation included; gradient steps/s exclude evaluation.
Benchmarks never assert a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

# in the worker's venv too: benchmarks.common imports only the standard library
from benchmarks.common import ROOT, XLA_ONE_THREAD, add_offline_options, command, improvement_text, loader_differs, \
    read_transitions, write_json, write_section

OUT = ROOT / "benchmarks" / "out" / "d3rlpy_awac"
SUITE_STORE = ROOT / "bench" / "offline" / "minari"
THREADS = {"XLA_FLAGS": XLA_ONE_THREAD, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MUJOCO_GL": "disable"}
for _name, _value in THREADS.items():  # one core per side, set before anything imports jax or torch
    os.environ.setdefault(_name, _value)


# -- the parent (guidedrl's venv) --------------------------------------------------------------


def ensure_dataset(task: str, store: Path) -> dict:
    """The offline suite's dataset of ``task`` in ``store`` (built by its recipe if missing)."""
    from guidedrl.experiments.datasets import build_datasets

    OUT.mkdir(parents=True, exist_ok=True)
    return build_datasets([task], OUT, store)[0]


def convert(task: str, dataset_id: str, store: Path, seed_dir: Path) -> Path:
    """The dataset's transitions as the worker's ``.npz``, checked against guidedrl's loader."""
    from guidedrl.envs import make_env

    os.environ["MINARI_DATASETS_PATH"] = str(store)
    data = read_transitions(dataset_id)
    env = make_env(task)
    try:
        differs = loader_differs(dataset_id, env, data)
    finally:
        env.close()
    if differs is not None:
        raise SystemExit(f"{dataset_id}: this script's reader and guidedrl's loader differ in {differs}")
    path = seed_dir / f"{dataset_id.replace('/', '__')}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    return path


def run_guidedrl(task: str, seed: int, args, run_dir: Path) -> dict:
    """guidedrl's AWAC with the offline suite's trial config, the budgets of ``args``."""
    import shutil

    from guidedrl.experiments.suites import build_suite
    from guidedrl.training.loop import train

    trial = next(t for t in build_suite("offline", seeds=seed + 1, steps=max(args.online_steps, 10),
                                        offline_steps=args.offline_steps, tasks=[task], strategies=["awac"])
                 if t.seed == seed)
    config = trial.config(str(run_dir)).replace(
        steps=args.online_steps, eval_every=args.eval_every, offline_eval_every=args.offline_eval_every,
        eval_episodes=args.eval_episodes, checkpoint_every=10**9)
    if args.guidedrl_actor_weight_decay is not None:
        config = config.replace(awac_actor_weight_decay=args.guidedrl_actor_weight_decay)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    run = train(config)
    wall = time.perf_counter() - started
    rows = [{"phase": r["phase"], "offline_step": int(r["offline_step"]), "step": int(r["step"]),
             "eval_return": float(r["eval_return"]), "eval_return_std": float(r["eval_return_std"]),
             "steps_per_second": float(r["steps_per_second"]), "wall_time": float(r["wall_time"])}
            for r in run.history]
    offline = [r for r in rows if r["phase"] == "offline"]
    # the loop's own rate of each interval, evaluation excluded; the first holds compilation
    # (in this process's first run), so it is left out unless it is the only one (a smoke budget)
    pairs = list(zip(offline, offline[1:]))
    pairs = pairs[1:] if len(pairs) > 1 else pairs
    steps = [b["offline_step"] - a["offline_step"] for a, b in pairs]
    seconds = [n / b["steps_per_second"] for n, (_, b) in zip(steps, pairs)]
    rate = sum(steps) / sum(seconds) if steps and all(np.isfinite(seconds)) else float("nan")
    return {"rows": rows, "wall_seconds": wall, "offline_wall_seconds": offline[-1]["wall_time"],
            "offline_steps_per_second": rate, "settings": {"hidden_sizes": list(config.hidden_sizes),
                                                           "batch_size": config.minibatch_size,
                                                           "awac_lambda": config.awac_lambda,
                                                           "awac_actor_weight_decay": config.awac_actor_weight_decay}}


def suite_guidedrl(task: str, seed: int, args, suite_dir: Path) -> dict:
    """guidedrl's side read from the offline suite's own ``awac`` run of (task, seed) in
    ``suite_dir``/results.csv instead of trained again: the same trial config (the suite's budgets
    must be the ones asked for), its rows as the loop logged them. Wall time is the run's own
    (``wall_time`` of its last row: evaluations included, start-up and compilation not)."""
    from guidedrl.experiments import results

    rows = [r for r in results.read_results(suite_dir / "results.csv")
            if r["task"] == task and r["strategy"] == "awac" and int(r["seed"]) == seed]
    if not rows:
        raise SystemExit(f"{suite_dir / 'results.csv'} has no finished awac run of {task}, seed {seed}")
    rows = [{"phase": r["phase"], "offline_step": int(r["offline_step"]), "step": int(r["step"]),
             "eval_return": float(r["eval_return"]), "eval_return_std": float(r["eval_return_std"]),
             "steps_per_second": float(r["steps_per_second"]), "wall_time": float(r["wall_time"])}
            for r in rows]
    rows.sort(key=lambda r: (r["phase"] != "offline", r["offline_step"], r["step"]))
    offline = [r for r in rows if r["phase"] == "offline"]
    if args.online_steps == 0:  # an offline-only comparison: the run's offline phase
        rows = offline
    if offline[-1]["offline_step"] != args.offline_steps or rows[-1]["step"] != args.online_steps:
        raise SystemExit(f"the suite's {task} awac run (seed {seed}) has {offline[-1]['offline_step']} offline and "
                         f"{rows[-1]['step']} online steps, not the {args.offline_steps} and {args.online_steps} asked for")
    pairs = list(zip(offline, offline[1:]))[1:]  # the first interval holds compilation
    steps = [b["offline_step"] - a["offline_step"] for a, b in pairs]
    seconds = [n / b["steps_per_second"] for n, (_, b) in zip(steps, pairs)]
    rate = sum(steps) / sum(seconds) if steps and all(np.isfinite(seconds)) else float("nan")
    return {"rows": rows, "wall_seconds": rows[-1]["wall_time"], "offline_wall_seconds": offline[-1]["wall_time"],
            "offline_steps_per_second": rate, "from_suite": str(suite_dir)}


class _EnvServer:
    """The envs the worker acts on, in this process: guidedrl.envs.make_env(task)."""

    def __init__(self, task: str, seed: int):
        from guidedrl.envs import make_env
        from guidedrl.training.state import episode_seed

        self.envs = {"train": make_env(task), "eval": make_env(task)}
        self.episode_seed, self.seed, self.train_episodes = episode_seed, seed, 0

    def answer(self, message: dict) -> dict:
        env = self.envs[message["env"]]
        if message["op"] == "reset":
            seed = message.get("seed")
            if seed is None and message["env"] == "train":  # guidedrl's training episodes' seeds
                seed = self.episode_seed(self.seed, self.train_episodes)
                self.train_episodes += 1
            obs, _ = env.reset(seed=seed)
            return {"obs": np.asarray(obs, np.float64).reshape(-1).tolist()}
        action = np.clip(np.asarray(message["action"], np.float32), -1.0, 1.0)
        obs, reward, terminated, truncated, _ = env.step(action)
        return {"obs": np.asarray(obs, np.float64).reshape(-1).tolist(), "reward": float(reward),
                "terminated": bool(terminated), "truncated": bool(truncated)}

    def close(self):
        for env in self.envs.values():
            env.close()


def run_d3rlpy(task: str, seed: int, npz: Path, args, log: Path) -> dict:
    """d3rlpy's AWAC in its own process, its env served from here over a pipe."""
    from guidedrl.training.evaluate import EVAL_SEED_OFFSET

    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    worker_command = [args.d3rlpy_python, "-m", __spec__.name, "--worker", "--data", str(npz),
               "--hidden", args.hidden, "--batch", str(args.batch), "--seed", str(seed),
               "--offline-steps", str(args.offline_steps), "--offline-eval-every", str(args.offline_eval_every),
               "--online-steps", str(args.online_steps), "--eval-every", str(args.eval_every),
               "--eval-episodes", str(args.eval_episodes), "--eval-seed-offset", str(EVAL_SEED_OFFSET),
               *(["--d3rlpy-entropy-off"] if args.d3rlpy_entropy_off else []),
               "--fd-in", str(to_worker_r), "--fd-out", str(from_worker_w)]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(THREADS)
    server = _EnvServer(task, seed)
    started = time.perf_counter()
    with open(log, "w") as stderr:
        worker_process = subprocess.Popen(worker_command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                          cwd=ROOT, pass_fds=(to_worker_r, from_worker_w))
    os.close(to_worker_r)
    os.close(from_worker_w)
    requests, replies = os.fdopen(from_worker_r, "r"), os.fdopen(to_worker_w, "w")
    try:
        for line in requests:
            message = json.loads(line)
            reply = {} if message["op"] == "done" else server.answer(message)
            replies.write(json.dumps(reply) + "\n")
            replies.flush()
    finally:
        requests.close()
        replies.close()
        server.close()
    out, _ = worker_process.communicate()
    wall = time.perf_counter() - started
    if worker_process.returncode != 0:
        raise SystemExit(f"{shlex.join(worker_command)} failed ({worker_process.returncode}):\n"
                         f"{log.read_text()[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_seconds"] = wall
    result["offline_steps_per_second"] = (args.offline_steps / result["offline_train_seconds"]
                                          if args.offline_steps else float("nan"))
    return result


def _summary(rows: list) -> dict:
    offline = [r for r in rows if r["phase"] == "offline"]
    online = [r for r in rows if r["phase"] == "online" and r["step"] > 0]
    return {"offline_end": offline[-1]["eval_return"] if offline else float("nan"),
            "final": online[-1]["eval_return"] if online else float("nan")}


def _improvement(ours: list, theirs: list) -> str:
    """:func:`improvement_text` of a guidedrl run ending its offline phase higher than a d3rlpy run."""
    return improvement_text([s["offline_end"] for s in ours], [s["offline_end"] for s in theirs])


def table(results: dict) -> str:
    """Per task: medians over seeds of each side's offline-end return, offline gradient steps/s
    and offline-phase wall time (every seed), and of the final return and whole-run wall time
    (the seeds that fine-tuned online)."""
    lines = ["| task | dataset | seeds (online) | offline end: guidedrl | d3rlpy | final (online): guidedrl | "
             "d3rlpy | offline grad. steps/s: guidedrl | d3rlpy | offline phase s: guidedrl | d3rlpy | "
             "whole run s: guidedrl | d3rlpy | P(guidedrl's offline end higher) [95% CI] |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]

    def median(values):
        values = [v for v in values if v == v]
        return statistics.median(values) if values else float("nan")

    def fmt(value, digits=1):
        return "—" if value != value else f"{value:,.{digits}f}"

    for task, entry in results.items():
        runs = entry["seeds"]
        online = [r for r in runs if r.get("online_steps", entry["online_steps"])]
        ours = [_summary(r["guidedrl"]["rows"]) for r in runs]
        theirs = [_summary(r["d3rlpy"]["rows"]) for r in runs]
        lines.append(" | ".join([
            f"| {task}", f"`{entry['dataset']['id']}`", f"{len(runs)} ({len(online)})",
            fmt(median([s["offline_end"] for s in ours])), fmt(median([s["offline_end"] for s in theirs])),
            fmt(median([_summary(r["guidedrl"]["rows"])["final"] for r in online])),
            fmt(median([_summary(r["d3rlpy"]["rows"])["final"] for r in online])),
            fmt(median([r["guidedrl"]["offline_steps_per_second"] for r in runs]), 0),
            fmt(median([r["d3rlpy"]["offline_steps_per_second"] for r in runs]), 0),
            fmt(median([r["guidedrl"]["offline_wall_seconds"] for r in runs]), 0),
            fmt(median([r["d3rlpy"]["offline_seconds"] for r in runs]), 0),
            fmt(median([r["guidedrl"]["wall_seconds"] for r in online]), 0),
            fmt(median([r["d3rlpy"]["wall_seconds"] for r in online]), 0), _improvement(ours, theirs)]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_offline_options(parser)
    parser.add_argument("--online-steps", type=int, default=None,
                        help="online environment steps (default: the suite's, 100k, Pendulum 20k; 0: offline only)")
    parser.add_argument("--online-seeds", type=int, default=None,
                        help="only seeds below this fine-tune online; the others stop after the offline phase "
                             "(default: every seed)")
    parser.add_argument("--eval-every", type=int, default=2_000)
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--hidden", default="64,64")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--store", default=None, help="Minari store (default: bench/offline/minari if it exists)")
    parser.add_argument("--d3rlpy-python", default=str(ROOT / ".venv-d3rlpy" / "bin" / "python"))
    parser.add_argument("--guidedrl-from", type=Path, default=None,
                        help="take guidedrl's side from this offline suite output's awac runs (its results.csv) "
                             "instead of training it again")
    parser.add_argument("--d3rlpy-entropy-off", action="store_true",
                        help="diagnostic: d3rlpy's critic target without its entropy term (AWAC keeps SAC's "
                             "target, -log π(a'|s') at a temperature fixed at 1)")
    parser.add_argument("--guidedrl-actor-weight-decay", type=float, default=None,
                        help="diagnostic: guidedrl's actor weight decay (default: the config's, 1e-4); "
                             "guidedrl's side is then trained here, not taken from --guidedrl-from")
    parser.add_argument("--json", default=str(OUT / "results.json"))
    parser.add_argument("--markdown", default=None,
                        help="replace the d3rlpy-awac section of this file (with -entropy-off and/or "
                             "-weight-decay appended under the diagnostic flags)")
    # the worker's own arguments
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--eval-seed-offset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--fd-in", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fd-out", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:  # in .venv-d3rlpy
        from benchmarks.studies._d3rlpy_awac import fit_offline_then_online

        args.online_steps = args.online_steps or 0
        fit_offline_then_online(args)
        return

    if args.offline_steps % args.offline_eval_every and args.offline_steps > args.offline_eval_every:
        raise SystemExit("--offline-steps must be a multiple of --offline-eval-every (both sides evaluate there)")
    args.offline_eval_every = min(args.offline_eval_every, args.offline_steps) or 1
    if not Path(args.d3rlpy_python).exists():
        raise SystemExit(f"no d3rlpy interpreter at {args.d3rlpy_python}; make it with: python3 -m venv "
                         ".venv-d3rlpy && .venv-d3rlpy/bin/pip install torch==2.13.0 d3rlpy==2.8.1")
    from guidedrl.experiments.suites import DEFAULT_STEPS, OFFLINE_TASKS, STEPS

    store = Path(args.store) if args.store else (SUITE_STORE if SUITE_STORE.is_dir() else OUT / "minari")
    tasks = args.tasks or list(OFFLINE_TASKS)
    settings = {"hidden": args.hidden, "batch": args.batch, "offline_steps": args.offline_steps,
                "offline_eval_every": args.offline_eval_every, "eval_every": args.eval_every,
                "eval_episodes": args.eval_episodes, "online_steps": args.online_steps,
                "guidedrl_from": str(args.guidedrl_from), "d3rlpy_entropy_off": args.d3rlpy_entropy_off,
                "guidedrl_actor_weight_decay": args.guidedrl_actor_weight_decay}  # --seeds and --online-seeds may change between runs
    json_path = Path(args.json)
    done = {}  # (task, seed) -> its entry, from an earlier invocation with the same settings
    if json_path.exists():
        earlier = json.loads(json_path.read_text())
        # a JSON written before the diagnostic flags existed has no entry for them
        if {"d3rlpy_entropy_off": False, "guidedrl_actor_weight_decay": None,
                **earlier.get("meta", {}).get("settings", {})} == settings:
            for task, entry in earlier.get("results", {}).items():
                for seed_entry in entry["seeds"]:
                    done[(task, seed_entry["seed"])] = seed_entry
    import jax

    meta = {"command": command(__spec__.name), "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "jax": jax.__version__, "hidden": args.hidden, "batch": args.batch,
            "offline_steps": args.offline_steps, "eval_episodes": args.eval_episodes, "store": str(store),
            "settings": settings}
    results = {}
    ran = 0  # runs trained in this invocation

    def save() -> None:
        meta["load_average"] = os.getloadavg()
        for entry in results.values():
            if entry["seeds"] and "d3rlpy" not in meta:
                meta.update(d3rlpy=entry["seeds"][0]["d3rlpy"]["d3rlpy"], torch=entry["seeds"][0]["d3rlpy"]["torch"])
        write_json(json_path, {"meta": meta, "results": results}, default=float)

    for task in tasks:
        suite_online = args.online_steps if args.online_steps is not None else STEPS.get(task, DEFAULT_STEPS)
        wanted = [(seed, suite_online if args.online_seeds is None or seed < args.online_seeds else 0)
                  for seed in range(args.seeds)]

        def kept(seed: int, steps: int) -> bool:
            return (task, seed) in done and done[(task, seed)]["online_steps"] == steps

        if all(kept(seed, steps) for seed, steps in wanted):
            # every run is kept: the table needs neither the dataset nor d3rlpy
            results[task] = {**earlier["results"][task], "seeds": [done[(task, seed)] for seed, _ in wanted]}
            print(f"{task}: all {args.seeds} seeds kept from {json_path}", flush=True)
            continue
        record = ensure_dataset(task, store.resolve())
        print(f"{task}: dataset {record['id']}, {record['episodes']} episodes, {record['steps']} transitions, "
              f"mean return {record['mean_return']:.1f} (store {store})", flush=True)
        npz = convert(task, record["id"], store.resolve(), OUT / task)
        seeds = []
        results[task] = {"dataset": {k: record.get(k) for k in ("id", "episodes", "steps", "mean_return", "commands")},
                         "online_steps": suite_online, "seeds": seeds}
        for seed, online_steps in wanted:
            if kept(seed, online_steps):
                seeds.append(done[(task, seed)])
                print(f"  seed {seed}: kept from {json_path}", flush=True)
                continue
            task_args = argparse.Namespace(**{**vars(args), "online_steps": online_steps})
            if args.guidedrl_from is not None and args.guidedrl_actor_weight_decay is None:
                ours = suite_guidedrl(task, seed, task_args, args.guidedrl_from)
            else:
                ours = run_guidedrl(task, seed, task_args, OUT / task / f"guidedrl-s{seed}")
            theirs = run_d3rlpy(task, seed, npz, task_args, OUT / task / f"d3rlpy-s{seed}.log")
            print(f"  seed {seed}: offline end guidedrl {_summary(ours['rows'])['offline_end']:.1f}, "
                  f"d3rlpy {_summary(theirs['rows'])['offline_end']:.1f}; wall {ours['wall_seconds']:.0f} s"
                  f" and {theirs['wall_seconds']:.0f} s; d3rlpy's data: {theirs['alignment']['episodes']} episodes, "
                  f"{theirs['alignment']['transitions']} transitions, aligned", flush=True)
            seeds.append({"seed": seed, "online_steps": online_steps, "guidedrl": ours, "d3rlpy": theirs})
            ran += 1
            save()
    if ran:
        save()
    else:  # nothing trained now: the JSON and its record of when and where stay as they were
        meta = earlier["meta"]
    body = table(results)
    print(body)
    if args.markdown:
        section = "d3rlpy-awac" + ("-entropy-off" if args.d3rlpy_entropy_off else "") + (
            "-weight-decay" if args.guidedrl_actor_weight_decay is not None else "")
        write_section(Path(args.markdown), section, body, meta,
                      note="medians over seeds; wall time with evaluation; gradient steps/s without")


if __name__ == "__main__":
    main()
