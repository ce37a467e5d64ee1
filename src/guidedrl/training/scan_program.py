"""The jitted path's device program: one seed's training state (:class:`SeedState`), its random
streams (:class:`Keys`) and the jitted calls the host makes once per evaluation interval —
:func:`run_interval` (act, env step, buffer insert and update for every step of the interval, in
one ``lax.scan``) and :func:`evaluate` (every evaluation episode of every seed side by side).

Nothing here touches files or the clock: the host side (:mod:`guidedrl.training.scanned`) builds
the states, calls these, logs, checkpoints and resumes.

K seeds are one program. With ``lanes="map"`` (the default) each interval runs the seeds one
after another inside it (``lax.map``), so each seed's numbers are bit for bit a one-seed run's.
With ``lanes="vmap"`` they are batched: XLA then sums a batched matmul in another order, and a
seed's parameters drift from its one-seed run's by about 1e-5 after 300 steps (measured). The
env-step counter is shared by the seeds, so what depends on it alone (the warm-up, the
``train_every`` schedule) stays a real branch.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, Dict, Optional, Tuple

import jax
import jax.numpy as jnp
from flax import struct

from guidedrl import agent
from guidedrl.config import Config
from guidedrl.errors import ConfigError
from guidedrl.jaxenvs.base import JaxEnv, JaxGuide
from guidedrl.replay import ReplayBuffer, unflatten
from guidedrl.training.jitted import all_finite
from guidedrl.types import EpisodeClock, GuideFields

PRNG_IMPL = "threefry2x32"
"""The scanned path's key implementation: threefry's draws are the same under ``vmap`` as without
(the host path's ``rbg`` draws differ once keys are batched), so a seed run beside others is
the seed run alone."""

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


def reset_interval(states: SeedState) -> SeedState:
    """The interval counters zeroed after an evaluation read them."""
    zero = lambda tree: jax.tree_util.tree_map(jnp.zeros_like, tree)  # noqa: E731
    return states.replace(returns_sum=zero(states.returns_sum), returns_count=zero(states.returns_count),
                          guide_steps=zero(states.guide_steps), metric_sums=zero(states.metric_sums),
                          metric_counts=zero(states.metric_counts))
