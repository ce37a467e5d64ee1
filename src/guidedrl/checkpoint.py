"""Checkpoints, in one place: the format, writing one, and reading one back.

Never pickle: loading a checkpoint never runs code. A checkpoint is a directory::

    meta.json        format_version, kind ("training" or "policy"), config, spaces, counters
    agent.msgpack    the AgentState pytree (flax.serialization)
    replay.msgpack   training checkpoints only: the filled replay buffer

:func:`save_checkpoint` writes it to a temporary directory renamed into place, so an
interrupted write leaves the previous checkpoint intact: a process killed between moving the
previous checkpoint aside (``checkpoint.old``) and renaming the new one into place leaves only
``checkpoint.old``, which :func:`find_checkpoint` reads instead. :func:`read_meta` and
:func:`load_agent_state` read what a trained policy needs (:func:`guidedrl.policy.read_policy`),
:func:`load_replay_state` what resuming a training run needs besides. Nothing here imports
``training/``: reading a policy needs none of it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import jax
import numpy as np
from flax import serialization

from guidedrl.errors import CheckpointError

FORMAT_VERSION = 1
META = "meta.json"
AGENT = "agent.msgpack"
REPLAY = "replay.msgpack"
IN_RUN = "checkpoint"
"""A run directory's training checkpoint is its subdirectory of this name."""


def aside(directory: Path) -> Path:
    """Where the previous checkpoint of ``directory`` is moved while a new one is renamed into place."""
    return directory.with_name(directory.name + ".old")


def find_checkpoint(path: os.PathLike) -> Optional[Path]:
    """The checkpoint at ``path`` (a checkpoint directory or a run directory holding
    ``checkpoint/``), or the previous one a write cut short left aside; None if there is none."""
    path = Path(path)
    for directory in (path, path / IN_RUN):
        for candidate in (directory, aside(directory)):
            if (candidate / META).is_file():
                return candidate
    return None


def run_dir_of(directory: os.PathLike) -> Optional[Path]:
    """The run directory a checkpoint found by :func:`find_checkpoint` belongs to, or None for a
    checkpoint saved on its own (``Run.save``)."""
    directory = Path(directory)
    return directory.parent if directory.name in (IN_RUN, aside(Path(IN_RUN)).name) else None


def resolve_checkpoint_dir(path: os.PathLike) -> Path:
    """Accept a checkpoint directory or a run directory holding ``checkpoint/``."""
    path = Path(path)
    found = find_checkpoint(path)
    if found is not None:
        return found
    raise CheckpointError(
        f"no checkpoint at {str(path)!r}: expected {META} there or in {str(path / IN_RUN)!r}"
    )


def read_meta(path: os.PathLike) -> dict:
    """The checked metadata of the checkpoint at ``path``."""
    directory = resolve_checkpoint_dir(path)
    try:
        meta = json.loads((directory / META).read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"corrupt checkpoint {str(directory)!r}: {META} unreadable ({error})") from None
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise CheckpointError(f"corrupt checkpoint {str(directory)!r}: {META} has no format_version")
    if meta["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {str(directory)!r} has format version {meta['format_version']!r}; "
            f"this guidedrl reads format version {FORMAT_VERSION}"
        )
    meta["directory"] = str(directory)
    return meta


def _check_like(restored: Any, template: Any, what: str, directory: Path) -> None:
    restored_leaves, restored_def = jax.tree_util.tree_flatten(restored)
    template_leaves, template_def = jax.tree_util.tree_flatten(template)
    if restored_def != template_def:
        raise CheckpointError(f"corrupt checkpoint {str(directory)!r}: {what} has another structure")
    for got, want in zip(restored_leaves, template_leaves):
        if np.shape(got) != tuple(want.shape):
            raise CheckpointError(
                f"corrupt checkpoint {str(directory)!r}: {what} holds an array of shape "
                f"{np.shape(got)} where {tuple(want.shape)} was expected"
            )


def load_agent_state(meta: dict, template: Any) -> Any:
    """The agent state stored beside ``meta``, restored into the structure of ``template``."""
    directory = Path(meta["directory"])
    try:
        raw = (directory / AGENT).read_bytes()
        state_dict = serialization.msgpack_restore(raw)
        restored = serialization.from_state_dict(template, state_dict)
    except CheckpointError:
        raise
    except Exception as error:  # msgpack and flax raise many kinds on bad bytes
        raise CheckpointError(
            f"corrupt checkpoint {str(directory)!r}: {AGENT} could not be decoded ({type(error).__name__}: {error})"
        ) from None
    _check_like(restored, template, AGENT, directory)
    return jax.tree_util.tree_map(
        lambda leaf, want: np.asarray(leaf, dtype=want.dtype), restored, template
    )


def save_checkpoint(
    directory: os.PathLike,
    meta: dict,
    agent_state: Any,
    replay_state: Optional[dict] = None,
) -> Path:
    """Write a checkpoint to ``directory`` atomically; returns its path.

    A write that fails (a full disk, say) raises :class:`OSError` with the path of the file it
    could not write as ``filename``, leaves the previous checkpoint in place and no temporary
    directory behind."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + f".tmp-{os.getpid()}")
    meta = {"format_version": FORMAT_VERSION, **meta,
            "kind": "training" if replay_state is not None else "policy"}
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        write_file(tmp / AGENT, serialization.to_bytes(jax.device_get(agent_state)))
        if replay_state is not None:
            write_file(tmp / REPLAY, serialization.msgpack_serialize(replay_state))
        write_file(tmp / META, json.dumps(meta, indent=2).encode())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = aside(directory)
    if directory.exists():
        if old.exists():
            shutil.rmtree(old)
        directory.rename(old)
    tmp.rename(directory)
    if old.exists():
        shutil.rmtree(old)
    return directory


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``; an :class:`OSError` names ``path`` (a failed ``write`` alone
    would not)."""
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError as error:
        if error.filename is None:
            error.filename = str(path)
        raise


def load_replay_state(meta: dict) -> dict:
    """The replay buffer's state dict stored beside ``meta`` (training checkpoints only)."""
    directory = Path(meta["directory"])
    if meta.get("kind") != "training":
        raise CheckpointError(
            f"checkpoint {str(directory)!r} is a policy checkpoint; resuming needs a training checkpoint"
        )
    try:
        state = serialization.msgpack_restore((directory / REPLAY).read_bytes())
        if not {"capacity", "position", "size", "data"} <= set(state):
            raise ValueError("missing fields")
    except Exception as error:
        raise CheckpointError(
            f"corrupt checkpoint {str(directory)!r}: {REPLAY} could not be decoded ({type(error).__name__}: {error})"
        ) from None
    return state
