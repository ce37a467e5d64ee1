"""Deterministic evaluation of the deployed policy and of the guide-free actor (DESIGN.md, decision 6).

The act function itself (``deployed_actions``, ``guide_fields``) lives in :mod:`guidedrl.policy`
and is re-exported here."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

import gymnasium as gym
import jax
import numpy as np

from guidedrl import agent
from guidedrl.policy import deployed_action, deployed_actions, guide_fields  # noqa: F401  (re-exported)

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes never share reset seeds with training ones


def evaluate_policy(
    config,
    state: agent.AgentState,
    env: Union[gym.Env, Sequence[gym.Env]],
    episodes: int,
    seed: int,
    guide: Optional[Any] = None,
    guide_free: bool = False,
) -> dict:
    """Run ``episodes`` deterministic episodes; episode i resets with seed ``seed + EVAL_SEED_OFFSET + i``.

    ``env`` may be a list of copies of one env: the episodes then run side by side, one
    batched policy call per step for all of them, with the results of one after another up to
    float32 rounding (XLA sums a batched matmul in another order).
    Returns mean and std of the return, per-episode returns and lengths, the number
    of steps flagged ``info["catastrophe"]``, and the guide's share of actions.
    """
    envs = list(env) if isinstance(env, (list, tuple)) else [env]
    width = max(1, min(len(envs), episodes))
    action_dim = int(np.prod(envs[0].action_space.shape))
    obs_dim = int(np.prod(envs[0].observation_space.shape))
    returns, lengths = [0.0] * episodes, [0] * episodes
    catastrophes = guide_steps = 0
    current: List[Optional[int]] = [None] * width  # the episode each slot is running
    obs = np.zeros((width, obs_dim), np.float32)
    guide_action = np.zeros((width, action_dim), np.float32)
    confidence = np.zeros(width, np.float32)

    def begin(slot: int, episode: int) -> None:
        if episode >= episodes:
            current[slot] = None
            return
        current[slot] = episode
        first, _ = envs[slot].reset(seed=seed + EVAL_SEED_OFFSET + episode)
        obs[slot] = np.asarray(first, np.float32).reshape(-1)
        guide_action[slot], confidence[slot] = guide_fields(guide, obs[slot], action_dim)

    for slot in range(width):
        begin(slot, slot)
    while any(episode is not None for episode in current):
        actions, from_guide = jax.device_get(
            deployed_actions(config, state, obs, guide_action, confidence, guide_free))
        for slot, episode in enumerate(current):
            if episode is None:
                continue
            next_obs, reward, terminated, truncated, info = envs[slot].step(actions[slot])
            returns[episode] += float(reward)
            lengths[episode] += 1
            guide_steps += bool(from_guide[slot])
            catastrophes += bool(info.get("catastrophe", False))
            if terminated or truncated:
                begin(slot, episode + width)
            else:
                obs[slot] = np.asarray(next_obs, np.float32).reshape(-1)
                guide_action[slot], confidence[slot] = guide_fields(guide, obs[slot], action_dim)
    return {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "returns": returns,
        "lengths": lengths,
        "catastrophes": catastrophes,
        "guide_usage": guide_steps / max(sum(lengths), 1),
        "episodes": episodes,
    }
