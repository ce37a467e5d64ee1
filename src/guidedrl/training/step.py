"""One training step: the behaviour action, the environment step with the guide asked about the
new state (the one place user code runs), the transition stored with its catastrophe label, the
gradient steps when due, and the counters — all or nothing."""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from guidedrl.policy import guide_fields
from guidedrl.training.jitted import behave, learn_and_behave, split_outputs, step_inputs
from guidedrl.training.state import BadInfo, Loop, NonFinite, Outcome, StepFailed, episode_seed, finite_obs


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
        next_obs = finite_obs(next_obs, "observation")
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
            obs = finite_obs(first, "observation at reset")
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
