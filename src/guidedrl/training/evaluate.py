"""Deterministic evaluation of the deployed policy and of the guide-free actor (DESIGN.md, decision 6)."""

from __future__ import annotations

from functools import partial
from typing import Any, List, Optional, Sequence, Union

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from guidedrl import agent
from guidedrl.backbones import get_backbone
from guidedrl.types import GuideFields

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes never share reset seeds with training ones


@partial(jax.jit, static_argnames=("config", "guide_free"))
def deployed_actions(config, state: agent.AgentState, obs, guide_action, confidence, guide_free: bool):
    """The deterministic actions at a batch of observations, and whether the guide gave each.

    ``guide_free`` uses the actor alone everywhere; otherwise the strategy decides
    (the guide acts where λ(s) >= 0.5 for strategies that execute it).
    """
    obs = jnp.asarray(obs, jnp.float32)
    if guide_free:
        action = get_backbone(config.algo).deterministic_action(config, state.backbone, obs)
        return action, jnp.zeros(obs.shape[:1], bool)
    guide = GuideFields(jnp.asarray(guide_action, jnp.float32), jnp.asarray(confidence, jnp.float32))
    return agent.act(config, state, obs, guide, jax.random.PRNGKey(0), True)


def deployed_action(config, state: agent.AgentState, obs, guide_action, confidence, guide_free: bool):
    """:func:`deployed_actions` at one observation."""
    action, from_guide = deployed_actions(config, state, np.asarray(obs, np.float32)[None],
                                          np.asarray(guide_action, np.float32)[None],
                                          np.asarray([confidence], np.float32), guide_free)
    return action[0], from_guide[0]


def guide_fields(guide: Any, obs: np.ndarray, action_dim: int):
    """(a_g(obs), λ(obs)) from ``guide``, or zeros when there is none."""
    if guide is None:
        return np.zeros(action_dim, np.float32), 0.0
    return guide(obs)


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
