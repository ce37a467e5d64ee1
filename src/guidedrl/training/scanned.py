"""The jitted training path for JAX environments, host side: what runs once per evaluation
interval around the device program of :mod:`guidedrl.training.scan_program`.

When the env is a :class:`~guidedrl.jaxenvs.base.JaxEnv` (``--env gymnax/Pendulum-v1``,
``--env jax/PointReach-v0``) and the guide a :class:`~guidedrl.jaxenvs.base.JaxGuide`, nothing of
a training step needs the host: the replay buffer is a device array, minibatches are drawn
inside the scan, and the host sees the run once per evaluation interval, to evaluate (itself one
jitted call: every episode of both policies side by side), log one metrics.csv row per seed and
checkpoint. The agent is the host path's (``agent.act``, ``agent.update_many``), so every
backbone, strategy and confidence runs here as there.

``--seeds K`` trains seeds ``seed .. seed + K - 1`` in one program, into ``OUT/seed<k>`` with
``OUT/seeds.json``; each seed's numbers are bit for bit those of a one-seed run of that seed
(tests/training/test_scanned.py).

Ctrl-C / SIGTERM ends the interval in progress, saves and raises ``TrainingInterrupted``.
Failures: a non-finite action, observation, reward or update is noted per seed at the first step
it happens; at the end of the interval the run is saved as it was at the interval's start and
:class:`~guidedrl.errors.TrainingFailed` names the seed and the step, as on the host path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from guidedrl import agent, checkpoint
from guidedrl.config import Config
from guidedrl.errors import CheckpointError, ConfigError, TrainingFailed
from guidedrl.jaxenvs.base import JaxEnv, JaxGuide
from guidedrl.training.failures import StopFlag
from guidedrl.training.logging import TIMING_COLUMNS, MetricsLogger, progress_bar, write_config
from guidedrl.training.scan_program import (Program, evaluate, initial_state, program_of, reset_interval,
                                            root_keys, run_interval)
from guidedrl.training.state import BASE_COLUMNS

SCAN = "scan.msgpack"
"""A scanned run's checkpoint holds its loop state (env state, episode counters) in this file."""

def requested(config: Config, env: Any = None) -> bool:
    """Whether a request trains on this path: a JAX env, or the resume of a run trained here."""
    from guidedrl.jaxenvs import is_jax_env
    from guidedrl.training.resolve import SEEDS_FILE

    if config.resume is not None:
        if (Path(config.resume) / SEEDS_FILE).is_file():
            return True
        try:
            return checkpoint.read_meta(config.resume).get("path") == "scanned"
        except CheckpointError:
            return False
    return is_jax_env(env if env is not None else config.env)


def train_jax(config: Config, guide: Any = None, env: Any = None, *, chosen=None, default_out: bool = False,
              say=None):
    """:func:`guidedrl.training.loop.train` for a JAX env: resolved as every run, trained by
    :func:`train_scanned` on seeds ``seed .. seed + seeds - 1``; returns the first seed's
    :class:`~guidedrl.training.run.Run` (``run.seed_runs``: every seed's)."""
    from guidedrl.training.resolve import resolve
    from guidedrl.training.run import Run

    resolved = resolve(config, guide, env, None, chosen=chosen, default_out=default_out, say=say)
    config, jax_env = resolved.config, resolved.train_env
    seeds = [config.seed + k for k in range(config.seeds)]
    bar = progress_bar(config, len(seeds)) if config.progress else None
    with bar if bar is not None else contextlib.nullcontext():
        on_evaluation = _bar_updater(bar, config) if bar is not None else None
        result = train_scanned(config, jax_env, resolved.guide, seeds, say=say, on_evaluation=on_evaluation)
    from guidedrl.jaxenvs.gym_wrapper import host_guide

    guide_on_host = host_guide(resolved.guide) if resolved.guide is not None else None  # run.act: the deployed policy
    runs = []
    for seed_config, state, history, directory in zip(result.configs, result.states, result.histories,
                                                      result.directories):
        run = Run(seed_config, state, jax_env.obs_dim, list(jax_env.action_low), list(jax_env.action_high),
                  guide=guide_on_host, directory=directory)
        run.history = history
        runs.append(run)
    runs[0].seed_runs = runs
    return runs[0]


def _bar_updater(bar, config: Config):
    """``on_evaluation`` for :func:`train_scanned` that moves ``bar`` on (the first seed's return
    and steps/s; the bar's clock runs while the first interval compiles)."""
    task = bar.add_task("train", total=config.steps, completed=0, ret=math.nan, sps=0.0)
    last = {"ret": math.nan}

    def update(rows):
        row = rows[0]
        if math.isfinite(row["train_return"]):
            last["ret"] = row["train_return"]
        sps = row["steps_per_second"]
        bar.update(task, completed=row["step"], ret=last["ret"], sps=sps if math.isfinite(sps) else 0.0)

    return update


@dataclasses.dataclass
class ScannedRun:
    """What :func:`train_scanned` returns: per seed, its config, final agent state and rows."""

    configs: List[Config]
    states: List[agent.AgentState]
    histories: List[List[dict]]
    directories: List[Optional[Path]]


def seed_directories(config: Config, seeds: Sequence[int]) -> List[Optional[Path]]:
    """Each seed's run directory: ``config.out`` itself for one seed, ``<out>/seed<k>`` for several."""
    if config.out is None:
        return [None] * len(seeds)
    if len(seeds) == 1:
        return [Path(config.out)]
    return [Path(config.out) / f"seed{seed}" for seed in seeds]


def check_config(config: Config) -> None:
    """Refuse what the scanned path does not run, before anything is written."""
    if config.dataset is not None or config.offline_steps:
        raise ConfigError("the jitted path for JAX envs has no offline phase: give --dataset to a Gymnasium env")
    if config.guidance == "jsrl":
        raise ConfigError("jsrl's curriculum is decided on the host between episodes: train it on a Gymnasium env")


def train_scanned(config: Config, env: JaxEnv, guide: Optional[JaxGuide], seeds: Sequence[int],
                  say=None, lanes: str = "map", directories: Optional[Sequence[Path]] = None,
                  resume: Optional[bool] = None, on_evaluation=None) -> ScannedRun:
    """Train ``len(seeds)`` runs of ``config`` (its seed replaced by each) on ``env`` in one
    process, one scanned program per evaluation interval; see the module's docstring.

    ``directories``: each seed's run directory (default: :func:`seed_directories`, with
    ``OUT/seeds.json``); ``resume``: continue each from its checkpoint (default: whether
    ``config.resume`` is set); ``on_evaluation(rows)``: called with every seed's row after each
    evaluation (the benchmark grid reports progress with it)."""
    check_config(config)
    seeds = [int(seed) for seed in seeds]
    program = program_of(config, env, guide, lanes)
    given_directories = directories is not None
    directories = [Path(d) for d in directories] if given_directories else seed_directories(config, seeds)
    if len(seeds) > 1 and config.out is not None and not given_directories:
        from guidedrl.training.resolve import SEEDS_FILE

        Path(config.out).mkdir(parents=True, exist_ok=True)
        (Path(config.out) / SEEDS_FILE).write_text(json.dumps(
            {"seeds": seeds, "directories": [str(d) for d in directories]}, indent=2))
    configs = [config.replace(seed=seed, out=None if d is None else str(d)) for seed, d in zip(seeds, directories)]
    keys = jax.tree_util.tree_map(lambda *k: jnp.stack(k), *[root_keys(seed) for seed in seeds])
    resuming = bool(config.resume) if resume is None else resume
    resumed = _resume(program, seeds, directories) if resuming else None
    if resumed is not None:
        states, step, histories = resumed
    else:
        states = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[initial_state(program, seed) for seed in seeds])
        step, histories = 0, [[] for _ in seeds]
    columns = list(BASE_COLUMNS) + list(program.metric_names) + list(TIMING_COLUMNS)
    loggers = _open_logs(configs, directories, columns, env, guide, resume_at=step if resumed else None)
    wall_start = time.perf_counter()
    wall_before = [float(h[-1]["wall_time"]) if h else 0.0 for h in histories]
    stop = StopFlag().__enter__()
    try:
        if step == 0 and not histories[0]:
            _evaluate_and_log(program, keys, states, configs, loggers, histories, 0, 0, 0.0, wall_before, wall_start)
        while step < config.steps:
            length = min(config.eval_every - step % config.eval_every, config.steps - step)
            clock = time.perf_counter()
            after = run_interval(program, keys, states, jnp.asarray(step, jnp.int32), length)
            failed = np.asarray(after.failed_at)
            if np.any(failed >= 0):
                _fail(program, configs, directories, states, step, seeds, failed, keys)
            jax.block_until_ready(after)
            elapsed = time.perf_counter() - clock
            states, step = after, step + length
            states = _evaluate_and_log(program, keys, states, configs, loggers, histories, step, length, elapsed,
                                       wall_before, wall_start)
            if on_evaluation is not None:
                on_evaluation([history[-1] for history in histories])
            if step % config.checkpoint_every < length or step == config.steps or stop.raised:
                _save(program, configs, directories, states, step, seeds)
            if stop.raised and step < config.steps:  # Ctrl-C, SIGTERM: the interval finished, saved
                from guidedrl.training.state import TrainingInterrupted

                raise TrainingInterrupted(Path(config.out) if config.out is not None else None, step)
    finally:
        stop.__exit__(None, None, None)
        for logger in loggers:
            if logger is not None:
                logger.close()
    agents = [jax.tree_util.tree_map(lambda x, i=i: np.asarray(x[i]), states.agent) for i in range(len(seeds))]
    return ScannedRun(configs, agents, histories, directories)


def _open_logs(configs, directories, columns, env, guide, resume_at):
    loggers = []
    for config, directory in zip(configs, directories):
        if directory is None:
            loggers.append(None)
            continue
        directory.mkdir(parents=True, exist_ok=True)
        write_config(directory, {**config.to_dict(), "obs_dim": env.obs_dim, "action_dim": env.action_dim,
                                 "guide": None if guide is None else guide.name, "path": "scanned"})
        loggers.append(MetricsLogger(directory, columns, resume_at=None if resume_at is None else (0, resume_at)))
    return loggers


def _evaluate_and_log(program, keys, states, configs, loggers, histories, step, length, elapsed, wall_before,
                      wall_start):
    config = program.config
    deployed, catastrophes = (np.asarray(x) for x in evaluate(program, keys, states, config.eval_episodes, False))
    if program.guide is not None and config.guidance != "none":
        free = np.asarray(evaluate(program, keys, states, config.eval_episodes, True)[0])
    else:
        free = deployed
    sums = {n: np.asarray(v) for n, v in states.metric_sums.items()}
    counts = {n: np.asarray(v) for n, v in states.metric_counts.items()}
    returns_sum, returns_count = np.asarray(states.returns_sum), np.asarray(states.returns_count)
    guide_steps = np.asarray(states.guide_steps)
    train_episodes, train_catastrophes = np.asarray(states.train_episodes), np.asarray(states.train_catastrophes)
    gradient_steps = np.asarray(states.agent.gradient_steps)
    now = time.perf_counter()
    for i, (logger, history) in enumerate(zip(loggers, histories)):
        row: Dict[str, Any] = {
            "step": step, "phase": "online", "offline_step": 0,
            "eval_return": float(deployed[i].mean()), "eval_return_std": float(deployed[i].std()),
            "eval_return_guide_free": float(free[i].mean()), "eval_catastrophes": int(catastrophes[i].sum()),
            "train_episodes": int(train_episodes[i]),
            "train_return": float(returns_sum[i] / returns_count[i]) if returns_count[i] else math.nan,
            "train_catastrophes": int(train_catastrophes[i]),
            "guide_usage": float(guide_steps[i] / length) if length else 0.0,
            "gradient_steps": int(gradient_steps[i]),
            "steps_per_second": length / elapsed if elapsed > 0 and length else math.nan,
            "wall_time": wall_before[i] + (now - wall_start),
        }
        for name in program.metric_names:
            row[name] = float(sums[name][i] / counts[name][i]) if counts[name][i] else math.nan
        if logger is not None:
            logger.log(row)
        history.append(row)
    return reset_interval(states)


def _meta(program: Program, config: Config, step: int, seeds: Sequence[int]) -> dict:
    from guidedrl.version import __version__

    env = program.env
    return {"guidedrl_version": __version__, "config": {**config.to_dict(), "trust_code": False},
            "obs_dim": env.obs_dim, "action_dim": env.action_dim, "action_low": list(env.action_low),
            "action_high": list(env.action_high), "guide": None if program.guide is None else program.guide.name,
            "step": step, "path": "scanned", "seeds": list(seeds)}


def _take(tree, i):
    return jax.tree_util.tree_map(lambda x: np.asarray(x[i]), tree)


def _save(program, configs, directories, states, step, seeds) -> None:
    for i, (config, directory) in enumerate(zip(configs, directories)):
        if directory is None:
            continue
        state = _take(states, i)
        size, layout = int(state.size), program.layout
        rows = state.storage[:size]
        replay = {"capacity": program.capacity, "position": int(state.position), "size": size,
                  "data": {name: rows[:, lo] if scalar else rows[:, lo:hi] for name, lo, hi, scalar in layout}}
        target = directory / checkpoint.IN_RUN
        checkpoint.save_checkpoint(target, _meta(program, config, step, seeds), state.agent, replay)
        loop_state = state.replace(agent=None, storage=None)
        checkpoint.write_file(target / SCAN, serialization.to_bytes(loop_state))


def _resume(program, seeds, directories):
    """(states, step, histories) from each seed's checkpoint."""
    loaded, steps, histories = [], [], []
    for seed, directory in zip(seeds, directories):
        found = checkpoint.find_checkpoint(directory) if directory is not None else None
        if found is None:
            raise CheckpointError(f"no checkpoint to resume in {str(directory)!r}")
        meta = checkpoint.read_meta(found)
        if meta.get("path") != "scanned":
            raise CheckpointError(f"{str(found)!r} was written by the host loop: resume it without --seeds")
        template = initial_state(program, seed)
        agent_state = checkpoint.load_agent_state(meta, template.agent)
        replay = checkpoint.load_replay_state(meta)
        storage = np.zeros(template.storage.shape, np.float32)
        for name, lo, hi, scalar in program.layout:
            values = np.asarray(replay["data"][name], np.float32)
            storage[:len(values), lo:hi] = values.reshape(len(values), hi - lo)
        loop_state = serialization.from_bytes(template.replace(agent=None, storage=None),
                                              (Path(meta["directory"]) / SCAN).read_bytes())
        loaded.append(loop_state.replace(agent=agent_state, storage=jnp.asarray(storage)))
        steps.append(int(meta["step"]))
        histories.append([row for row in _read_rows(directory) if int(row["step"]) <= int(meta["step"])])
    if len(set(steps)) != 1:
        raise CheckpointError(f"the seeds' checkpoints are at different steps {steps}")
    states = jax.tree_util.tree_map(lambda *x: jnp.stack([jnp.asarray(v) for v in x]), *loaded)
    return states, steps[0], histories


def _read_rows(directory: Path) -> List[dict]:
    from guidedrl.training.logging import read_metrics

    return [{k: (float(v) if k == "wall_time" else v) for k, v in row.items()} for row in read_metrics(directory)]


def _fail(program, configs, directories, states, step, seeds, failed, keys) -> None:
    """Save every seed at the interval's start and raise TrainingFailed naming the failing ones."""
    bad = [(seeds[i], int(at)) for i, at in enumerate(failed) if at >= 0]
    saved = directories[0] is not None
    if saved:
        _save(program, configs, directories, states, step, seeds)
    where = ", ".join(f"seed {seed} at step {at}" for seed, at in bad)
    resume = (f"; the run is saved at step {step}; once fixed, resume with: guidedrl train --resume "
              f"{configs[0].out if len(seeds) == 1 else str(Path(configs[0].out).parent)}" if saved else "")
    raise TrainingFailed(f"a non-finite value in the action, the env's step or the update ({where}){resume}",
                         "the update", step, directories[0], saved)
