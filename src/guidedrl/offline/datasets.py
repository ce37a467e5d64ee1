"""Offline datasets in Minari's format (0.5.x): reading one into transitions in the agent's spaces.

A dataset is named by its Minari id in the local store or by the path of its directory
(:mod:`guidedrl.offline.store` finds and opens it). Nothing is downloaded unless asked
(``download=True``).

Transitions are built per episode as Minari defines one: T actions, rewards, terminations and
truncations, and T+1 observations (the last is the state after the last step), so
``s = obs[:-1]``, ``s' = obs[1:]``; ``terminated`` stops bootstrapping, a truncation does not
(docs/ALGORITHMS.md, "AWAC"). Every episode is checked against the env before anything is returned:
a dataset that cannot be used raises :class:`~guidedrl.errors.DatasetError` naming the dataset,
the episode and the value.

Minari is imported lazily, inside the functions that read or write a dataset. Nothing here
imports ``guidedrl.training`` (the training loop imports this module).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

import gymnasium as gym
import numpy as np

from guidedrl.envs import action_bounds
from guidedrl.errors import DatasetError
from guidedrl.offline.store import open_dataset, read_episodes

ACTION_TOLERANCE = 1e-6
"""How far (relative to max(1, |bound|)) a dataset's action may lie outside the env's bounds."""


@dataclasses.dataclass(frozen=True)
class Transitions:
    """Transitions in the agent's spaces: observations flattened to float32 vectors, actions
    normalised to [-1, 1] with the env's bounds (as guidedrl.envs.make_env's RescaleAction does)."""

    obs: np.ndarray
    """(N, obs_dim) float32: the state s of each transition."""
    action: np.ndarray
    """(N, action_dim) float32 in [-1, 1]: the action taken in s, normalised with the env's bounds."""
    reward: np.ndarray
    """(N,) float32."""
    next_obs: np.ndarray
    """(N, obs_dim) float32: the state s' after the action."""
    terminated: np.ndarray
    """(N,) float32 0/1: s' is terminal (bootstrap mask = 1 - terminated)."""
    truncated: np.ndarray
    """(N,) float32 0/1: the last step of an episode that did not terminate (bookkeeping only)."""
    episodes: int
    """Number of episodes the transitions came from."""
    name: str
    """The dataset id or path as given."""
    cost: Optional[np.ndarray] = None
    """(N,) float32: the catastrophe label of each step from the step infos (1, 0), -1 where the
    dataset does not say (guidedrl.risk learns nothing from those rows)."""

    def __len__(self) -> int:
        return int(self.reward.shape[0])


def load_transitions(spec: str, env: gym.Env, download: bool = False) -> Transitions:
    """Read the dataset ``spec`` (a Minari id in the local store, or a dataset directory's path)
    and check it against ``env``: the raw env (``gym.make`` of its id) or one made by
    :func:`guidedrl.envs.make_env`.

    Actions are normalised with the bounds of ``env.unwrapped.action_space``
    (:func:`~guidedrl.envs.action_bounds`); a Dict/Tuple observation is flattened with
    ``gymnasium.spaces.flatten`` over the env's own observation space, as
    ``gymnasium.wrappers.FlattenObservation`` does. Raises :class:`DatasetError` when the dataset
    is missing (listing the local ids), empty, has an episode whose observations are not one more
    than its actions, holds a NaN or an infinity, or has observations, actions or action values
    that do not fit the env."""
    dataset = open_dataset(spec, download)
    if dataset.total_episodes == 0:
        raise DatasetError(f"dataset {spec!r} is empty: it holds 0 episodes")
    low, high = (np.asarray(bound, np.float64) for bound in action_bounds(env))
    obs_space = _observation_space(env)
    obs_dim = int(gym.spaces.flatdim(env.observation_space))
    _check_action_space(spec, dataset.action_space, low, high)
    parts: Dict[str, List[np.ndarray]] = {name: [] for name in
                                          ("obs", "action", "reward", "next_obs", "terminated", "truncated", "cost")}
    episodes = 0
    for episode in read_episodes(spec, dataset):
        rows = _episode_transitions(spec, episode, obs_space, obs_dim, low, high)
        for name, array in rows.items():
            parts[name].append(array)
        episodes += 1
    fields = {name: np.concatenate(arrays) for name, arrays in parts.items()}
    if len(fields["reward"]) == 0:
        raise DatasetError(f"dataset {spec!r} is empty: its {episodes} episodes hold 0 steps")
    return Transitions(**fields, episodes=episodes, name=spec)


# -- checks and conversion ---------------------------------------------------------------------


def normalize_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Env-unit actions to [-1, 1] (the inverse of :func:`denormalize_actions`), in float64."""
    center, half = 0.5 * (high + low), 0.5 * (high - low)
    return (np.asarray(actions, np.float64) - center) / half


def denormalize_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[-1, 1] actions to env units, ``center + a * half`` in float64 as ``Run.act`` computes it
    (exact for symmetric bounds, where a float32 action maps to twice itself and back)."""
    center, half = 0.5 * (high + low), 0.5 * (high - low)
    return center + np.asarray(actions, np.float64) * half


def _observation_space(env: gym.Env) -> gym.Space:
    """The env's observation space before guidedrl's flattening (what a dataset of this env
    records), found below a ``FlattenObservation`` wrapper if there is one."""
    layer = env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, gym.wrappers.FlattenObservation):
            return layer.env.observation_space
        layer = layer.env
    return env.observation_space


def _check_action_space(spec: str, space: gym.Space, low: np.ndarray, high: np.ndarray) -> None:
    """The dataset's declared action space must be a Box, in the env's units where it has the
    env's shape (a dataset of normalised actions would pass the bounds check but be wrong)."""
    if not isinstance(space, gym.spaces.Box):
        raise DatasetError(
            f"dataset {spec!r} has action space {space}; guidedrl needs continuous (Box) actions"
        )
    if space.shape != low.shape:
        return  # the episodes' actions are checked one by one, with the episode named
    declared_low, declared_high = space.low.astype(np.float64), space.high.astype(np.float64)
    tolerance = _tolerance(low, high)
    if np.any(np.abs(declared_low - low) > tolerance) or np.any(np.abs(declared_high - high) > tolerance):
        raise DatasetError(
            f"dataset {spec!r} declares actions between low {_fmt(declared_low)} and high {_fmt(declared_high)}; "
            f"the env's are between low {_fmt(low)} and high {_fmt(high)} (a dataset records actions in the env's "
            "own units)"
        )


def _episode_transitions(spec: str, episode: Any, obs_space: gym.Space, obs_dim: int,
                         low: np.ndarray, high: np.ndarray) -> Dict[str, np.ndarray]:
    where = f"dataset {spec!r}, episode {int(episode.id)}"
    actions = np.asarray(episode.actions)
    if actions.dtype == object or actions.ndim == 0:
        raise DatasetError(f"{where}: actions are {type(episode.actions).__name__}, expected an array")
    steps = int(actions.shape[0])
    for name in ("rewards", "terminations", "truncations"):
        length = len(np.asarray(getattr(episode, name)).reshape(-1))
        if length != steps:
            raise DatasetError(f"{where}: {length} {name} for {steps} actions; expected one per action")
    obs = _flatten_rows(obs_space, episode.observations, steps + 1, where, "observations")
    if obs.shape[1] != obs_dim:
        raise DatasetError(
            f"{where}: observations of shape ({obs.shape[1]},) (flattened); the env's have shape ({obs_dim},)"
        )
    _check_finite(obs, where, "observation")
    action_width = int(np.prod(actions.shape[1:], dtype=np.int64))
    if action_width != low.shape[0]:
        raise DatasetError(
            f"{where}: actions of shape {tuple(actions.shape[1:])}; the env's have shape {tuple(low.shape)}"
        )
    if actions.dtype.kind not in "biuf":
        raise DatasetError(f"{where}: actions of dtype {actions.dtype}; expected numbers")
    actions = actions.reshape(steps, action_width).astype(np.float64)
    _check_finite(actions, where, "action")
    tolerance = _tolerance(low, high)
    outside = np.any((actions < low - tolerance) | (actions > high + tolerance), axis=1)
    if np.any(outside):
        step = int(np.argmax(outside))
        raise DatasetError(
            f"{where}, step {step}: action {_fmt(actions[step])} is outside the env's bounds "
            f"(low {_fmt(low)}, high {_fmt(high)})"
        )
    rewards = np.asarray(episode.rewards).reshape(-1)
    if rewards.dtype.kind not in "biuf":
        raise DatasetError(f"{where}: rewards of dtype {rewards.dtype}; expected numbers")
    rewards = rewards.astype(np.float32)
    _check_finite(rewards, where, "reward")
    terminated = np.asarray(episode.terminations).reshape(-1).astype(bool)
    if steps and np.any(terminated[:-1]):
        step = int(np.argmax(terminated[:-1]))
        raise DatasetError(
            f"{where}, step {step}: terminated before the episode's last step {steps - 1} (an episode ends "
            "where it terminates)"
        )
    truncated = np.asarray(episode.truncations).reshape(-1).astype(bool)
    if steps:
        truncated[-1] |= not terminated[-1]  # an episode cut short, or by a time limit, bootstraps
    normalized = np.clip(normalize_actions(actions, low, high), -1.0, 1.0)
    return {
        "obs": obs[:-1],
        "action": normalized.astype(np.float32),
        "reward": rewards,
        "next_obs": obs[1:],
        "terminated": terminated.astype(np.float32),
        "truncated": truncated.astype(np.float32),
        "cost": _catastrophe_labels(episode, steps, where),
    }


def _catastrophe_labels(episode: Any, steps: int, where: str) -> np.ndarray:
    """(steps,) float32: each step's catastrophe label from the episode's step infos (Minari keeps
    one info per observation, the reset's first): 1.0 or 0.0 from ``catastrophe``, else ``cost``
    clipped to [0, 1], else -1.0, unknown (never taken as 0: the risk critic learns nothing from it)."""
    infos = getattr(episode, "infos", None) or {}
    for key in ("catastrophe", "cost"):
        if key not in infos:
            continue
        values = np.asarray(infos[key])
        if values.dtype.kind not in "biuf" or values.reshape(-1).shape[0] not in (steps, steps + 1):
            raise DatasetError(f"{where}: infos[{key!r}] of dtype {values.dtype} and shape {values.shape}; "
                               f"expected {steps + 1} numbers (one per observation)")
        values = values.reshape(-1).astype(np.float64)[-steps:] if steps else np.zeros(0)
        if not np.all(np.isfinite(values)):
            raise DatasetError(f"{where}: a non-finite infos[{key!r}]")
        return np.clip(values, 0.0, 1.0).astype(np.float32) if key == "cost" else (values != 0).astype(np.float32)
    return np.full(steps, -1.0, np.float32)


def _flatten_rows(space: gym.Space, data: Any, rows: int, where: str, what: str) -> np.ndarray:
    """(rows, flatdim) float32: each row flattened as ``gymnasium.spaces.flatten(space, row)``
    (Box leaves reshaped in one go, Dict keys in the space's order, Tuple entries in order)."""
    if isinstance(space, gym.spaces.Dict):
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: {what} are {_kind(data)}; the env's observation space is {space}")
        missing = [key for key in space.spaces if key not in data]
        if missing:
            raise DatasetError(
                f"{where}: {what} have keys {sorted(data)}; the env's observation space needs {list(space.spaces)}"
            )
        parts = [_flatten_rows(sub, data[key], rows, where, f"{what}[{key!r}]") for key, sub in space.spaces.items()]
        return np.concatenate(parts, axis=1) if parts else np.zeros((rows, 0), np.float32)
    if isinstance(space, gym.spaces.Tuple):
        if not isinstance(data, (tuple, list)) or len(data) != len(space.spaces):
            raise DatasetError(f"{where}: {what} are {_kind(data)}; the env's observation space is {space}")
        parts = [_flatten_rows(sub, part, rows, where, f"{what}[{i}]")
                 for i, (sub, part) in enumerate(zip(space.spaces, data))]
        return np.concatenate(parts, axis=1) if parts else np.zeros((rows, 0), np.float32)
    if isinstance(data, (dict, tuple)):
        raise DatasetError(f"{where}: {what} are {_kind(data)}; the env's observation space is {space}")
    array = np.asarray(data)
    if array.ndim == 0 or array.dtype.kind not in "biuf":
        raise DatasetError(f"{where}: {what} are {_kind(data)}; expected numbers for {space}")
    if array.shape[0] != rows:
        raise DatasetError(
            f"{where}: {array.shape[0]} {what} for {rows - 1} actions; an episode holds one more observation "
            "than actions (the state after its last step)"
        )
    if isinstance(space, gym.spaces.Box):
        flat = array.reshape(rows, -1)
    else:  # Discrete, MultiDiscrete, MultiBinary: flatten as Gymnasium does (one-hot, ...)
        width = int(np.prod(space.shape, dtype=np.int64)) if space.shape else 1
        if int(np.prod(array.shape[1:], dtype=np.int64)) != width:
            raise DatasetError(f"{where}: {what} of shape {tuple(array.shape[1:])}; the env's space is {space}")
        try:
            flat = np.stack([gym.spaces.flatten(space, row.reshape(space.shape) if space.shape else row.item())
                             for row in array.reshape(rows, -1)])
        except Exception as error:
            raise DatasetError(f"{where}: {what} do not fit the env's space {space}: {error}") from None
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf, refused below
        return flat.astype(np.float32)


def _check_finite(values: np.ndarray, where: str, what: str) -> None:
    bad = ~np.isfinite(values)
    if np.any(bad):
        index = np.argwhere(bad)[0]
        step = int(index[0])
        value = values[tuple(index)]
        row = f" {_fmt(values[step])}" if values.ndim > 1 and values.shape[1] <= 8 else ""
        raise DatasetError(f"{where}, step {step}: non-finite {what} value {value}{row}")


def _tolerance(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return ACTION_TOLERANCE * np.maximum(1.0, np.maximum(np.abs(low), np.abs(high)))


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{float(v):.6g}" for v in np.asarray(values).reshape(-1)) + "]"


def _kind(data: Any) -> str:
    if isinstance(data, dict):
        return f"a dict with keys {sorted(data)}"
    if isinstance(data, (tuple, list)):
        return f"a {type(data).__name__} of {len(data)}"
    array = np.asarray(data)
    return f"an array of shape {array.shape} and dtype {array.dtype}"


__all__ = ["Transitions", "load_transitions", "normalize_actions", "denormalize_actions"]
