"""The jitted training path for JAX environments: act, env step, buffer insert and update in one
``lax.scan`` per evaluation interval, and K seeds in one process.

When the env is a :class:`~guidedrl.jaxenvs.base.JaxEnv` (``--env gymnax/Pendulum-v1``,
``--env jax/PointReach-v0``) and the guide a :class:`~guidedrl.jaxenvs.base.JaxGuide`, nothing of
a training step needs the host: the replay buffer is a device array, minibatches are drawn
inside the scan, and the host sees the run once per evaluation interval, to evaluate (itself one
jitted call: every episode of both policies side by side), log one metrics.csv row and
checkpoint. The agent is the host path's (``agent.act``, ``agent.update_many``), so every
backbone, strategy and confidence runs here as there.

K seeds (``--seeds K``) are one program: each interval runs the seeds one after another inside
it (``lax.map``), so each seed's numbers are bit for bit those of a one-seed run of that seed
(tests/training/test_scanned.py). Batching the seeds with ``vmap`` instead (``lanes="vmap"``)
changes the order XLA sums a batched matmul in, and with it a seed's parameters by about 1e-5
after 300 steps (measured): equal only up to float32 rounding, and in a first look no faster
at 64-64 (K = 4, alternated in one process while other jobs shared the cores). The env-step counter is shared by the seeds, so what
depends on it alone (the warm-up, the ``train_every`` schedule) stays a real branch.

Ctrl-C / SIGTERM ends the interval in progress, saves and raises ``TrainingInterrupted``.
Failures: a non-finite action, observation, reward or update is noted per seed at the first step
it happens; at the end of the interval the run is saved as it was at the interval's start and
:class:`~guidedrl.errors.TrainingFailed` names the seed and the step, as on the host path.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization, struct

from guidedrl import agent, checkpoint
from guidedrl.config import Config
from guidedrl.errors import CheckpointError, ConfigError, TrainingFailed
from guidedrl.jaxenvs.base import JaxEnv, JaxGuide
from guidedrl.replay import ReplayBuffer, unflatten
from guidedrl.training.failures import StopFlag
from guidedrl.training.jitted import all_finite
from guidedrl.training.logging import TIMING_COLUMNS, MetricsLogger, write_config
from guidedrl.training.state import BASE_COLUMNS
from guidedrl.types import EpisodeClock, GuideFields

PRNG_IMPL = "threefry2x32"
"""The scanned path's key implementation: threefry's draws are the same under ``vmap`` as without
(the host path's ``rbg`` draws differ once keys are batched), so a seed run beside others is
the seed run alone."""

SCAN = "scan.msgpack"
"""A scanned run's checkpoint holds its loop state (env state, episode counters) in this file."""


@struct.dataclass
class Keys:
    """A seed's random streams, each folded with the step (or episode) it serves."""

    act: jax.Array
    env: jax.Array
    reset: jax.Array
    sample: jax.Array
    learn: jax.Array
    evaluate: jax.Array


@struct.dataclass
class SeedState:
    """One seed's whole training state between two steps (vmapped over seeds)."""

    agent: agent.AgentState
    storage: jax.Array  # (capacity, width): the replay buffer's rows, ReplayBuffer's layout
    position: jax.Array  # int32: the next row written
    size: jax.Array  # int32: rows filled
    env_state: Any
    obs: jax.Array
    guide_action: jax.Array  # the guide at ``obs``
    confidence: jax.Array
    episode: jax.Array  # int32: the current training episode's index
    episode_step: jax.Array
    episode_return: jax.Array
    train_episodes: jax.Array
    train_catastrophes: jax.Array
    failed_at: jax.Array  # int32: the first step with a non-finite value, -1 while none
    # since the last evaluation
    returns_sum: jax.Array
    returns_count: jax.Array
    guide_steps: jax.Array
    metric_sums: Dict[str, jax.Array]
    metric_counts: Dict[str, jax.Array]


def root_keys(seed: int) -> Keys:
    """The seed's streams (the agent's initial key is :func:`init_key`)."""
    keys = jax.random.split(jax.random.key(seed, impl=PRNG_IMPL), 7)
    return Keys(*keys[1:])


def init_key(seed: int) -> jax.Array:
    return jax.random.split(jax.random.key(seed, impl=PRNG_IMPL), 7)[0]


@dataclasses.dataclass(frozen=True)
class Program:
    """What the jitted functions close over: the agent's config, the env, the guide, the layout."""

    config: Config
    env: JaxEnv
    guide: Optional[JaxGuide]
    capacity: int
    metric_names: Tuple[str, ...]
    lanes: str = "map"
    """How seeds run side by side: ``"map"``, one after another inside the program (``lax.map``:
    a seed's numbers are bit for bit a one-seed run's), or ``"vmap"`` (batched: equal up to
    float32 rounding, XLA sums batched matmuls in another order)."""

    @property
    def layout(self):
        return ReplayBuffer(1, self.env.obs_dim, self.env.action_dim).layout

    def ask_guide(self, obs: jax.Array) -> Tuple[jax.Array, jax.Array]:
        if self.guide is None:
            return jnp.zeros((self.env.action_dim,), jnp.float32), jnp.zeros((), jnp.float32)
        return self.guide(obs)


def program_of(config: Config, env: JaxEnv, guide: Optional[JaxGuide], lanes: str = "map") -> Program:
    """The program of a run: equal for runs that differ only in seed, output or budget of
    evaluations (the agent's config and the loop's schedule), so they share compiled code."""
    schedule = config.agent.replace(learning_starts=config.warmup_steps, batch_size=config.minibatch_size,
                                    train_every=config.train_every, updates_per_step=config.updates_per_step,
                                    eval_episodes=config.eval_episodes, buffer_size=capacity_of(config))
    if lanes not in ("map", "vmap"):
        raise ConfigError(f"lanes must be map or vmap, got {lanes!r}")
    return Program(schedule, env, guide, capacity_of(config), metric_names_of(config, env), lanes)


def capacity_of(config: Config) -> int:
    """The device buffer's rows: never more than the run's steps (it never wraps then)."""
    return int(min(config.buffer_size, max(config.steps, 1)))


def metric_names_of(config: Config, env: JaxEnv) -> Tuple[str, ...]:
    buffer = ReplayBuffer(1, env.obs_dim, env.action_dim)
    state = jax.eval_shape(lambda k: agent.init(config.agent, k, env.obs_dim, env.action_dim), init_key(0))
    return tuple(sorted(jax.eval_shape(
        lambda s, b: agent.update_many(config.agent, s, b, init_key(0), 0)[1], state, buffer.batch_spec(1, 1))))


def initial_state(program: Program, seed: int) -> SeedState:
    """A fresh seed: a new agent, an empty buffer, the first episode reset."""
    env, config = program.env, program.config
    keys = root_keys(seed)
    width = ReplayBuffer(1, env.obs_dim, env.action_dim).width
    obs, env_state = env.reset(jax.random.fold_in(keys.reset, 0))
    env_state = jax.tree_util.tree_map(jnp.asarray, env_state)  # gymnax keeps its step counter a Python int
    guide_action, confidence = program.ask_guide(obs)
    zero_i, zero_f = jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32)
    state = SeedState(
        agent=agent.init(config.agent, init_key(seed), env.obs_dim, env.action_dim),
        storage=jnp.zeros((program.capacity, width), jnp.float32),
        position=zero_i, size=zero_i, env_state=env_state, obs=obs, guide_action=guide_action,
        confidence=confidence, episode=zero_i, episode_step=zero_i, episode_return=zero_f,
        train_episodes=zero_i, train_catastrophes=zero_i, failed_at=jnp.full((), -1, jnp.int32),
        returns_sum=zero_f, returns_count=zero_i, guide_steps=zero_i,
        metric_sums={name: zero_f for name in program.metric_names},
        metric_counts={name: zero_i for name in program.metric_names},
    )
    # strong types, as a scan returns them, so the second interval reuses the first's program
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.asarray(x).dtype), state)


def _row(program: Program, s: SeedState, action, transition, next_guide_action, next_confidence) -> jax.Array:
    """The transition as one row of the buffer's storage, in :attr:`ReplayBuffer.layout` order."""
    fields = {
        "obs": s.obs, "action": action, "reward": transition.reward, "next_obs": transition.obs,
        "terminated": transition.terminated, "truncated": transition.truncated,
        "guide_action": s.guide_action, "confidence": s.confidence,
        "next_guide_action": next_guide_action, "next_confidence": next_confidence,
        "cost": transition.catastrophe,
    }
    return jnp.concatenate([jnp.asarray(fields[name], jnp.float32).reshape(-1) for name, *_ in program.layout])


def act_and_step(program: Program, keys: Keys, step: jax.Array, s: SeedState) -> SeedState:
    """Steps 1-3 of a training step for one seed: the behaviour action, the env step (with the
    reset at an episode's end) and the transition stored."""
    config, env = program.config, program.env
    guide = GuideFields(s.guide_action[None], s.confidence[None])
    clock = EpisodeClock(s.episode_step[None], jnp.zeros((1,), jnp.int32))
    action, from_guide = agent.act(config.agent, s.agent, s.obs[None], guide, jax.random.fold_in(keys.act, step),
                                   False, step < config.warmup_steps, step, clock)
    action, from_guide = action[0], from_guide[0]
    transition = env.step(jax.random.fold_in(keys.env, step), s.env_state, env.to_env_units(action))
    next_guide_action, next_confidence = program.ask_guide(transition.obs)
    done = transition.terminated | transition.truncated

    def fresh_episode(_):  # a branch, not a select: PointReach's reset draws a layout (~50 µs)
        obs, state = env.reset(jax.random.fold_in(keys.reset, s.episode + 1))
        return (obs, jax.tree_util.tree_map(lambda new, like: jnp.asarray(new, like.dtype), state, transition.state),
                *program.ask_guide(obs))

    obs, env_state, guide_action, confidence = jax.lax.cond(
        done, fresh_episode, lambda _: (transition.obs, transition.state, next_guide_action, next_confidence), None)
    row = _row(program, s, action, transition, next_guide_action, next_confidence)
    finite = (jnp.all(jnp.isfinite(action)) & jnp.all(jnp.isfinite(transition.obs))
              & jnp.isfinite(transition.reward))
    episode_return = s.episode_return + transition.reward
    return s.replace(
        storage=jax.lax.dynamic_update_slice(s.storage, row[None], (s.position, 0)),
        position=(s.position + 1) % program.capacity,
        size=jnp.minimum(s.size + 1, program.capacity),
        env_state=env_state, obs=obs, guide_action=guide_action, confidence=confidence,
        episode=s.episode + done,
        episode_step=jnp.where(done, 0, s.episode_step + 1),
        episode_return=jnp.where(done, 0.0, episode_return),
        train_episodes=s.train_episodes + done,
        train_catastrophes=s.train_catastrophes + (transition.catastrophe > 0.5),
        failed_at=jnp.where((s.failed_at < 0) & ~finite, step, s.failed_at),
        returns_sum=s.returns_sum + jnp.where(done, episode_return, 0.0),
        returns_count=s.returns_count + done,
        guide_steps=s.guide_steps + from_guide.astype(jnp.int32),
    )


def learn(program: Program, keys: Keys, step: jax.Array, s: SeedState) -> SeedState:
    """The gradient steps due after env step ``step`` (1-based) on minibatches drawn from the buffer."""
    config = program.config
    index = jax.random.randint(jax.random.fold_in(keys.sample, step),
                               (config.gradient_steps_per_call, config.minibatch_size), 0, s.size)
    batches = unflatten(s.storage[index], program.layout)
    new_agent, metrics = agent.update_many(config.agent, s.agent, batches, jax.random.fold_in(keys.learn, step), step)
    finite = all_finite(new_agent.backbone)
    values = {name: jnp.asarray(metrics[name], jnp.float32) for name in program.metric_names}
    return s.replace(
        agent=new_agent,
        failed_at=jnp.where((s.failed_at < 0) & ~finite, step - 1, s.failed_at),
        metric_sums={n: s.metric_sums[n] + jnp.where(jnp.isnan(v), 0.0, v) for n, v in values.items()},
        metric_counts={n: s.metric_counts[n] + ~jnp.isnan(v) for n, v in values.items()},
    )


@partial(jax.jit, static_argnames=("program", "length"))
def run_interval(program: Program, keys: Keys, states: SeedState, start: jax.Array, length: int) -> SeedState:
    """``length`` training steps from env step ``start`` for every seed (leading axis of
    ``keys`` and ``states``), in one ``lax.scan``."""
    config = program.config
    steps = start + jnp.arange(length, dtype=jnp.int32)

    if program.lanes == "map":
        def seed_interval(inputs):
            seed_keys, state = inputs

            def one_step(state, step):
                state = act_and_step(program, seed_keys, step, state)
                after = step + 1
                due = (after >= config.warmup_steps) & (after % config.train_every == 0)
                state = jax.lax.cond(due, lambda s: learn(program, seed_keys, after, s), lambda s: s, state)
                return state, None

            return jax.lax.scan(one_step, state, steps)[0]

        return jax.lax.map(seed_interval, (keys, states))

    def one_step(states, step):
        states = jax.vmap(act_and_step, in_axes=(None, 0, None, 0))(program, keys, step, states)
        after = step + 1
        due = (after >= config.warmup_steps) & (after % config.train_every == 0)
        states = jax.lax.cond(due, lambda ss: jax.vmap(learn, in_axes=(None, 0, None, 0))(program, keys, after, ss),
                              lambda ss: ss, states)
        return states, None

    states, _ = jax.lax.scan(one_step, states, steps)
    return states


@partial(jax.jit, static_argnames=("program", "episodes", "guide_free"))
def evaluate(program: Program, keys: Keys, states: SeedState, episodes: int, guide_free: bool) -> Tuple[jax.Array, jax.Array]:
    """``episodes`` deterministic episodes per seed of the deployed policy (or the actor alone,
    ``guide_free``), side by side; each seed's episode i resets with its evaluation stream
    folded with i, the same at every evaluation. Returns (returns, catastrophes), (seeds, episodes)."""
    config, env = program.config, program.env

    def episode(agent_state, eval_key, index):
        obs, env_state = env.reset(jax.random.fold_in(eval_key, index))

        def one_step(carry, t):
            obs, env_state, alive, total, catastrophes = carry
            if guide_free:
                guide = GuideFields.zeros(env.action_dim, (1,))
            else:
                guide_action, confidence = program.ask_guide(obs)
                guide = GuideFields(guide_action[None], confidence[None])
            clock = EpisodeClock(t[None], jnp.zeros((1,), jnp.int32))
            action, _ = agent.act(config.agent, agent_state, obs[None], guide, jax.random.PRNGKey(0), True,
                                  False, 0, clock)
            transition = env.step(jax.random.fold_in(eval_key, 1_000_000 + t), env_state, env.to_env_units(action[0]))
            total = total + jnp.where(alive, transition.reward, 0.0)
            catastrophes = catastrophes + (alive & (transition.catastrophe > 0.5))
            alive = alive & ~(transition.terminated | transition.truncated)
            return (transition.obs, transition.state, alive, total, catastrophes), None

        carry = (obs, env_state, jnp.asarray(True), jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
        (_, _, _, total, catastrophes), _ = jax.lax.scan(one_step, carry, jnp.arange(env.max_episode_steps))
        return total, catastrophes

    def seed_episodes(inputs):
        agent_state, eval_key = inputs
        return jax.vmap(episode, in_axes=(None, None, 0))(agent_state, eval_key, jnp.arange(episodes))

    if program.lanes == "map":
        return jax.lax.map(seed_episodes, (states.agent, keys.evaluate))
    return jax.vmap(seed_episodes)((states.agent, keys.evaluate))


def _reset_interval(states: SeedState) -> SeedState:
    zero = lambda tree: jax.tree_util.tree_map(jnp.zeros_like, tree)  # noqa: E731
    return states.replace(returns_sum=zero(states.returns_sum), returns_count=zero(states.returns_count),
                          guide_steps=zero(states.guide_steps), metric_sums=zero(states.metric_sums),
                          metric_counts=zero(states.metric_counts))


# -- the host side -----------------------------------------------------------------------------


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
    result = train_scanned(config, jax_env, resolved.guide, [config.seed + k for k in range(config.seeds)], say=say)
    runs = []
    for seed_config, state, history, directory in zip(result.configs, result.states, result.histories,
                                                      result.directories):
        run = Run(seed_config, state, jax_env.obs_dim, list(jax_env.action_low), list(jax_env.action_high),
                  directory=directory)
        run.history = history
        runs.append(run)
    runs[0].seed_runs = runs
    return runs[0]


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
    return _reset_interval(states)


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
