"""A training run's replay buffer as a Minari dataset (:func:`from_run`), in time order, split
into episodes, in the env's own spaces and units (written by :mod:`guidedrl.offline.write`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import gymnasium as gym
import numpy as np

from guidedrl import checkpoint
from guidedrl.envs import check_env_id, make_env
from guidedrl.errors import CheckpointError, DatasetError, EnvError
from guidedrl.offline.datasets import denormalize_actions
from guidedrl.offline.store import COMMAND_KEY, VERSION_KEY, import_minari
from guidedrl.offline.write import below_guidedrl_wrappers, check_new_id, stack_rows, write_dataset
from guidedrl.version import __version__


def from_run(
    run_dir: Union[str, os.PathLike],
    dataset_id: str,
    command: Optional[str] = None,
    *,
    author: Optional[str] = None,
    author_email: Optional[str] = None,
    code_permalink: Optional[str] = None,
    trust_code: bool = False,
) -> Path:
    """Export the replay buffer of a training run (its ``checkpoint/``) as the Minari dataset
    ``dataset_id``; returns its directory.

    The stored rows are written in time order (once the ring buffer has wrapped, the oldest row
    is at its ``position``), actions converted from [-1, 1] to the env's units with the run's
    bounds, split into episodes where a row is terminated or truncated (and where a row's s' is
    not the next row's s, which the loop never writes). The first episode, when the wrap cut
    its start, and the last, unfinished one are exported as they are, the last marked truncated
    at its last step. A preloaded dataset kept beside the ring buffer is not exported. The env
    the run names is made for its spaces and spec; one that would import a module
    (``module:EnvName``) needs ``trust_code``."""
    minari = import_minari()
    if command is None:
        command = f"guidedrl.offline.from_run({str(run_dir)!r}, {dataset_id!r})"
    meta = checkpoint.read_meta(run_dir)
    state = checkpoint.load_replay_state(meta)
    path = check_new_id(dataset_id)
    config = meta.get("config") or {}
    try:
        low = np.asarray(meta["action_low"], np.float64)
        high = np.asarray(meta["action_high"], np.float64)
        env_id = str(config["env"])
        capacity, position, size = int(state["capacity"]), int(state["position"]), int(state["size"])
        data = {name: np.asarray(state["data"][name], np.float32) for name in
                ("obs", "action", "reward", "next_obs", "terminated", "truncated")}
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"corrupt checkpoint {meta['directory']!r}: {type(error).__name__}: {error}"
        ) from None
    if size == 0:
        raise DatasetError(f"the replay buffer of {str(run_dir)!r} is empty: nothing to export")
    order = (position + np.arange(size)) % capacity if size == capacity else np.arange(size)
    rows = {name: array[order] for name, array in data.items()}

    raw = _env_for_export(env_id, meta, trust_code)
    try:
        buffers = _replay_episodes(rows, raw, low, high, str(run_dir), env_id)
    finally:
        raw.close()

    algo, guidance = config.get("algo", "?"), config.get("guidance", "?")
    guide_name = meta.get("guide") or config.get("guide")
    name = f"guidedrl {algo}/{guidance} replay buffer" + (f" (guide {guide_name})" if guidance != "none" else "")
    step = meta.get("step")
    description = (f"The replay buffer of the guidedrl {__version__} run {os.path.abspath(str(run_dir))} "
                   f"({algo}/{guidance} on {env_id}, seed {config.get('seed')}"
                   + (f", saved at step {step}" if step is not None else "")
                   + f"): {size} transitions in time order, in {len(buffers)} episodes; actions in the env's units. "
                   f"Command: {command}")
    extra = {COMMAND_KEY: command, VERSION_KEY: __version__}
    write_dataset(minari, dataset_id, path, buffers, raw, raw.spec, name, description, extra, author, author_email,
           code_permalink)
    return path


def _replay_episodes(rows: Dict[str, np.ndarray], raw: gym.Env, low: np.ndarray, high: np.ndarray, run_dir: str,
                     env_id: str) -> list:
    """Time-ordered replay rows as Minari ``EpisodeBuffer`` s, in the env's own spaces and units."""
    from minari.data_collector import EpisodeBuffer

    obs_space, action_space = raw.observation_space, raw.action_space
    if gym.spaces.flatdim(obs_space) != rows["obs"].shape[1]:
        raise DatasetError(
            f"the replay buffer of {run_dir!r} holds observations of shape ({rows['obs'].shape[1]},); the env "
            f"{env_id!r} has {obs_space}"
        )
    if action_space.shape != low.shape:
        raise DatasetError(
            f"the replay buffer of {run_dir!r} holds actions of shape {low.shape}; the env {env_id!r} has {action_space}"
        )
    actions = denormalize_actions(rows["action"], low, high).astype(action_space.dtype)
    actions = np.clip(actions, action_space.low, action_space.high)
    buffers = []
    for episode, (start, stop) in enumerate(_episode_bounds(rows)):
        observations = np.concatenate([rows["obs"][start:stop], rows["next_obs"][stop - 1:stop]])
        terminations = rows["terminated"][start:stop] > 0.5
        truncations = rows["truncated"][start:stop] > 0.5
        if not (terminations[-1] or truncations[-1]):
            truncations[-1] = True  # the unfinished last episode (or one cut where s' is not the next s)
        cost = rows["cost"][start:stop] if "cost" in rows else np.full(stop - start, -1.0)
        known = bool(np.all(cost >= 0.0))  # the run's catastrophe labels, where its env reported them
        buffers.append(EpisodeBuffer(
            id=episode, observations=_unflatten_rows(obs_space, observations), actions=actions[start:stop],
            rewards=rows["reward"][start:stop].astype(np.float64).tolist(),
            terminations=terminations.tolist(), truncations=truncations.tolist(),
            infos={"catastrophe": np.concatenate([[False], cost >= 1.0])} if known else None))
    return buffers


def _episode_bounds(rows: Dict[str, np.ndarray]) -> List[Tuple[int, int]]:
    """(start, stop) of each episode in time-ordered rows: a row ends one when it is terminated
    or truncated, or when its s' is not the next row's s."""
    count = len(rows["reward"])
    ends = (rows["terminated"] > 0.5) | (rows["truncated"] > 0.5)
    ends[:-1] |= np.any(rows["next_obs"][:-1] != rows["obs"][1:], axis=1)
    ends[-1] = True
    stops = np.flatnonzero(ends) + 1
    starts = np.concatenate([[0], stops[:-1]])
    assert stops[-1] == count
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def _env_for_export(env_id: str, meta: dict, trust_code: bool) -> gym.Env:
    """The env a run was trained on (below guidedrl's wrappers), for its spaces and spec."""
    check_env_id(env_id, trust_code, os.path.join(meta["directory"], checkpoint.META))
    try:
        return below_guidedrl_wrappers(make_env(env_id))
    except EnvError as error:
        raise DatasetError(
            f"cannot make the env {env_id!r} the run was trained on, whose spaces and spec the dataset records: {error}"
        ) from None


def _unflatten_rows(space: gym.Space, flat: np.ndarray) -> Any:
    """Flattened float32 observations back into the env's space (``gymnasium.spaces.unflatten``)."""
    if isinstance(space, gym.spaces.Box):
        return flat.reshape((flat.shape[0],) + space.shape).astype(space.dtype)
    return stack_rows([gym.spaces.unflatten(space, row) for row in flat])


__all__ = ["from_run"]
