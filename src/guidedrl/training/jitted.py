"""The loop's jitted calls: ``behave`` (the behaviour action), ``learn_and_behave`` (the gradient
steps, then the action at the next state, in one dispatch) and ``offline_update`` (offline gradient
steps that sample their own minibatches), with the packing of what a step hands the device."""

from __future__ import annotations

from functools import partial
from typing import Any, List

import jax
import jax.numpy as jnp
import numpy as np

from guidedrl import agent
from guidedrl.replay import unflatten
from guidedrl.types import EpisodeClock, GuideFields


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
