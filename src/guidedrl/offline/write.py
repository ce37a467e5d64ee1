"""Writing a Minari dataset into the local store, shared by :func:`~guidedrl.offline.collect`
(a policy's rollouts) and :func:`~guidedrl.offline.from_run` (a run's replay buffer).

A dataset records what the env saw: its own observations (a Dict observation stays a Dict) and
the actions executed, in the env's own units, so that any Minari reader sees the env's real
spaces; guidedrl's reader (:func:`guidedrl.offline.datasets.load_transitions`) flattens and
normalises them again. The env spec is recorded (built-in tasks in the ``guidedrl/`` namespace,
which ``import guidedrl.envs`` registers), with Minari's provenance fields and, under extra
metadata keys Minari keeps, the command that made the dataset and the guidedrl version.

Datasets are written with Minari's ``create_dataset_from_buffers``, once every episode has
been collected: an interrupted collection leaves no dataset behind.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import gymnasium as gym
import numpy as np

from guidedrl.errors import DatasetError, GuidedRLError
from guidedrl.offline.store import parse_id


def check_new_id(dataset_id: str) -> Path:
    """The store directory a new dataset ``dataset_id`` will be written to; refuses an id that
    is not ``NAMESPACE/NAME-vN`` or that the local store already holds."""
    namespace, _, version = parse_id(dataset_id)
    if namespace is None or version is None:
        raise DatasetError(
            f"dataset id {dataset_id!r} needs a namespace and a version: NAMESPACE/NAME-vN, e.g. "
            f"guidedrl/{dataset_id.split('/')[-1].rsplit('-v', 1)[0] or 'name'}-v0"
        )
    from minari.storage.datasets_root_dir import get_dataset_path

    path = Path(get_dataset_path(dataset_id))
    if path.exists():
        raise DatasetError(
            f"dataset {dataset_id!r} already exists at {str(path)!r}; choose another name or version "
            f"(-v{version + 1}), or delete it with `minari delete {dataset_id}`"
        )
    return path


_NONE_WARNINGS = r"`(code_permalink|author|author_email|description|eval_env)` is set to None"


def write_dataset(minari: Any, dataset_id: str, path: Path, buffers: list, raw: gym.Env, env_spec: Any,
                  algorithm_name: str, description: str, extra: Dict[str, Any], author: Optional[str],
                  author_email: Optional[str], code_permalink: Optional[str]) -> None:
    """Create the dataset from its episodes (spaces: the raw env's; env spec: ``env_spec``, or
    none when the env has no spec), then add guidedrl's own metadata keys and the per-episode
    statistics Minari's DataCollector writes (rewards_sum, ...); a failure removes what was
    written."""
    try:
        with warnings.catch_warnings():
            # Minari warns for each provenance field left None (which we leave None unless given)
            warnings.filterwarnings("ignore", message=_NONE_WARNINGS, category=UserWarning)
            dataset = minari.create_dataset_from_buffers(
                dataset_id, buffers, env=env_spec, algorithm_name=algorithm_name, author=author,
                author_email=author_email, code_permalink=code_permalink,
                observation_space=raw.observation_space, action_space=raw.action_space, description=description,
            )
        dataset.storage.update_metadata(extra)
        statistics = minari.EpisodeMetadataCallback()
        dataset.storage.update_episode_metadata(dataset.storage.apply(statistics))
    except BaseException as error:
        shutil.rmtree(path, ignore_errors=True)
        if isinstance(error, (GuidedRLError, KeyboardInterrupt)) or not isinstance(error, Exception):
            raise
        raise DatasetError(
            f"cannot write dataset {dataset_id!r} at {str(path)!r}: {type(error).__name__}: "
            f"{' '.join(str(error).split())}"
        ) from error


def below_guidedrl_wrappers(env: gym.Env) -> gym.Env:
    """The env under the wrappers :func:`~guidedrl.envs.make_env` adds (action rescaling,
    observation flattening): what a dataset records, in the env's own units and spaces."""
    while isinstance(env, (gym.wrappers.RescaleAction, gym.wrappers.FlattenObservation)):
        env = env.env
    return env


def stack_rows(rows: List[Any]) -> Any:
    """Per-step observations stacked along a first axis, through dicts and tuples."""
    first = rows[0]
    if isinstance(first, dict):
        return {key: stack_rows([row[key] for row in rows]) for key in first}
    if isinstance(first, tuple):
        return tuple(stack_rows([row[i] for row in rows]) for i in range(len(first)))
    return np.stack([np.asarray(row) for row in rows])


__all__ = ["check_new_id", "write_dataset", "below_guidedrl_wrappers", "stack_rows"]
