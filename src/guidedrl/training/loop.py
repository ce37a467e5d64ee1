"""The host training loop for any Gymnasium env with a Box action space, in named phases.

:func:`train` reads top to bottom as its phases:

* **set up** (:func:`setup`): the config (or the checkpoint being resumed), the envs, the
  guide, the run directory's lock, the agent state (fresh or restored), the dataset (read,
  checked and given the guide's fields, :func:`load_dataset`), the current episode and the
  run's files;
* **the offline phase** (:func:`offline_phase`), with a ``dataset`` and ``offline_steps``:
  gradient steps on the dataset alone, ``offline_chunk`` at a time in one jitted ``lax.scan``
  that samples its minibatches itself (:func:`offline_update`), evaluated every
  ``offline_eval_every`` gradient steps and checkpointed like the online phase;
* **one training step** (:func:`training_step`): the behaviour action, one environment step
  with the guide asked about the new state (:func:`step_env`, the one place user code runs),
  the transition stored, and every ``train_every`` steps ``train_every * updates_per_step``
  gradient steps in one jitted call that also acts at the next state (:func:`learn`);
* **evaluate and log** (:func:`evaluate_and_log`) every ``eval_every`` steps: the deployed
  policy and the guide-free actor, one metrics.csv row;
* **checkpoint** (:func:`save_checkpoint`) every ``checkpoint_every`` steps, at the end, and
  on Ctrl-C / SIGTERM, so ``--resume`` continues exactly.

A training step is all or nothing. When the guide or the env raises or returns a non-finite
value, or the update produces one, the step is taken back (the replay buffer, the counters,
the random streams and the agent state as they were before it), the run is checkpointed at
that state and :class:`~guidedrl.errors.TrainingFailed` says what failed, at which step, and
how to resume once it is fixed; a resumed run then continues exactly as an uninterrupted one
would have. A file that cannot be written (a full disk) raises
:class:`~guidedrl.errors.WriteError` naming it; the last good checkpoint stays intact.

Resuming restores the interrupted episode too: training episodes reset with a seed derived
from (seed, episode index), so the loop resets with that seed and replays the episode's stored
actions, which puts a deterministic env back in the state it was in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from guidedrl import agent
from guidedrl.config import DEFAULT_GUIDE, Config
from guidedrl.envs import action_bounds, check_env_id, env_id_of, is_factory, make_env
from guidedrl.errors import CheckpointError, ConfigError, EnvError, GuidedRLError, TrainingFailed, WriteError
from guidedrl.guidance import get_strategy
from guidedrl.guides.base import GuideError, run_alone
from guidedrl.names import resolve_guide
from guidedrl.replay import ReplayBuffer, unflatten
from guidedrl.training import checkpoint
from guidedrl.training.evaluate import EVAL_SEED_OFFSET, evaluate_policies, guide_fields
from guidedrl.training.flat import Packing, pack
from guidedrl.training.lock import RunLock
from guidedrl.training.logging import TIMING_COLUMNS, MetricsLogger, write_config
from guidedrl.training.run import Run, state_template
from guidedrl.types import EpisodeClock, GuideFields

BASE_COLUMNS = (
    "step",
    "phase",
    "offline_step",
    "eval_return",
    "eval_return_std",
    "eval_return_guide_free",
    "eval_catastrophes",
    "train_episodes",
    "train_return",
    "train_catastrophes",
    "guide_usage",
    "gradient_steps",
)


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after a checkpoint was written because the run was interrupted."""

    def __init__(self, directory: Optional[Path], step: int, offline_step: Optional[int] = None):
        self.directory, self.step, self.offline_step = directory, step, offline_step
        where = f"; resume with: guidedrl train --resume {directory}" if directory else ""
        at = f"offline step {offline_step}" if offline_step is not None else f"step {step}"
        super().__init__(f"training interrupted at {at}{where}")


# -- the two jitted calls of the loop --------------------------------------------------------
# ``behave`` acts; ``learn_and_behave`` runs the gradient steps and then acts at the next state
# with the updated agent, so a training step costs one dispatch. Both fold the step into their
# key the same way, so which of the two produced an action does not change the key stream.

PRNG_IMPL = "rbg"
"""Key implementation of the loop's random streams: XLA's RngBitGenerator draws the
(256, d)-sized noise of an update several times faster than threefry on a CPU."""


def behaviour_action(config, state, obs, guide_action, confidence, key, env_step, uniform, clock):
    """The behaviour action at one observation, and whether the guide gave it."""
    key = jax.random.fold_in(key, env_step)
    guide = GuideFields(guide_action[None], jnp.asarray(confidence, jnp.float32)[None])
    clock = EpisodeClock(clock.step[None], clock.horizon[None])
    action, from_guide = agent.act(config, state, obs[None], guide, key, False, uniform, env_step, clock)
    return action[0], from_guide[0]


# A jitted call also pays for each small array it takes and returns (tens of µs for a dozen
# scalars on a CPU), so what a step hands the device — the step, the warm-up flag, the
# observation and what the guide said — travels as one float32 vector (the step's int32 bits
# reinterpreted, so any step is exact), and what comes back — the action, whether the guide
# gave it, whether the update stayed finite, the update's metrics — as another.


def step_inputs(env_step: int, uniform: bool, obs: np.ndarray, guide_action: np.ndarray,
                confidence: float, episode_step: int = 0, horizon: int = 0) -> np.ndarray:
    """[step bits, uniform, confidence, episode step bits, horizon bits, obs..., guide action...]
    as one float32 vector (``episode_step`` and ``horizon``: the behaviour hook's EpisodeClock)."""
    head = np.array([env_step, 0, 0, episode_step, horizon], np.int32).view(np.float32)
    head[1], head[2] = float(uniform), float(confidence)
    return np.concatenate([head, np.asarray(obs, np.float32).reshape(-1),
                           np.asarray(guide_action, np.float32).reshape(-1)])


_HEAD = 5


def _unpack_inputs(inputs: jax.Array, action_dim: int):
    env_step, episode_step, horizon = (jax.lax.bitcast_convert_type(inputs[i], jnp.int32) for i in (0, 3, 4))
    obs = inputs[_HEAD:inputs.shape[0] - action_dim]
    return (env_step, inputs[1] > 0.5, inputs[2], obs, inputs[inputs.shape[0] - action_dim:],
            EpisodeClock(episode_step, horizon))


def behaviour_packed(config, state, inputs, key, action_dim):
    """:func:`behaviour_action` from :func:`step_inputs`' vector."""
    env_step, uniform, confidence, obs, guide_action, clock = _unpack_inputs(inputs, action_dim)
    return behaviour_action(config, state, obs, guide_action, confidence, key, env_step, uniform, clock)


def split_outputs(out: np.ndarray, action_dim: int, metric_names: List[str]):
    """(action, from_guide, finite, metrics) from the vector a jitted step call returns."""
    action = out[:action_dim]
    metrics = dict(zip(metric_names, out[action_dim + 2:].tolist()))
    return action, bool(out[action_dim] > 0.5), bool(out[action_dim + 1] > 0.5), metrics


@partial(jax.jit, static_argnames=("config", "packing", "action_dim"))
def behave(config, packing, flat_state, inputs, key, action_dim):
    """The behaviour action (and whether the guide gave it) at :func:`step_inputs`' state, with the
    agent state as the loop holds it (packed), as one vector [action..., from_guide]."""
    action, from_guide = behaviour_packed(config, packing.unpack(flat_state), inputs, key, action_dim)
    return jnp.concatenate([action, from_guide.astype(jnp.float32)[None]])


init_agent = jax.jit(agent.init, static_argnums=(0, 2, 3))


def all_finite(tree: Any) -> jax.Array:
    """Whether every floating-point value in ``tree`` is finite (one boolean)."""
    checks = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)
              if jnp.issubdtype(leaf.dtype, jnp.floating)]
    return jnp.all(jnp.stack(checks)) if checks else jnp.asarray(True)


def keep_if_finite(new_flat, old_flat, also_finite=True):
    """(``new_flat`` if it and ``also_finite`` are all finite, else ``old_flat``; whether they
    were): how a jitted call takes its update back when it produced a non-finite value."""
    finite = all_finite(new_flat) & also_finite
    # A conditional, not an elementwise select: XLA fuses the flag's cheap producers (the
    # behaviour action's random draw among them) into a select over the whole state and
    # recomputes them for each of its elements, which cost SAG 2.4x SAC's call at 256-256.
    return jax.lax.cond(finite, lambda: tuple(new_flat), lambda: tuple(old_flat)), finite


@partial(jax.jit, static_argnames=("config", "layout", "packing", "action_dim"), donate_argnames="flat_state")
def learn_and_behave(config, layout, packing, flat_state, flat_batches, learn_key, act_key, next_inputs,
                     action_dim):
    """``update_many`` over K minibatches (rows of the replay storage), then the behaviour
    action at the next state (``next_inputs``, :func:`step_inputs` of step ``env_step``) with the
    updated agent; the state comes and goes packed (:mod:`guidedrl.training.flat`).

    Returns ``(flat_state, out)``, ``out`` the vector [action..., from_guide, finite, metrics in
    sorted order...] (:func:`split_outputs`): when the update produced a non-finite value (in the
    new state or the action), ``finite`` is 0 and ``flat_state`` is the state before the update,
    so the run can be saved as it was."""
    env_step = _unpack_inputs(next_inputs, action_dim)[0]
    batches = unflatten(flat_batches, layout)
    new_state, metrics = agent.update_many(
        config, packing.unpack(flat_state), batches, jax.random.fold_in(learn_key, env_step), env_step
    )
    action, from_guide = behaviour_packed(config, new_state, next_inputs, act_key, action_dim)
    kept, finite = keep_if_finite(packing.pack(new_state), flat_state, jnp.all(jnp.isfinite(action)))
    flags = jnp.stack([from_guide, finite]).astype(jnp.float32)
    values = jnp.stack([jnp.asarray(metrics[name], jnp.float32) for name in sorted(metrics)])
    return kept, jnp.concatenate([action, flags, values])


@partial(jax.jit, static_argnames=("config", "layout", "packing", "num_steps", "batch_size"),
         donate_argnames="flat_state")
def offline_update(config, layout, packing, flat_state, dataset_rows, key, start, num_steps, batch_size):
    """``num_steps`` gradient steps on minibatches of ``batch_size`` drawn inside the call from ``dataset_rows``
    (the dataset's rows of the replay storage, on the device), the first being offline step
    ``start``: its key is ``key`` folded with ``start``. The state comes and goes packed.

    Returns ``(flat_state, metrics, finite)`` like :func:`learn_and_behave`: when the steps
    produced a non-finite value, ``finite`` is False and ``flat_state`` is the state before them."""
    count = dataset_rows.shape[0]

    def step(state, step_key):
        sample_key, update_key = jax.random.split(step_key)
        index = jax.random.randint(sample_key, (batch_size,), 0, count)
        return agent.update(config, state, unflatten(dataset_rows[index], layout), update_key, 0)

    keys = jax.random.split(jax.random.fold_in(key, start), num_steps)
    new_state, metrics = jax.lax.scan(step, packing.unpack(flat_state), keys)
    kept, finite = keep_if_finite(packing.pack(new_state), flat_state)
    return kept, jax.tree_util.tree_map(jnp.nanmean, metrics), finite


OFFLINE_KEY = 0x0FF1
"""The offline phase's key is the run's root key folded with this (independent of the others)."""


# -- the loop's records ------------------------------------------------------------------------


@dataclasses.dataclass
class Progress:
    """The loop's counters: everything besides agent, buffer and RNG that a resume needs."""

    step: int = 0
    offline_step: int = 0  # gradient steps of the offline phase done
    episode: int = 0
    episode_return: float = 0.0
    episode_length: int = 0
    train_episodes: int = 0
    train_catastrophes: int = 0
    wall_time: float = 0.0
    # since the last evaluation
    interval_start_step: int = 0
    interval_start_offline_step: int = 0
    interval_guide_steps: int = 0
    interval_returns: List[float] = dataclasses.field(default_factory=list)
    interval_metrics: List[Dict[str, float]] = dataclasses.field(default_factory=list)
    last_return: float = math.nan
    # the action already chosen for the current observation (by learn_and_behave), if any
    next_action: Optional[List[float]] = None
    next_from_guide: bool = False
    # the evaluation of this step failed and was not logged: a resume runs it first
    evaluation_pending: bool = False
    # the current episode's jump-start horizon (JSRL's curriculum; 0 for every other strategy)
    horizon: int = 0


@dataclasses.dataclass
class Outcome:
    """What one environment step gave, before any of it is recorded."""

    next_obs: np.ndarray
    reward: float
    terminated: bool
    truncated: bool
    info: dict
    next_guide_action: np.ndarray
    next_confidence: float
    obs: np.ndarray  # the observation the next step acts on: next_obs, or the reset's
    guide_action: np.ndarray
    confidence: float
    cost: float = -1.0  # the catastrophe label (catastrophe_label): 1, 0, or -1 when the env reports none

    @property
    def done(self) -> bool:
        return bool(self.terminated or self.truncated)


@dataclasses.dataclass
class Loop:
    """A run in progress: everything the phases share."""

    config: Config
    strategy: Any
    guide: Any
    train_env: gym.Env
    eval_envs: List[gym.Env]
    buffer: ReplayBuffer
    rng: np.random.Generator
    progress: Progress
    run: Run
    out: Optional[Path]
    lock: Optional[RunLock]
    act_key: jax.Array
    learn_key: jax.Array
    saved_step: Optional[int]  # the step of the last good checkpoint on disk
    packing: Optional[Packing] = None  # the agent state between jitted calls: packed buffers
    flat_state: Any = None
    obs: np.ndarray = None
    guide_action: np.ndarray = None
    confidence: float = 0.0
    logger: Optional[MetricsLogger] = None
    metric_names: List[str] = dataclasses.field(default_factory=list)
    rows: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    pending_metrics: List[Any] = dataclasses.field(default_factory=list)
    clock_start: float = 0.0
    interval_clock: float = 0.0
    on_evaluation: Optional[Callable[[Dict[str, Any], Run], None]] = None
    offline_key: Any = None
    curriculum: Any = None  # the strategy's host-side curriculum (JSRL), if it has one

    @property
    def action_dim(self) -> int:
        return self.run.action_dim

    @property
    def offline(self) -> bool:
        """Whether the run is (still) in its offline phase: its gradient steps are not all done,
        or no environment step has been taken after them (the offline-end row is offline)."""
        return self.config.offline_steps > 0 and self.progress.step == 0


class StepFailed(Exception):
    """Raised inside a phase when user code or the update failed; the phase has already taken
    back what it changed. ``source`` names the failing part, ``cause`` is its exception."""

    def __init__(self, source: str, cause: BaseException, during: str):
        super().__init__(source)
        self.source, self.cause, self.during = source, cause, during


class NonFinite(ValueError):
    """A non-finite value where a finite one is needed."""


# -- the loop --------------------------------------------------------------------------------


def train(
    config: Config,
    guide: Any = None,
    env: Union[str, gym.Env, None] = None,
    eval_env: Union[str, gym.Env, None] = None,
    on_evaluation: Optional[Callable[[Dict[str, Any], Run], None]] = None,
) -> Run:
    """Train an agent as ``config`` says and return it as a :class:`Run`.

    ``env`` overrides ``config.env`` with an id or an ``Env`` instance; ``eval_env`` is
    the env evaluations run on (default: a fresh copy of ``env``). With ``config.out``
    None, nothing is written to disk. Every check on the inputs runs before anything is
    written. ``on_evaluation(row, run)``, if given, is called after each evaluation with the
    logged row and the run at that step (e.g. to keep a snapshot of the policy).

    Raises :class:`~guidedrl.errors.TrainingFailed` (after checkpointing the last consistent
    state) when the guide, the env or the update fails, :class:`~guidedrl.errors.WriteError`
    when a file cannot be written, and :class:`TrainingInterrupted` on Ctrl-C / SIGTERM.
    """
    loop = setup(config, guide, env, eval_env, on_evaluation)
    config = loop.config
    bar = _progress_bar(config) if config.progress else None
    try:
        with _StopFlag() as stop, (bar if bar is not None else contextlib.nullcontext()):
            task = bar.add_task("train", total=config.steps, completed=loop.progress.step,
                                ret=loop.progress.last_return, sps=0.0) if bar else None
            if loop.progress.evaluation_pending:  # the step-0 row, or one a failure cut short
                guarded(loop, evaluate_and_log)
                if loop.progress.step > 0 or loop.progress.offline_step > 0:
                    checkpoint_if_due(loop)
            if loop.progress.offline_step < config.offline_steps:
                offline_phase(loop, stop, bar)
            while loop.progress.step < config.steps:
                if stop.raised:
                    interrupt(loop)
                guarded(loop, training_step)
                step = loop.progress.step
                if step % config.eval_every == 0 or step == config.steps:
                    loop.progress.evaluation_pending = True
                    guarded(loop, evaluate_and_log)
                checkpoint_if_due(loop)
                if bar is not None and (step % 200 == 0 or step == config.steps):
                    bar.update(task, completed=step, ret=loop.progress.last_return, sps=_rate(loop))
    finally:
        close(loop)
    loop.run.history = loop.rows
    return loop.run


# -- the offline phase -----------------------------------------------------------------------


def offline_phase(loop: Loop, stop: "_StopFlag", bar: Any) -> None:
    """Gradient steps on the dataset alone up to ``offline_steps``, in chunks that end on every
    evaluation and checkpoint boundary (so a resumed run draws the same chunks), each followed
    by the evaluation and checkpoint due there; the last one is always evaluated and saved."""
    config, progress = loop.config, loop.progress
    task = bar.add_task("offline", total=config.offline_steps, completed=progress.offline_step,
                        ret=math.nan, sps=0.0) if bar is not None else None
    rows = jax.device_put(loop.buffer.storage[: loop.buffer.dataset_size])
    while progress.offline_step < config.offline_steps:
        if stop.raised:
            interrupt(loop)
        guarded(loop, lambda loop: offline_chunk(loop, rows))
        done = progress.offline_step
        if done % config.offline_evaluation_interval == 0 or done == config.offline_steps:
            progress.evaluation_pending = True
            guarded(loop, evaluate_and_log)
        if done % config.checkpoint_every == 0 or done == config.offline_steps:
            save_checkpoint(loop)
        if bar is not None:
            last = loop.rows[-1]["eval_return"] if loop.rows else math.nan
            bar.update(task, completed=done, ret=last, sps=_rate(loop))


def next_offline_boundary(config: Config, done: int) -> int:
    """Where the chunk starting at offline step ``done`` ends: the next multiple of the chunk
    length, the evaluation interval or the checkpoint interval, or the phase's end."""
    def following(every: int) -> int:
        return (done // every + 1) * every

    return min(following(config.offline_chunk), following(config.offline_evaluation_interval),
               following(config.checkpoint_every), config.offline_steps)


def offline_chunk(loop: Loop, rows: jax.Array) -> None:
    """One jitted call of offline gradient steps; on a non-finite result the state is as before."""
    config, progress = loop.config, loop.progress
    start = progress.offline_step
    count = next_offline_boundary(config, start) - start
    try:
        loop.flat_state, metrics, finite = offline_update(
            config.agent, loop.buffer.layout, loop.packing, loop.flat_state, rows, loop.offline_key,
            start, count, config.minibatch_size)
        loop.run.set_packed(loop.packing, loop.flat_state)
        if not bool(finite):
            raise NonFinite("a non-finite value in the agent's parameters after the offline gradient steps")
    except Exception as error:
        raise StepFailed("the update", error, "offline") from error
    progress.offline_step += count
    loop.pending_metrics.append(metrics)


# -- set up ----------------------------------------------------------------------------------


def setup(config: Config, guide: Any, env: Union[str, gym.Env, None], eval_env: Union[str, gym.Env, None],
          on_evaluation: Optional[Callable] = None) -> Loop:
    """Every check, the lock, the agent state, the current episode and the run's files, in that
    order: nothing is written before the checks pass, and nothing is left behind if set-up fails."""
    config, resume_meta = resolve_config(config)
    strategy = get_strategy(config.guidance)
    if not strategy.uses_guide and config.guide == DEFAULT_GUIDE:
        config = config.replace(guide=None)  # the implicit default guide means nothing without guidance
    if env is None and resume_meta is not None:  # the env id came from the checkpoint's files
        check_env_id(config.env, config.trust_code, os.path.join(resume_meta["directory"], checkpoint.META))
    source = env if env is not None else config.env
    modes = 2 if strategy.uses_guide else 1  # the deployed policy, and the actor alone beside it
    train_env, eval_envs = build_envs(source, eval_env, modes * config.eval_episodes)
    if env is not None:  # an instance or a factory: the id of the env it made
        config = config.replace(env=env_id_of(train_env.unwrapped if is_factory(env) else env))
    if config.confidence == "risk" and not reports_catastrophes(eval_envs[0], config.seed):
        import warnings

        warnings.warn(f"the env {config.env!r} reports no info['catastrophe'] or info['cost']: the risk "
                      "confidence has nothing to learn its risk from and runs as q-gap", RuntimeWarning)
        config = config.replace(confidence="q-gap")
    if guide is not None and config.guide is not None:
        config = config.replace(guide=None)  # a guide object from Python: nothing a file can name
    guide = bind_guide(config, strategy, guide, train_env, resume_meta)
    out = Path(config.out).resolve() if config.out is not None else None
    lock = None
    if out is not None:
        check_out_dir(out, resuming=True)  # can it be written at all
        lock = RunLock(out).acquire()  # the first thing written, so a second process is told who owns it
    try:
        if out is not None:
            check_out_dir(out, resuming=resume_meta is not None)  # a run may have ended there meanwhile
        loop = restore_or_init(config, strategy, guide, train_env, eval_envs, resume_meta, out, lock)
        if config.dataset is not None and resume_meta is None:  # a resumed buffer holds it already
            load_dataset(loop)
        loop.on_evaluation = on_evaluation
        start_episode(loop)
        open_files(loop, resuming=resume_meta is not None)
    except BaseException:
        if lock is not None:
            lock.abandon()
        raise
    if loop.progress.step == 0 and resume_meta is None:
        loop.progress.evaluation_pending = True  # the step-0 row
    return loop


def resolve_config(config: Config) -> Tuple[Config, Optional[dict]]:
    """The config to run: ``config`` itself, or the resumed run's saved one (with this call's
    ``progress``, ``debug`` and ``trust_code``, and the guide if it is named again)."""
    if config.resume is None:
        return config, None
    meta = checkpoint.read_meta(config.resume)
    if meta.get("kind") != "training":
        raise CheckpointError(
            f"checkpoint {meta['directory']!r} is a policy checkpoint; resuming needs a run's training checkpoint"
        )
    saved = Config.from_dict(meta["config"])
    named = config.guide if config.guide not in (None, DEFAULT_GUIDE) else None
    resumed = saved.replace(resume=config.resume, out=str(Path(meta["directory"]).parent),
                            progress=config.progress, debug=config.debug, trust_code=config.trust_code,
                            **({"guide": named} if named is not None else {}))
    meta["guide_named_again"] = named is not None
    return resumed, meta


def build_envs(source: Union[str, gym.Env], eval_source: Union[str, gym.Env, None],
               episodes: int) -> Tuple[gym.Env, List[gym.Env]]:
    """The training env and one evaluation env per evaluation episode (run side by side)."""
    train_env = make_env(source)
    eval_source = eval_source if eval_source is not None else source
    return train_env, [make_env(eval_source, copy_instance=True) for _ in range(episodes)]


def reports_catastrophes(env: gym.Env, seed: int) -> bool:
    """Whether ``env`` (an evaluation env: every evaluation resets it with its own seed) puts a
    catastrophe flag or a cost in its infos, read from a reset and one step of the middle action."""
    try:
        _, info = env.reset(seed=seed + EVAL_SEED_OFFSET)
        if isinstance(info, dict) and ("catastrophe" in info or "cost" in info):
            return True
        *_, info = env.step(np.zeros(env.action_space.shape, env.action_space.dtype))
    except Exception as error:
        raise EnvError(f"the env {env_id_of(env)!r} failed at a reset and one step before training (to read "
                       f"whether it reports catastrophes): {_describe(error)}") from error
    return isinstance(info, dict) and ("catastrophe" in info or "cost" in info)


def bind_guide(config: Config, strategy: Any, guide: Any, train_env: gym.Env, resume_meta: Optional[dict]):
    """The run's guide (given, or resolved from ``config.guide``), bound to the env's sizes and seeded."""
    obs_dim = int(np.prod(train_env.observation_space.shape))
    action_dim = int(np.prod(train_env.action_space.shape))
    if guide is not None:
        guide = resolve_guide(guide, config.env, region=config.guide_region)
    elif config.guide is not None:
        from_file = resume_meta is not None and not resume_meta.get("guide_named_again")
        guide = resolve_guide(config.guide, config.env, region=config.guide_region,
                              trust_code=not from_file or config.trust_code,
                              source=os.path.join(resume_meta["directory"], checkpoint.META) if from_file else None)
    if strategy.uses_guide and guide is None:
        raise ConfigError(
            f"guidance {config.guidance!r} needs a guide: pass --guide (CLI) or guide= (Python)"
            + ("; this run's guide was given from Python, so resume it from Python with guide="
               if resume_meta is not None else "")
        )
    if guide is not None:
        guide.bind(obs_dim, action_dim, config.env)
        guide.seed(int(np.random.SeedSequence([config.seed, 2]).generate_state(1)[0]))
    return guide


def restore_or_init(config: Config, strategy: Any, guide: Any, train_env: gym.Env, eval_envs: List[gym.Env],
                    resume_meta: Optional[dict], out: Optional[Path], lock: Optional[RunLock]) -> Loop:
    """The loop with a fresh agent, buffer and counters, or those of the checkpoint resumed."""
    obs_dim = int(np.prod(train_env.observation_space.shape))
    action_dim = int(np.prod(train_env.action_space.shape))
    root_key = jax.random.key(config.seed, impl=PRNG_IMPL)
    init_key, act_key, learn_key = jax.random.split(root_key, 3)
    offline_key = jax.random.fold_in(root_key, OFFLINE_KEY)
    buffer = ReplayBuffer(config.buffer_size, obs_dim, action_dim)
    rng = np.random.default_rng(config.seed)
    progress = Progress()
    if resume_meta is None:
        state = init_agent(config.agent, init_key, obs_dim, action_dim)
    else:
        state, progress = _restore(config, resume_meta, obs_dim, action_dim, buffer, rng, guide)
    low, high = action_bounds(train_env)
    run = Run(config, state, obs_dim, low, high, guide=guide, directory=out)
    packing = Packing(state)
    loop = Loop(config, strategy, guide, train_env, eval_envs, buffer, rng, progress, run, out, lock,
                act_key, learn_key, saved_step=None if resume_meta is None else int(resume_meta["step"]),
                packing=packing, flat_state=pack(packing, state), offline_key=offline_key)
    run.set_packed(packing, loop.flat_state)
    if strategy.curriculum is not None:
        loop.curriculum = strategy.curriculum(config)
        if resume_meta is None:
            loop.curriculum.measure(lambda k: guide_alone(loop, k), config.jsrl_guide_episodes)
            progress.horizon = loop.curriculum.episode_horizon(0)
        else:
            loop.curriculum.load_state_dict(resume_meta["curriculum"])
    return loop


def guide_alone(loop: Loop, episodes: int) -> Tuple[List[int], List[float]]:
    """Lengths and returns of ``episodes`` episodes of the guide's action at every step, on the
    first evaluation env with the evaluation seeds (a curriculum's measure before training)."""
    try:
        returns, lengths, _ = run_alone(loop.guide, loop.eval_envs[0], episodes, loop.config.seed + EVAL_SEED_OFFSET)
    except GuidedRLError:
        raise
    except Exception as error:
        raise GuideError(f"the guide {getattr(loop.guide, 'name', 'guide')!r} or the env failed while the guide "
                         f"acted alone before training (to measure JSRL's horizon): {_describe(error)}") from error
    return lengths, returns


def _restore(config: Config, meta: dict, obs_dim: int, action_dim: int, buffer: ReplayBuffer,
             rng: np.random.Generator, guide: Any):
    """The checkpoint's agent state and counters; fills ``buffer``, ``rng`` and the guide's stream from it."""
    if meta["obs_dim"] != obs_dim or meta["action_dim"] != action_dim:
        raise CheckpointError(
            f"checkpoint {meta['directory']!r} is for observations of {meta['obs_dim']} and actions of "
            f"{meta['action_dim']} values; {config.env!r} has {obs_dim} and {action_dim}"
        )
    state = checkpoint.load_agent_state(meta, state_template(config, obs_dim, action_dim))
    try:
        buffer.load_state_dict(checkpoint.load_replay_state(meta))
        rng.bit_generator.state = meta["rng_state"]
        progress = Progress(**meta["progress"])
        if guide is not None and meta.get("guide_rng_state") is not None:
            guide.set_rng_state(meta["guide_rng_state"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"corrupt checkpoint {meta['directory']!r}: {type(error).__name__}: {error}"
        ) from None
    return jax.tree_util.tree_map(jnp.asarray, state), progress


def load_dataset(loop: Loop) -> None:
    """Read and check ``config.dataset`` against the env, ask the guide about every state in it
    (what a file says the guide said is never trusted) and store it beside the replay buffer."""
    from guidedrl.offline.datasets import load_transitions  # Minari is imported only for a dataset

    transitions = load_transitions(loop.config.dataset, loop.train_env)
    fields = {
        "obs": transitions.obs, "action": transitions.action, "reward": transitions.reward,
        "next_obs": transitions.next_obs, "terminated": transitions.terminated,
        "truncated": transitions.truncated,
    }
    if transitions.cost is not None:  # the catastrophe labels of the step infos (-1 where not given)
        fields["cost"] = transitions.cost
    count = len(transitions.reward)
    guide_action = np.zeros((count, loop.action_dim), np.float32)
    next_guide_action = np.zeros((count, loop.action_dim), np.float32)
    confidence, next_confidence = np.zeros(count, np.float32), np.zeros(count, np.float32)
    if loop.guide is not None:
        # as online: s' of one transition is s of the next within an episode, so the guide is
        # asked once per state, in the order the states were visited
        for row in range(count):
            if row and np.array_equal(transitions.obs[row], transitions.next_obs[row - 1]):
                guide_action[row], confidence[row] = next_guide_action[row - 1], next_confidence[row - 1]
            else:
                guide_action[row], confidence[row] = _guide_on_dataset(loop, transitions.obs[row], "observation", row)
            next_guide_action[row], next_confidence[row] = _guide_on_dataset(
                loop, transitions.next_obs[row], "next observation", row)
    fields.update(guide_action=guide_action, confidence=confidence, next_guide_action=next_guide_action,
                  next_confidence=next_confidence)
    loop.buffer.add_dataset(fields)


def _guide_on_dataset(loop: Loop, state: np.ndarray, what: str, row: int):
    try:
        return guide_fields(loop.guide, state, loop.action_dim)
    except Exception as error:
        raise GuideError(f"the guide {loop.guide.name!r} failed on the {what} of transition {row} of dataset "
                         f"{loop.config.dataset!r}: {_describe(error)}") from error


def start_episode(loop: Loop) -> None:
    """Reset the training env into the current episode (replaying its stored actions when
    resuming) and ask the guide about the first state; failures here are named errors."""
    progress, env_name = loop.progress, loop.config.env
    try:
        obs, _ = loop.train_env.reset(seed=episode_seed(loop.config.seed, progress.episode))
        if progress.episode_length:
            obs = _replay_episode(loop.train_env, obs, loop.buffer, progress.episode_length)
        loop.obs = _finite_obs(obs, "observation")
    except GuidedRLError:
        raise
    except Exception as error:
        raise EnvError(f"the env {env_name!r} failed at its first reset: {_describe(error)}") from error
    try:
        loop.guide_action, loop.confidence = guide_fields(loop.guide, loop.obs, loop.action_dim)
    except GuideError:
        raise
    except Exception as error:
        raise GuideError(f"the guide {loop.guide.name!r} failed on the first observation: "
                         f"{_describe(error)}") from error


def open_files(loop: Loop, resuming: bool) -> None:
    """config.json and the metrics log (rows past the resumed checkpoint are dropped)."""
    state, config = loop.run.state, loop.config
    loop.metric_names = sorted(jax.eval_shape(
        lambda s, b: agent.update_many(config.agent, s, b, loop.learn_key, 0)[1], state,
        loop.buffer.batch_spec(1, 1),
    ))
    loop.clock_start = loop.interval_clock = time.perf_counter()
    if loop.out is None:
        return
    columns = (list(BASE_COLUMNS) + loop.metric_names + list(loop.curriculum.COLUMNS if loop.curriculum else ())
               + list(TIMING_COLUMNS))
    with _writing(loop, loop.out):
        write_config(loop.out, {**config.to_dict(), "obs_dim": loop.run.obs_dim,
                                "action_dim": loop.action_dim, "guide": getattr(loop.guide, "name", None)})
        at = (loop.progress.offline_step, loop.progress.step)
        loop.logger = MetricsLogger(loop.out, columns, resume_at=at if resuming else None,
                                    redo=loop.progress.evaluation_pending)  # a pending row is redone


def check_out_dir(out: Path, resuming: bool) -> None:
    """Raise :class:`ConfigError` unless ``out`` can hold a run; writes nothing."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output directory {str(out)!r} is a file")
    if out.exists() and not resuming and any(out.iterdir()):
        if (out / "metrics.csv").exists() or (out / checkpoint.IN_RUN).exists():
            raise ConfigError(
                f"output directory {str(out)!r} already holds a run; resume it with "
                f"--resume {out} or choose another --out"
            )
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"output directory {str(out)!r} cannot be created: {str(ancestor)!r} is a file")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as error:
        raise ConfigError(f"output directory {str(out)!r} is not writable: {error}") from None


# -- one training step -------------------------------------------------------------------------


def training_step(loop: Loop) -> None:
    """Act, step the env, store the transition, learn when due, and record it — or, if any part
    fails, change nothing (the env aside) and raise :class:`StepFailed`."""
    step = loop.progress.step
    guide_stream = loop.guide.rng_state() if loop.guide is not None else None
    try:
        action, from_guide = behaviour(loop, step)
        outcome = step_env(loop, action)
        mark = loop.buffer.mark()
        loop.buffer.add(loop.obs, action, outcome.reward, outcome.next_obs, outcome.terminated,
                        outcome.truncated, loop.guide_action, loop.confidence,
                        outcome.next_guide_action, outcome.next_confidence, outcome.cost)
        try:
            learned = learn(loop, step + 1, outcome)
        except StepFailed:
            loop.buffer.undo(mark)
            raise
    except StepFailed:
        if guide_stream is not None:
            loop.guide.set_rng_state(guide_stream)
        raise
    record(loop, outcome, from_guide, learned)


def behaviour(loop: Loop, step: int) -> Tuple[np.ndarray, Any]:
    """The behaviour action at the current observation: the one ``learn`` already chose, or a
    fresh one (the warm-up's uniform draw before ``learning_starts``)."""
    progress, config = loop.progress, loop.config
    if progress.next_action is not None:
        return np.asarray(progress.next_action, np.float32), progress.next_from_guide
    inputs = step_inputs(step, step < config.warmup_steps, loop.obs, loop.guide_action, loop.confidence,
                         progress.episode_length, progress.horizon)
    out = np.asarray(behave(config.agent, loop.packing, loop.flat_state, inputs, loop.act_key, loop.action_dim))
    action, from_guide = out[:loop.action_dim], bool(out[loop.action_dim] > 0.5)
    if not np.all(np.isfinite(action)):
        raise StepFailed("the agent", NonFinite(f"non-finite action {action.tolist()}"), "acting")
    return action, from_guide


def step_env(loop: Loop, action: np.ndarray) -> Outcome:
    """The one boundary where user code runs in a training step: the env's step (and reset at
    the end of an episode) and the guide at the new state. Changes nothing of the loop's."""
    env_name = f"the env {loop.config.env!r}"
    guide_name = f"the guide {getattr(loop.guide, 'name', 'guide')!r}"
    try:
        next_obs, reward, terminated, truncated, info = loop.train_env.step(action)
        next_obs = _finite_obs(next_obs, "observation")
        if not math.isfinite(float(reward)):
            raise NonFinite(f"non-finite reward {reward!r}")
        cost = catastrophe_label(info)
    except Exception as error:
        raise StepFailed(env_name, error, "step") from error
    next_guide_action, next_confidence = _ask_guide(loop, next_obs, guide_name)
    obs, guide_action, confidence = next_obs, next_guide_action, next_confidence
    if terminated or truncated:
        try:
            first, _ = loop.train_env.reset(seed=episode_seed(loop.config.seed, loop.progress.episode + 1))
            obs = _finite_obs(first, "observation at reset")
        except Exception as error:
            raise StepFailed(env_name, error, "reset") from error
        guide_action, confidence = _ask_guide(loop, obs, guide_name)
    return Outcome(next_obs, float(reward), bool(terminated), bool(truncated), info,
                   next_guide_action, next_confidence, obs, guide_action, confidence, cost)


def catastrophe_label(info: Any) -> float:
    """The step's catastrophe label from its info (docs/DESIGN.md, decision 5): 1.0 or 0.0 from
    ``info["catastrophe"]``, else ``info["cost"]`` clipped to [0, 1], else -1.0 (not reported).
    A catastrophe that is not a bool-like scalar, or a cost that is not a finite number, raises
    :class:`BadInfo` naming the value."""
    if not isinstance(info, dict):
        return -1.0
    cost = None
    if "cost" in info:
        value = info["cost"]
        try:
            cost = float(np.asarray(value, np.float64).reshape(()))
        except (TypeError, ValueError):
            raise BadInfo(f"info['cost'] must be a finite number, got {value!r}") from None
        if not math.isfinite(cost):
            raise BadInfo(f"info['cost'] must be a finite number, got {value!r}")
    if "catastrophe" in info:
        value = info["catastrophe"]
        array = np.asarray(value)
        if array.shape != () or not (array.dtype == np.bool_ or (np.issubdtype(array.dtype, np.integer)
                                                               and int(array) in (0, 1))):
            raise BadInfo(f"info['catastrophe'] must be a bool (or 0/1), got {value!r}")
        return 1.0 if bool(array) else 0.0
    return -1.0 if cost is None else min(max(cost, 0.0), 1.0)


class BadInfo(ValueError):
    """A step's info holds a catastrophe flag or a cost of the wrong kind."""


def _ask_guide(loop: Loop, obs: np.ndarray, guide_name: str):
    try:
        return guide_fields(loop.guide, obs, loop.action_dim)
    except Exception as error:
        raise StepFailed(guide_name, error, "step") from error


def learn(loop: Loop, step: int, outcome: Outcome) -> Optional[tuple]:
    """Every ``train_every`` steps from ``learning_starts``: the gradient steps on K sampled
    minibatches and the action at the next state. Returns (metrics, action, from_guide), or
    None when no update is due; on a non-finite update the state and sampler are as before."""
    config = loop.config
    if step < config.warmup_steps or step % config.train_every != 0:
        return None
    sampler = loop.rng.bit_generator.state
    flat = loop.buffer.sample_flat(loop.rng, config.gradient_steps_per_call, config.minibatch_size,
                                   config.offline_ratio)
    try:
        episode_step, horizon = next_clock(loop, outcome)
        inputs = step_inputs(step, step < config.warmup_steps, outcome.obs, outcome.guide_action, outcome.confidence,
                             episode_step, horizon)
        loop.flat_state, out = learn_and_behave(config.agent, loop.buffer.layout, loop.packing, loop.flat_state, flat,
                                                loop.learn_key, loop.act_key, inputs, loop.action_dim)
        loop.run.set_packed(loop.packing, loop.flat_state)
        action, from_guide, finite, metrics = split_outputs(np.asarray(out), loop.action_dim, loop.metric_names)
        if not finite:
            raise NonFinite("a non-finite value in the agent's parameters or action after the gradient steps")
    except Exception as error:
        loop.rng.bit_generator.state = sampler
        raise StepFailed("the update", error, "step") from error
    return metrics, action, from_guide


def next_clock(loop: Loop, outcome: Outcome) -> Tuple[int, int]:
    """(step within the episode, jump-start horizon) at ``outcome.obs``, the next state acted on:
    the next episode's first step after an episode ends."""
    progress = loop.progress
    if outcome.done:
        return 0, episode_horizon(loop, progress.episode + 1)
    return progress.episode_length + 1, progress.horizon


def episode_horizon(loop: Loop, episode: int) -> int:
    """The jump-start horizon of training episode ``episode`` (0 without a curriculum)."""
    return loop.curriculum.episode_horizon(episode) if loop.curriculum is not None else 0


def record(loop: Loop, outcome: Outcome, from_guide: Any, learned: Optional[tuple]) -> None:
    """Count the step that succeeded and move on to its next observation."""
    progress = loop.progress
    progress.step += 1
    progress.episode_return += outcome.reward
    progress.episode_length += 1
    progress.interval_guide_steps += bool(from_guide)
    progress.train_catastrophes += bool(outcome.info.get("catastrophe", False))
    if outcome.done:
        progress.train_episodes += 1
        progress.interval_returns.append(progress.episode_return)
        progress.last_return = progress.episode_return
        progress.episode += 1
        progress.episode_return, progress.episode_length = 0.0, 0
        progress.horizon = episode_horizon(loop, progress.episode)
    loop.obs, loop.guide_action, loop.confidence = outcome.obs, outcome.guide_action, outcome.confidence
    progress.next_action = None
    if learned is not None:
        metrics, progress.next_action, progress.next_from_guide = learned
        loop.pending_metrics.append(metrics)


# -- evaluate and log --------------------------------------------------------------------------


def evaluate_and_log(loop: Loop) -> None:
    """Evaluate the deployed policy and the actor alone, and log one row; a failure of the
    guide or the eval env during it leaves the guide's stream as before and raises StepFailed."""
    progress, config = loop.progress, loop.config
    guide_stream = loop.guide.rng_state() if loop.guide is not None else None
    try:
        deployed, free = _evaluations(loop)
    except Exception as error:
        if guide_stream is not None:
            loop.guide.set_rng_state(guide_stream)
        if isinstance(error, _GuideCallFailed):
            raise StepFailed(f"the guide {loop.guide.name!r}", error.cause, "evaluation") from error.cause
        env_name = env_id_of(loop.eval_envs[0]) if loop.eval_envs else config.env
        raise StepFailed(f"the evaluation env {env_name!r}", error, "evaluation") from error
    now = time.perf_counter()
    env_steps_done = progress.step - progress.interval_start_step
    # the rate of what the interval did: gradient steps offline, environment steps online
    steps_done = (progress.offline_step - progress.interval_start_offline_step) if loop.offline else env_steps_done
    elapsed = now - loop.interval_clock
    row: Dict[str, Any] = {
        "step": progress.step,
        "phase": "offline" if loop.offline else "online",
        "offline_step": progress.offline_step,
        "eval_return": deployed["mean_return"],
        "eval_return_std": deployed["std_return"],
        "eval_return_guide_free": free,
        "eval_catastrophes": deployed["catastrophes"],
        "train_episodes": progress.train_episodes,
        "train_return": float(np.mean(progress.interval_returns)) if progress.interval_returns else math.nan,
        "train_catastrophes": progress.train_catastrophes,
        "guide_usage": progress.interval_guide_steps / env_steps_done if env_steps_done else 0.0,
        "gradient_steps": int(loop.run.state.gradient_steps),
        "steps_per_second": steps_done / elapsed if elapsed > 0 and steps_done else math.nan,
        "wall_time": progress.wall_time + (now - loop.clock_start),
    }
    row.update(_interval_means(loop))
    if loop.curriculum is not None:
        row.update(loop.curriculum.row())
    if loop.logger is not None:
        with _writing(loop, loop.out / "metrics.csv"):
            loop.logger.log(row)
    loop.rows.append(row)
    if loop.curriculum is not None:
        loop.curriculum.observe(deployed["mean_return"])
    progress.evaluation_pending = False
    if loop.on_evaluation is not None:
        loop.on_evaluation(dict(row), loop.run)
    progress.interval_start_step = progress.step
    progress.interval_start_offline_step = progress.offline_step
    progress.interval_guide_steps = 0
    progress.interval_returns = []
    progress.interval_metrics = []
    loop.interval_clock = time.perf_counter()


def _evaluations(loop: Loop) -> Tuple[dict, float]:
    config = loop.config
    guide = _TaggedGuide(loop.guide) if loop.guide is not None else None
    modes = (False, True) if loop.strategy.uses_guide else (False,)  # without a guide: the actor alone
    horizon = loop.curriculum.evaluation_horizon if loop.curriculum is not None else None
    results = evaluate_policies(config.agent, loop.flat_state, loop.eval_envs, config.eval_episodes,
                                config.seed, guide, modes, packing=loop.packing, horizon=horizon)
    deployed, free = results[0], results[-1]
    for result in (deployed, free):
        if not all(math.isfinite(r) for r in result["returns"]):
            raise NonFinite(f"non-finite evaluation returns {result['returns']}")
    return deployed, free["mean_return"]


class _GuideCallFailed(Exception):
    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


class _TaggedGuide:
    """The guide, with its failures told apart from the env's (during an evaluation)."""

    def __init__(self, guide: Any):
        self._guide = guide

    def __call__(self, obs):
        try:
            return self._guide(obs)
        except Exception as error:
            raise _GuideCallFailed(error) from error

    def __getattr__(self, name):
        return getattr(self._guide, name)


def _interval_means(loop: Loop) -> Dict[str, float]:
    """The update's losses averaged over the evaluation interval (NaN-valued steps skipped)."""
    _flush_pending(loop)
    means = {}
    for name in loop.metric_names:
        values = [m[name] for m in loop.progress.interval_metrics if not math.isnan(m[name])]
        means[name] = float(np.mean(values)) if values else math.nan
    return means


# -- checkpoint, failure, interruption, end ----------------------------------------------------


def checkpoint_if_due(loop: Loop) -> None:
    """A checkpoint every ``checkpoint_every`` steps and at the last step."""
    step, config = loop.progress.step, loop.config
    if step % config.checkpoint_every == 0 or step == config.steps:
        save_checkpoint(loop)


def save_checkpoint(loop: Loop) -> None:
    """The whole training state at the current step, atomically (the previous checkpoint stays
    until the new one is complete)."""
    _flush_pending(loop)
    now = time.perf_counter()
    loop.progress.wall_time += now - loop.clock_start
    loop.clock_start = now
    if loop.out is None:
        return
    meta = {**loop.run.meta(), "step": loop.progress.step, "rng_state": loop.rng.bit_generator.state,
            "guide_rng_state": loop.guide.rng_state() if loop.guide is not None else None,
            "progress": dataclasses.asdict(loop.progress),
            "curriculum": loop.curriculum.state_dict() if loop.curriculum is not None else None}
    with _writing(loop, loop.out / checkpoint.IN_RUN):
        checkpoint.save_checkpoint(loop.out / checkpoint.IN_RUN, meta, loop.run.state, loop.buffer.state_dict())
    loop.saved_step = loop.progress.step


def guarded(loop: Loop, phase: Callable[[Loop], None]) -> None:
    """Run ``phase``; if it fails, checkpoint the state it left (as before the failure) and raise
    :class:`TrainingFailed` with one line: what failed, when, why, and how to resume."""
    try:
        phase(loop)
    except StepFailed as failure:
        saved, note = _save_after_failure(loop)
        step = loop.progress.step
        offline = loop.progress.offline_step
        if failure.during == "offline":
            when = f"in the offline gradient steps after step {offline}"
        elif failure.during == "evaluation":
            when = (f"while evaluating at offline step {offline}" if loop.offline else f"while evaluating at step {step}")
        else:
            when = f"at step {step + 1}" + (" (reset)" if failure.during == "reset" else "")
        message = f"{failure.source} failed {when}: {_describe(failure.cause)}; {note}"
        raise TrainingFailed(message, failure.source, step, loop.out, saved) from failure.cause


def _save_after_failure(loop: Loop) -> Tuple[bool, str]:
    if loop.out is None:
        return False, "nothing was saved (the run writes no files: out=None)"
    try:
        save_checkpoint(loop)
    except Exception as error:  # a full disk, or a state the failing update left unusable
        return False, f"the run could not be saved ({_describe(error)})"
    where = (f"offline step {loop.progress.offline_step}" if loop.offline else f"step {loop.progress.step}")
    return True, f"the run is saved at {where}; once fixed, resume with: {resume_command(loop)}"


def resume_command(loop: Loop) -> str:
    """How the user resumes this run: the CLI, naming a module:attr guide again, or Python."""
    config = loop.config
    if loop.strategy.uses_guide and config.guide is None:
        return f"guidedrl.train(..., resume={str(loop.out)!r}, guide=<the fixed guide>)"
    named = f" --guide {config.guide}" if config.guide and ":" in config.guide and not os.path.exists(config.guide) else ""
    return f"guidedrl train --resume {loop.out}{named}"


def interrupt(loop: Loop) -> None:
    """Ctrl-C / SIGTERM: checkpoint at the current step, then raise :class:`TrainingInterrupted`."""
    save_checkpoint(loop)
    raise TrainingInterrupted(loop.out, loop.progress.step, loop.progress.offline_step if loop.offline else None)


def close(loop: Loop) -> None:
    """Close the logs and release the run directory, however the run ended."""
    try:
        if loop.logger is not None:
            loop.logger.close()
    except OSError:
        pass
    if loop.lock is not None:
        loop.lock.release()


@contextlib.contextmanager
def _writing(loop: Loop, path: Path):
    """Turn an OSError while writing ``path`` into a one-line :class:`WriteError` naming the
    file, the step and the checkpoint that is still good."""
    try:
        yield
    except OSError as error:
        if isinstance(error, GuidedRLError):
            raise
        target = error.filename or str(path)
        good = (f"the last good checkpoint (step {loop.saved_step}) in {loop.out / checkpoint.IN_RUN} is intact"
                if loop.saved_step is not None else "no checkpoint was written yet")
        raise WriteError(f"cannot write {target} at step {loop.progress.step}: "
                         f"{error.strerror or error}; {good}", str(target), loop.progress.step) from error


# -- helpers ---------------------------------------------------------------------------------


def episode_seed(seed: int, episode: int) -> int:
    """The reset seed of training episode ``episode``."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


def default_out(config: Config) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = config.env.replace("/", "-")
    return os.path.join("runs", f"{name}-{config.algo}-{config.guidance}-s{config.seed}-{stamp}")


def _finite_obs(obs: Any, what: str) -> np.ndarray:
    obs = np.asarray(obs, np.float32).reshape(-1)
    if not np.all(np.isfinite(obs)):
        raise NonFinite(f"non-finite {what} {obs.tolist()}")
    return obs


def _describe(error: BaseException) -> str:
    """``Type: message`` on one line, shortened (the traceback is for --debug)."""
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:297] + "..."
    name = type(error).__name__
    return f"{name}: {text}" if text else name


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps (main thread only)."""

    def __init__(self):
        self.raised = False
        self._previous = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.raised:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def _flush_pending(loop: Loop) -> None:
    """Move device-side values into the counters as plain numbers (a checkpoint must hold them)."""
    progress = loop.progress
    for m in jax.device_get(loop.pending_metrics):
        progress.interval_metrics.append({k: float(v) for k, v in m.items()})
    loop.pending_metrics.clear()
    if progress.next_action is not None and not isinstance(progress.next_action, list):
        progress.next_action = np.asarray(progress.next_action).astype(float).tolist()
        progress.next_from_guide = bool(progress.next_from_guide)


def _replay_episode(env: gym.Env, obs, buffer: ReplayBuffer, length: int):
    """Re-execute the interrupted episode's stored actions after its seeded reset."""
    if length > len(buffer):
        raise CheckpointError(
            f"the interrupted episode has {length} steps but the buffer holds {len(buffer)}; cannot restore it"
        )
    for action in buffer.recent_actions(length):
        obs, *_ = env.step(action)
    last = buffer.data["next_obs"][(buffer.position - 1) % buffer.capacity]
    if not np.allclose(np.asarray(obs, np.float32).reshape(-1), last, atol=1e-5):
        import warnings

        warnings.warn("the environment did not replay to the checkpointed state (is it deterministic "
                      "given its reset seed?); the resumed run continues from the replayed state")
    return obs


def _rate(loop: Loop) -> float:
    elapsed = time.perf_counter() - loop.interval_clock
    done = loop.progress.step - loop.progress.interval_start_step
    if done and elapsed > 0:
        return done / elapsed
    return loop.rows[-1]["steps_per_second"] if loop.rows else 0.0


def _progress_bar(config: Config):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress
    from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return RichProgress(
        TextColumn(f"[bold]{config.algo}/{config.guidance}[/] {config.env}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("return {task.fields[ret]:.1f}"),
        TextColumn("{task.fields[sps]:.0f} steps/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
