"""The set-up phase: the run resolved (:mod:`.resolve`: the config or the checkpoint resumed, the
envs, the guide), the run directory's lock, the agent state, the dataset, the current episode and
the run's files — every check before anything is written."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from guidedrl import agent
from guidedrl.config import Config
from guidedrl.envs import action_bounds
from guidedrl.errors import CheckpointError, ConfigError, EnvError, GuidedRLError
from guidedrl.guides.base import GuideError, run_alone
from guidedrl.replay import ReplayBuffer
from guidedrl import checkpoint
from guidedrl.policy import guide_fields, state_template
from guidedrl.training.evaluate import EVAL_SEED_OFFSET
from guidedrl.training.flat import Packing, pack
from guidedrl.training.lock import RunLock
from guidedrl.training.logging import TIMING_COLUMNS, MetricsLogger, write_config
from guidedrl.training.run import Run

from guidedrl.training.failures import writing
from guidedrl.training.jitted import OFFLINE_KEY, PRNG_IMPL, init_agent
from guidedrl.training.resolve import EnvSource, resolve
from guidedrl.training.state import BASE_COLUMNS, Loop, Progress, describe, episode_seed, finite_obs


def setup(config: Config, guide: Any, env: EnvSource, eval_env: EnvSource,
          on_evaluation: Optional[Callable] = None, **request: Any) -> Loop:
    """The run resolved (:func:`~guidedrl.training.resolve.resolve`, given ``request``'s
    ``chosen``, ``default_out`` and ``say``), then the lock, the agent state, the current episode
    and the run's files, in that order: nothing is written before the checks pass, and nothing
    is left behind if set-up fails."""
    run = resolve(config, guide, env, eval_env, **request)
    config, resume_meta = run.config, run.resume_meta
    out = Path(config.out).resolve() if config.out is not None else None
    lock = None
    if out is not None:
        check_out_dir(out, resuming=True)  # can it be written at all
        lock = RunLock(out).acquire()  # the first thing written, so a second process is told who owns it
    try:
        if out is not None:
            check_out_dir(out, resuming=resume_meta is not None)  # a run may have ended there meanwhile
        loop = restore_or_init(config, run.strategy, run.guide, run.train_env, run.eval_envs, resume_meta, out, lock)
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
                         f"acted alone before training (to measure JSRL's horizon): {describe(error)}") from error
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
                         f"{loop.config.dataset!r}: {describe(error)}") from error


def start_episode(loop: Loop) -> None:
    """Reset the training env into the current episode (replaying its stored actions when
    resuming) and ask the guide about the first state; failures here are named errors."""
    progress, env_name = loop.progress, loop.config.env
    try:
        obs, _ = loop.train_env.reset(seed=episode_seed(loop.config.seed, progress.episode))
        if progress.episode_length:
            obs = _replay_episode(loop.train_env, obs, loop.buffer, progress.episode_length)
        loop.obs = finite_obs(obs, "observation")
    except GuidedRLError:
        raise
    except Exception as error:
        raise EnvError(f"the env {env_name!r} failed at its first reset: {describe(error)}") from error
    try:
        loop.guide_action, loop.confidence = guide_fields(loop.guide, loop.obs, loop.action_dim)
    except GuideError:
        raise
    except Exception as error:
        raise GuideError(f"the guide {loop.guide.name!r} failed on the first observation: "
                         f"{describe(error)}") from error


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
    with writing(loop, loop.out):
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
