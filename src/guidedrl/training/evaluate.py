"""Deterministic evaluation of the deployed policy and of the guide-free actor (DESIGN.md, decision 6)."""

from __future__ import annotations

from functools import partial
from typing import Any, Optional

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from guidedrl import agent
from guidedrl.backbones import get_backbone
from guidedrl.types import GuideFields

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes never share reset seeds with training ones


@partial(jax.jit, static_argnames=("config", "guide_free"))
def deployed_action(config, state: agent.AgentState, obs, guide_action, confidence, guide_free: bool):
    """The deterministic action at one ``obs``, and whether the guide gave it.

    ``guide_free`` uses the actor alone everywhere; otherwise the strategy decides
    (the guide acts where λ(s) >= 0.5 for strategies that execute it).
    """
    obs = jnp.asarray(obs, jnp.float32)[None]
    if guide_free:
        action = get_backbone(config.algo).deterministic_action(config, state.backbone, obs)
        return action[0], jnp.zeros((), bool)
    guide = GuideFields(jnp.asarray(guide_action, jnp.float32)[None],
                        jnp.asarray(confidence, jnp.float32)[None])
    action, from_guide = agent.act(config, state, obs, guide, jax.random.PRNGKey(0), True)
    return action[0], from_guide[0]


def guide_fields(guide: Any, obs: np.ndarray, action_dim: int):
    """(a_g(obs), λ(obs)) from ``guide``, or zeros when there is none."""
    if guide is None:
        return np.zeros(action_dim, np.float32), 0.0
    return guide(obs)


def evaluate_policy(
    config,
    state: agent.AgentState,
    env: gym.Env,
    episodes: int,
    seed: int,
    guide: Optional[Any] = None,
    guide_free: bool = False,
) -> dict:
    """Run ``episodes`` deterministic episodes; episode i resets with seed ``seed + EVAL_SEED_OFFSET + i``.

    Returns mean and std of the return, per-episode returns and lengths, the number
    of steps flagged ``info["catastrophe"]``, and the guide's share of actions.
    """
    action_dim = int(np.prod(env.action_space.shape))
    returns, lengths, catastrophes = [], [], 0
    guide_steps = total_steps = 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + EVAL_SEED_OFFSET + episode)
        episode_return, length, done = 0.0, 0, False
        while not done:
            guide_action, confidence = guide_fields(guide, obs, action_dim)
            action, from_guide = deployed_action(config, state, obs, guide_action, confidence, guide_free)
            obs, reward, terminated, truncated, info = env.step(np.asarray(action))
            episode_return += float(reward)
            length += 1
            guide_steps += bool(from_guide)
            done = terminated or truncated
            catastrophes += bool(info.get("catastrophe", False))
        total_steps += length
        returns.append(episode_return)
        lengths.append(length)
    return {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "returns": returns,
        "lengths": lengths,
        "catastrophes": catastrophes,
        "guide_usage": guide_steps / max(total_steps, 1),
        "episodes": episodes,
    }
