"""The host training loop for any Gymnasium env with a Box action space.

Per environment step: the guide is asked about the new state (host), the
behaviour action comes from one jitted call, the transition goes into the
replay buffer with the guide's fields for s and s', and every ``train_every``
steps one jitted call runs ``train_every * updates_per_step`` gradient steps in
a ``lax.scan``. Every ``eval_every`` steps the deployed policy and the
guide-free actor are evaluated and a row is logged; every
``checkpoint_every`` steps (and at the end, and on Ctrl-C / SIGTERM) the whole
training state is checkpointed, so ``--resume`` continues exactly.

Resuming restores the interrupted episode too: training episodes reset with a
seed derived from (seed, episode index), so the loop resets with that seed and
replays the episode's stored actions, which puts a deterministic env back in
the state it was in.
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
from typing import Any, Callable, Dict, List, Optional, Union

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from guidedrl import agent
from guidedrl.config import DEFAULT_GUIDE, Config
from guidedrl.envs import action_bounds, env_id_of, make_env
from guidedrl.errors import CheckpointError, ConfigError
from guidedrl.guidance import get_strategy
from guidedrl.guides import resolve_guide
from guidedrl.replay import ReplayBuffer, unflatten
from guidedrl.training import checkpoint
from guidedrl.training.evaluate import evaluate_policy, guide_fields
from guidedrl.training.logging import TIMING_COLUMNS, MetricsLogger, write_config
from guidedrl.training.run import Run, state_template
from guidedrl.types import GuideFields

BASE_COLUMNS = (
    "step",
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

    def __init__(self, directory: Optional[Path], step: int):
        self.directory, self.step = directory, step
        where = f"; resume with: guidedrl train --resume {directory}" if directory else ""
        super().__init__(f"training interrupted at step {step}{where}")


# -- the two jitted calls of the loop --------------------------------------------------------
# ``behave`` acts; ``learn_and_behave`` runs the gradient steps and then acts at the next state
# with the updated agent, so a training step costs one dispatch. Both fold the step into their
# key the same way, so which of the two produced an action does not change the key stream.

PRNG_IMPL = "rbg"
"""Key implementation of the loop's random streams: XLA's RngBitGenerator draws the
(256, d)-sized noise of an update several times faster than threefry on a CPU."""


def behaviour_action(config, state, obs, guide_action, confidence, key, env_step, uniform):
    """The behaviour action at one observation, and whether the guide gave it."""
    key = jax.random.fold_in(key, env_step)
    guide = GuideFields(guide_action[None], jnp.asarray(confidence, jnp.float32)[None])
    action, from_guide = agent.act(config, state, obs[None], guide, key, False, uniform, env_step)
    return action[0], from_guide[0]


behave = jax.jit(behaviour_action, static_argnames="config")
init_agent = jax.jit(agent.init, static_argnums=(0, 2, 3))


@partial(jax.jit, static_argnames=("config", "layout"), donate_argnames="state")
def learn_and_behave(config, layout, state, flat_batches, learn_key, env_step,
                     act_key, next_obs, next_guide_action, next_confidence, next_uniform):
    """``update_many`` over K minibatches (rows of the replay storage), then the behaviour
    action at ``next_obs`` (the state of step ``env_step``) with the updated agent."""
    batches = unflatten(flat_batches, layout)
    state, metrics = agent.update_many(
        config, state, batches, jax.random.fold_in(learn_key, env_step), env_step
    )
    action, from_guide = behaviour_action(config, state, next_obs, next_guide_action,
                                            next_confidence, act_key, env_step, next_uniform)
    return state, metrics, action, from_guide


# -- helpers ---------------------------------------------------------------------------------


def episode_seed(seed: int, episode: int) -> int:
    """The reset seed of training episode ``episode``."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


def default_out(config: Config) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = config.env.replace("/", "-")
    return os.path.join("runs", f"{name}-{config.algo}-{config.guidance}-s{config.seed}-{stamp}")


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


@dataclasses.dataclass
class Progress:
    """The loop's counters: everything besides agent, buffer and RNG that a resume needs."""

    step: int = 0
    episode: int = 0
    episode_return: float = 0.0
    episode_length: int = 0
    train_episodes: int = 0
    train_catastrophes: int = 0
    wall_time: float = 0.0
    # since the last evaluation
    interval_start_step: int = 0
    interval_guide_steps: int = 0
    interval_returns: List[float] = dataclasses.field(default_factory=list)
    interval_metrics: List[Dict[str, float]] = dataclasses.field(default_factory=list)
    last_return: float = math.nan
    # the action already chosen for the current observation (by learn_and_behave), if any
    next_action: Optional[List[float]] = None
    next_from_guide: bool = False


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
    """
    resume_meta = None
    if config.resume is not None:
        resume_meta = checkpoint.read_meta(config.resume)
        if resume_meta.get("kind") != "training":
            raise CheckpointError(
                f"checkpoint {resume_meta['directory']!r} is a policy checkpoint; "
                "resuming needs a run's training checkpoint"
            )
        saved = Config.from_dict(resume_meta["config"])
        config = saved.replace(resume=config.resume, out=str(Path(resume_meta["directory"]).parent),
                               progress=config.progress)
    strategy = get_strategy(config.guidance)
    if not strategy.uses_guide and config.guide == DEFAULT_GUIDE:
        config = config.replace(guide=None)  # the implicit default guide means nothing without guidance
    source = env if env is not None else config.env
    train_env = make_env(source)
    eval_source = eval_env if eval_env is not None else source
    eval_envs = [make_env(eval_source, copy_instance=True) for _ in range(config.eval_episodes)]
    if env is not None:
        config = config.replace(env=env_id_of(env))
    obs_dim = int(np.prod(train_env.observation_space.shape))
    action_dim = int(np.prod(train_env.action_space.shape))
    action_low, action_high = action_bounds(train_env)
    if guide is None and config.guide is not None:
        guide = resolve_guide(config.guide, config.env)
    if strategy.uses_guide and guide is None:
        raise ConfigError(
            f"guidance {config.guidance!r} needs a guide: pass --guide (CLI) or guide= (Python)"
            + ("; this run's guide was given from Python, so resume it from Python with guide="
               if resume_meta is not None else "")
        )
    if guide is not None:
        guide.bind(obs_dim, action_dim, config.env)
        guide.seed(int(np.random.SeedSequence([config.seed, 2]).generate_state(1)[0]))

    out = Path(config.out).resolve() if config.out is not None else None
    if out is not None:
        check_out_dir(out, resuming=resume_meta is not None)

    # -- state: fresh or restored --------------------------------------------------------
    agent_config = config.agent  # what the jitted calls see (and key their compiled programs on)
    root_key = jax.random.key(config.seed, impl=PRNG_IMPL)
    init_key, act_key, learn_key = jax.random.split(root_key, 3)
    buffer = ReplayBuffer(config.buffer_size, obs_dim, action_dim)
    rng = np.random.default_rng(config.seed)
    progress = Progress()
    if resume_meta is None:
        state = init_agent(agent_config, init_key, obs_dim, action_dim)
    else:
        if resume_meta["obs_dim"] != obs_dim or resume_meta["action_dim"] != action_dim:
            raise CheckpointError(
                f"checkpoint {resume_meta['directory']!r} is for observations of {resume_meta['obs_dim']} "
                f"and actions of {resume_meta['action_dim']} values; {config.env!r} has {obs_dim} and {action_dim}"
            )
        state = checkpoint.load_agent_state(resume_meta, state_template(config, obs_dim, action_dim))
        state = jax.tree_util.tree_map(jnp.asarray, state)
        try:
            buffer.load_state_dict(checkpoint.load_replay_state(resume_meta))
            rng.bit_generator.state = resume_meta["rng_state"]
            progress = Progress(**resume_meta["progress"])
            if guide is not None and resume_meta.get("guide_rng_state") is not None:
                guide.set_rng_state(resume_meta["guide_rng_state"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"corrupt checkpoint {resume_meta['directory']!r}: {type(error).__name__}: {error}"
            ) from None
    run = Run(config, state, obs_dim, action_low, action_high, guide=guide, directory=out)

    # -- the current episode (the guide's first call checks it before anything is written) --
    obs, _ = train_env.reset(seed=episode_seed(config.seed, progress.episode))
    if progress.episode_length:
        obs = _replay_episode(train_env, obs, buffer, progress.episode_length)
    obs = np.asarray(obs, np.float32).reshape(-1)
    guide_action, confidence = guide_fields(guide, obs, action_dim)

    # -- files -------------------------------------------------------------------------------
    metric_names = sorted(
        jax.eval_shape(
            lambda s, b: agent.update_many(agent_config, s, b, learn_key, 0)[1], state,
            buffer.batch_spec(1, 1),
        )
    )
    columns = list(BASE_COLUMNS) + metric_names + list(TIMING_COLUMNS)
    logger = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, {**config.to_dict(), "obs_dim": obs_dim, "action_dim": action_dim,
                           "guide": getattr(guide, "name", None)})
        logger = MetricsLogger(out, columns, resume_step=progress.step if resume_meta else None)

    def save() -> None:
        if out is None:
            return
        meta = {**run.meta(), "step": progress.step, "rng_state": rng.bit_generator.state,
                "guide_rng_state": guide.rng_state() if guide is not None else None,
                "progress": dataclasses.asdict(progress)}
        checkpoint.save_checkpoint(out / checkpoint.IN_RUN, meta, run.state, buffer.state_dict())

    def evaluate_and_log(now: float) -> None:
        deployed = evaluate_policy(agent_config, run.state, eval_envs, config.eval_episodes, config.seed, guide)
        if strategy.uses_guide:
            free = evaluate_policy(agent_config, run.state, eval_envs, config.eval_episodes, config.seed,
                                   guide, guide_free=True)["mean_return"]
        else:  # without a guide the deployed policy is the actor alone
            free = deployed["mean_return"]
        steps_done = progress.step - progress.interval_start_step
        elapsed = now - interval_clock[0]
        row: Dict[str, Any] = {
            "step": progress.step,
            "eval_return": deployed["mean_return"],
            "eval_return_std": deployed["std_return"],
            "eval_return_guide_free": free,
            "eval_catastrophes": deployed["catastrophes"],
            "train_episodes": progress.train_episodes,
            "train_return": float(np.mean(progress.interval_returns)) if progress.interval_returns else math.nan,
            "train_catastrophes": progress.train_catastrophes,
            "guide_usage": progress.interval_guide_steps / steps_done if steps_done else 0.0,
            "gradient_steps": int(run.state.gradient_steps),
            "steps_per_second": steps_done / elapsed if elapsed > 0 and steps_done else math.nan,
            "wall_time": progress.wall_time + (now - clock_start),
        }
        _flush_pending(progress, pending_metrics)
        for name in metric_names:
            values = [m[name] for m in progress.interval_metrics if not math.isnan(m[name])]
            row[name] = float(np.mean(values)) if values else math.nan
        if logger is not None:
            logger.log(row)
        rows.append(row)
        if on_evaluation is not None:
            on_evaluation(dict(row), run)
        progress.interval_start_step = progress.step
        progress.interval_guide_steps = 0
        progress.interval_returns = []
        progress.interval_metrics = []
        interval_clock[0] = time.perf_counter()

    rows: List[Dict[str, Any]] = []
    pending_metrics: List[Any] = []
    clock_start = time.perf_counter()
    interval_clock = [clock_start]
    K = config.gradient_steps_per_call
    bar = _progress_bar(config) if config.progress else None

    with _StopFlag() as stop, (bar if bar is not None else contextlib.nullcontext()):
        task = bar.add_task("train", total=config.steps, completed=progress.step,
                            ret=progress.last_return, sps=0.0) if bar else None
        if progress.step == 0 and resume_meta is None:
            evaluate_and_log(time.perf_counter())
        while progress.step < config.steps:
            if stop.raised:
                _flush_pending(progress, pending_metrics)
                progress.wall_time += time.perf_counter() - clock_start
                save()
                if logger is not None:
                    logger.close()
                raise TrainingInterrupted(out, progress.step)
            step = progress.step
            if progress.next_action is None:
                action, from_guide = behave(agent_config, run.state, obs, guide_action, confidence, act_key,
                                            step, step < config.learning_starts)
                action = np.asarray(action)
            else:
                action = np.asarray(progress.next_action, np.float32)
                from_guide = progress.next_from_guide
            next_obs, reward, terminated, truncated, info = train_env.step(action)
            next_obs = np.asarray(next_obs, np.float32).reshape(-1)
            next_guide_action, next_confidence = guide_fields(guide, next_obs, action_dim)
            buffer.add(obs, action, reward, next_obs, terminated, truncated,
                       guide_action, confidence, next_guide_action, next_confidence)
            progress.step = step = step + 1
            progress.episode_return += float(reward)
            progress.episode_length += 1
            progress.interval_guide_steps += bool(from_guide)
            progress.train_catastrophes += bool(info.get("catastrophe", False))
            if terminated or truncated:
                progress.train_episodes += 1
                progress.interval_returns.append(progress.episode_return)
                progress.last_return = progress.episode_return
                progress.episode += 1
                progress.episode_return, progress.episode_length = 0.0, 0
                obs, _ = train_env.reset(seed=episode_seed(config.seed, progress.episode))
                obs = np.asarray(obs, np.float32).reshape(-1)
                guide_action, confidence = guide_fields(guide, obs, action_dim)
            else:
                obs, guide_action, confidence = next_obs, next_guide_action, next_confidence

            progress.next_action = None
            if step >= config.learning_starts and step % config.train_every == 0:
                flat = buffer.sample_flat(rng, K, config.batch_size)
                run.state, metrics, next_action, next_from_guide = learn_and_behave(
                    agent_config, buffer.layout, run.state, flat, learn_key, step,
                    act_key, obs, guide_action, np.float32(confidence), step < config.learning_starts,
                )
                pending_metrics.append(metrics)
                progress.next_action = next_action
                progress.next_from_guide = next_from_guide
            if step % config.eval_every == 0 or step == config.steps:
                evaluate_and_log(time.perf_counter())
            if step % config.checkpoint_every == 0 or step == config.steps:
                _flush_pending(progress, pending_metrics)
                now = time.perf_counter()
                progress.wall_time += now - clock_start
                clock_start = now
                save()
            if bar is not None and (step % 200 == 0 or step == config.steps):
                bar.update(task, completed=step, ret=progress.last_return,
                           sps=_rate(rows, progress, interval_clock[0]))
    if logger is not None:
        logger.close()
    run.history = rows
    return run


def _flush_pending(progress: Progress, pending: List[Any]) -> None:
    """Move device-side values into the counters as plain numbers (a checkpoint must hold them)."""
    for m in jax.device_get(pending):
        progress.interval_metrics.append({k: float(v) for k, v in m.items()})
    pending.clear()
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


def _rate(rows, progress: Progress, since: float) -> float:
    elapsed = time.perf_counter() - since
    done = progress.step - progress.interval_start_step
    if done and elapsed > 0:
        return done / elapsed
    return rows[-1]["steps_per_second"] if rows else 0.0


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
