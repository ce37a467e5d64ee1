"""Deterministic evaluation of the deployed policy and of the guide-free actor (docs/DESIGN.md, decision 6).

The act function itself (``mixed_actions``, ``guide_fields``) lives in :mod:`guidedrl.policy`."""

from __future__ import annotations

from functools import partial
from typing import Any, List, Optional, Sequence, Union

import gymnasium as gym
import jax
import numpy as np

from guidedrl import agent
from guidedrl.policy import guide_fields, mixed_actions
from guidedrl.types import EpisodeClock

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
    return evaluate_policies(config, state, env, episodes, seed, guide, modes=(guide_free,))[0]


def evaluate_policies(
    config,
    state: agent.AgentState,
    env: Union[gym.Env, Sequence[gym.Env]],
    episodes: int,
    seed: int,
    guide: Optional[Any] = None,
    modes: Sequence[bool] = (False, True),
    packing: Optional[Any] = None,
    horizon: Optional[int] = None,
) -> List[dict]:
    """:func:`evaluate_policy` for each of ``modes`` (``guide_free`` flags: by default the deployed
    policy and the actor alone), all their episodes side by side: one batched policy call per
    step for every env of every mode. ``env`` is a list of ``len(modes) * episodes`` copies of
    one env for that (fewer run the episodes in turns). The guide is asked only where it can act
    (not in the actor-alone episodes). Same results as one :func:`evaluate_policy` after another,
    up to float32 rounding. With ``packing`` (a :class:`~guidedrl.training.flat.Packing`),
    ``state`` is the training loop's packed state. ``horizon``: the jump-start horizon h of the
    deployed policy's episodes (JSRL: the guide's side acts in their first h steps); None for a
    strategy without one."""
    envs = list(env) if isinstance(env, (list, tuple)) else [env]
    if len(envs) < len(modes):  # not one env per mode: the modes in turns
        return [evaluate_policies(config, state, envs, episodes, seed, guide, (mode,), packing, horizon)[0]
                for mode in modes]
    width = max(1, min(len(envs) // len(modes), episodes))
    slots = [(mode, slot) for mode in range(len(modes)) for slot in range(width)]
    action_dim = int(np.prod(envs[0].action_space.shape))
    obs_dim = int(np.prod(envs[0].observation_space.shape))
    free = np.array([bool(modes[mode]) for mode, _ in slots])
    results = [_Tally(episodes) for _ in modes]
    current: List[Optional[int]] = [None] * len(slots)  # the episode each slot is running
    obs = np.zeros((len(slots), obs_dim), np.float32)
    guide_action = np.zeros((len(slots), action_dim), np.float32)
    confidence = np.zeros(len(slots), np.float32)
    steps = np.zeros(len(slots), np.int32)  # each slot's step within its episode (the EpisodeClock)
    horizons = np.full(len(slots), horizon or 0, np.int32)

    def observe(index: int, observation) -> None:
        obs[index] = np.asarray(observation, np.float32).reshape(-1)
        if not free[index]:
            guide_action[index], confidence[index] = guide_fields(guide, obs[index], action_dim)

    def begin(index: int, episode: int) -> None:
        current[index] = episode if episode < episodes else None
        steps[index] = 0
        if current[index] is not None:
            observe(index, envs[index].reset(seed=seed + EVAL_SEED_OFFSET + episode)[0])

    for index, (_, slot) in enumerate(slots):
        begin(index, slot)
    while any(episode is not None for episode in current):
        clock = None if horizon is None else EpisodeClock(steps, horizons)
        if packing is None:
            chosen = mixed_actions(config, state, obs, guide_action, confidence, free, clock)
        else:
            chosen = _packed_mixed_actions(config, packing, state, obs, guide_action, confidence, free, clock)
        actions, from_guide = jax.device_get(chosen)
        for index, episode in enumerate(current):
            if episode is None:
                continue
            next_obs, reward, terminated, truncated, info = envs[index].step(actions[index])
            results[slots[index][0]].add(episode, reward, from_guide[index], info)
            if terminated or truncated:
                begin(index, episode + width)
            else:
                steps[index] += 1
                observe(index, next_obs)
    return [tally.summary() for tally in results]


@partial(jax.jit, static_argnames=("config", "packing"))
def _packed_mixed_actions(config, packing, flat_state, obs, guide_action, confidence, guide_free, clock=None):
    """:func:`~guidedrl.policy.mixed_actions` on the training loop's packed state (one buffer per
    dtype in, instead of every leaf)."""
    return mixed_actions(config, packing.unpack(flat_state), obs, guide_action, confidence, guide_free, clock)


class _Tally:
    """One policy's evaluation episodes as they run."""

    def __init__(self, episodes: int):
        self.returns, self.lengths = [0.0] * episodes, [0] * episodes
        self.catastrophes = self.guide_steps = 0

    def add(self, episode: int, reward: float, from_guide: bool, info: dict) -> None:
        self.returns[episode] += float(reward)
        self.lengths[episode] += 1
        self.guide_steps += bool(from_guide)
        self.catastrophes += bool(info.get("catastrophe", False))

    def summary(self) -> dict:
        return {
            "mean_return": float(np.mean(self.returns)),
            "std_return": float(np.std(self.returns)),
            "returns": self.returns,
            "lengths": self.lengths,
            "catastrophes": self.catastrophes,
            "guide_usage": self.guide_steps / max(sum(self.lengths), 1),
            "episodes": len(self.returns),
        }
