"""The built-in tasks' starting point: each guide alone, SAC without a guide, and env speed.

    python -m benchmarks.studies.envs --alone   # each default guide alone, 20 episodes
    python -m benchmarks.studies.envs --speed   # env steps/s with random actions, vs bare physics and dm_control
    python -m benchmarks.studies.envs --sac --seeds 0 1 2 --steps 20000   # SAC without a guide, 3 seeds
    (--tasks A B ... trains only those; the table takes every task whose runs are finished)

``--alone`` writes the numbers ``guidedrl envs`` shows (src/guidedrl/envs/guides/alone.json,
measured and stored by ``guidedrl.experiments.alone``);
every part writes its raw JSON to docs/results/ and its table into docs/RESULTS.md (or
docs/PERFORMANCE.md for speed) between markers. SAC runs go to ``--out`` and an interrupted
invocation resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

from guidedrl.envs import TASKS, default_guide, make_env, stored_alone
from guidedrl.experiments.alone import alone_record, measure_guides_alone, store_alone
from guidedrl.experiments.stats import mean_interval
from guidedrl.training.logging import read_metrics

from benchmarks.common import ROOT, command, meta, run_or_resume, write_section

BUILT_IN = [task_id for task_id in TASKS if task_id != "Pendulum-v1"]


def alone(episodes: int, command_line: str) -> None:
    def report(task_id: str, r: dict, seconds: float) -> None:
        print(f"{task_id}: {r['mean_return']:.1f} ± {r['std_return']:.1f}, {r['catastrophes']} catastrophes "
              f"({seconds:.0f} s)", flush=True)

    results = measure_guides_alone(episodes, report)
    record = alone_record(results, command_line)
    store_alone(record)
    store_alone(record, ROOT / "docs/results/envs_alone.json")
    lines = ["| task | guide | guide alone: return (mean ± std) | catastrophes / episodes | mean episode length |",
             "|---|---|---|---|---|"]
    for task_id, r in results.items():
        lines.append(f"| {task_id} | {default_guide(task_id).name} | {r['mean_return']:.1f} ± {r['std_return']:.1f} "
                     f"| {r['catastrophes']} / {r['episodes']} | {r['mean_length']:.0f} |")
    write_section(ROOT / "docs/RESULTS.md", "envs-alone", "\n".join(lines), meta(command_line),
                  note=f"deterministic episodes seeded {10_000}..{10_000 + episodes - 1}, the guide's policy at every step")


MUJOCO_VERSIONS = {"SafeCartpole-v0": "guidedrl.envs.mj:SafeCartpole", "PointMass-v0": "guidedrl.envs.mj:PointMass",
                   "BallInCup-v0": "guidedrl.envs.mj:BallInCup"}
"""The dm_control tasks written on MuJoCo directly (the point robots' registered envs already are)."""
DM_CONTROL_VERSIONS = {"SafeCartpole-v0": "guidedrl.envs.dm:SafeCartpole", "PointMass-v0": "guidedrl.envs.dm:PointMass",
                       "BallInCup-v0": "guidedrl.envs.dm:BallInCup"}
"""The same tasks on dm_control (the reference tests/envs/test_mj.py compares them with)."""


def _made(task_id: str, entry_point: str):
    """The env at ``entry_point`` as ``make_env`` makes a registered task: Gymnasium's wrappers
    (time limit, order enforcing, passive checker), then guidedrl's."""
    spec = gym.envs.registration.EnvSpec(id=f"bench/{task_id}", entry_point=entry_point,
                                         max_episode_steps=TASKS[task_id].max_episode_steps)
    return make_env(gym.make(spec))


def _steps_per_second(step, reset, actions, seconds: float) -> float:
    """Steps per second of ``step(action)`` over ``seconds`` (``reset()`` when it returns True)."""
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            if step(actions[steps % len(actions)]):
                reset()
            steps += 1
    return steps / (time.perf_counter() - started)


def _env_runner(env, episode_steps: int):
    """step and reset of ``env``, ending episodes after ``episode_steps`` also when unwrapped."""
    env.reset(seed=0)
    count = [0]

    def step(action):
        _, _, terminated, truncated, _ = env.step(action)
        count[0] += 1
        return terminated or truncated or count[0] >= episode_steps

    def reset():
        count[0] = 0
        env.reset()
    return step, reset


def _physics_runner(env):
    """The env's own physics, bare: ``mj_step`` x substeps on a fresh MjData of its model, the
    action written to ``data.ctrl`` (so the same motion, hence the same contacts), nothing else."""
    model, substeps = env.unwrapped.model, env.unwrapped.n_sub_steps
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)

    def step(action):
        data.ctrl[:] = action
        mujoco.mj_step(model, data, substeps)
        return False
    return step, None


def speed(seconds: float, rounds: int, command_line: str) -> None:
    """Env steps/s with random actions: each task's env unwrapped and through guidedrl's wrappers,
    its bare physics, and the dm_control version where there is one; measurements alternate over
    ``rounds`` rounds and each is the median of its rounds."""
    results = {}
    for task_id in TASKS:
        entry = MUJOCO_VERSIONS.get(task_id, TASKS[task_id].entry_point)
        wrapped, episode_steps = _made(task_id, entry), TASKS[task_id].max_episode_steps
        runners = {"env": _env_runner(_made(task_id, entry).unwrapped, episode_steps),
                   "env_wrapped": _env_runner(wrapped, episode_steps)}
        if hasattr(wrapped.unwrapped, "model"):
            runners["physics"] = _physics_runner(wrapped)
        if task_id in DM_CONTROL_VERSIONS:
            runners["dm_control"] = _env_runner(_made(task_id, DM_CONTROL_VERSIONS[task_id]), episode_steps)
        wrapped.action_space.seed(0)
        actions = [wrapped.action_space.sample() for _ in range(1000)]
        rates = {name: [] for name in runners}
        for _ in range(rounds):
            for name, (step, reset) in runners.items():
                rates[name].append(_steps_per_second(step, reset, actions, seconds / rounds))
        results[task_id] = {name: float(np.median(values)) for name, values in rates.items()}
        print(f"{task_id}: " + ", ".join(f"{name} {value:.0f}" for name, value in results[task_id].items()), flush=True)
    (ROOT / "docs/results/envs_speed.json").write_text(json.dumps(
        {**meta(command_line), "seconds": seconds, "rounds": rounds, "steps_per_second": results}, indent=1) + "\n")

    def rate(r, name):
        return f"{r[name]:,.0f}" if name in r else "—"

    def ratio(r, name, over):
        return f"{r[name] / r[over]:.2f}" if name in r and over in r else "—"
    lines = ["| task | bare physics (mj_step × substeps) | env | env / physics | env through guidedrl's wrappers "
             "| wrapped / physics | dm_control version, wrapped | speed-up over dm_control (wrapped) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {task_id} | {rate(r, 'physics')} | {rate(r, 'env')} | {ratio(r, 'env', 'physics')} "
              f"| {rate(r, 'env_wrapped')} | {ratio(r, 'env_wrapped', 'physics')} | {rate(r, 'dm_control')} "
              f"| {ratio(r, 'env_wrapped', 'dm_control')} |" for task_id, r in results.items()]
    write_section(ROOT / "docs/PERFORMANCE.md", "envs-speed", "\n".join(lines), meta(command_line),
                  note=f"steps/s with random actions, {seconds:g} s per env and task in {rounds} alternating rounds "
                       f"of {seconds / rounds:g} s, medians; one process; the dm_control tasks' env is "
                       "guidedrl.envs.mj, on MuJoCo directly")


def sac(tasks, seeds, steps: int, out: Path, command_line: str) -> None:
    """Train SAC (no guide) on ``tasks``; then tabulate every task whose runs are all finished."""
    for task_id in tasks:
        for seed in seeds:
            run_or_resume(out / f"{task_id}-sac-s{seed}", steps, env=task_id, algo="sac", guidance="none",
                          seed=seed)
    stored = stored_alone()
    results = {}
    for task_id in BUILT_IN:
        runs = [read_metrics(out / f"{task_id}-sac-s{seed}") for seed in seeds]
        if not all(rows and int(rows[-1]["step"]) >= steps for rows in runs):
            continue
        results[task_id] = {"final_eval_return": [float(rows[-1]["eval_return"]) for rows in runs],
                            "train_catastrophes": [int(rows[-1]["train_catastrophes"]) for rows in runs],
                            "train_episodes": [int(rows[-1]["train_episodes"]) for rows in runs],
                            "wall_time": [float(rows[-1]["wall_time"]) for rows in runs]}
    payload = {**meta(command_line), "steps": steps, "seeds": list(seeds), "runs": results}
    (ROOT / "docs/results/envs_sac.json").write_text(json.dumps(payload, indent=1) + "\n")
    lines = [f"| task | guide alone: return | guide alone: catastrophes / episodes | SAC at {steps // 1000}k steps: "
             "eval return, mean [95% CI] | per seed | SAC: training catastrophes / episodes, per seed |",
             "|---|---|---|---|---|---|"]
    for task_id, r in results.items():
        mean, lo, hi = mean_interval(r["final_eval_return"])
        g = stored.get(task_id, {})
        guide = f"{g['mean_return']:.1f} ± {g['std_return']:.1f}" if g else "—"
        guide_cat = f"{g['catastrophes']} / {g['episodes']}" if g else "—"
        lines.append(f"| {task_id} | {guide} | {guide_cat} | {mean:.1f} [{lo:.1f}, {hi:.1f}] | "
                     f"{', '.join(f'{v:.1f}' for v in r['final_eval_return'])} | "
                     f"{', '.join(f'{c} / {e}' for c, e in zip(r['train_catastrophes'], r['train_episodes']))} |")
    write_section(ROOT / "docs/RESULTS.md", "envs-sac", "\n".join(lines), meta(command_line),
                  note="final evaluation (5 deterministic episodes) of each seed; 95% percentile-bootstrap "
                       "interval of the mean over seeds; guide alone from `python -m benchmarks.studies.envs --alone`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alone", action="store_true")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--sac", action="store_true")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0, help="--speed: seconds per env and task")
    parser.add_argument("--rounds", type=int, default=5, help="--speed: alternating rounds (medians)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--tasks", nargs="+", default=BUILT_IN, choices=BUILT_IN, help="tasks to train SAC on")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/envs")
    args = parser.parse_args()
    command_line = command(__spec__.name)
    if args.alone:
        alone(args.episodes, command_line)
    if args.speed:
        speed(args.seconds, args.rounds, command_line)
    if args.sac:
        sac(args.tasks, args.seeds, args.steps, args.out.resolve(), command_line)


if __name__ == "__main__":
    main()
