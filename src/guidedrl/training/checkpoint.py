"""Writing checkpoints, and reading a training checkpoint's replay buffer back.

The format and reading a checkpoint's metadata and agent state live in
:mod:`guidedrl.checkpoint` (reading a trained policy needs nothing of ``training/``); its names
are re-exported here. A checkpoint is written to a temporary directory and renamed into place,
so an interrupted write leaves the previous checkpoint intact: a process killed between moving
the previous checkpoint aside (``checkpoint.old``) and renaming the new one into place leaves
only ``checkpoint.old``, which is read instead. Never pickle: loading never runs code.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import jax
from flax import serialization

from guidedrl.checkpoint import (  # noqa: F401  (re-exported: the format's names and its readers)
    AGENT,
    FORMAT_VERSION,
    IN_RUN,
    META,
    REPLAY,
    find_checkpoint,
    load_agent_state,
    read_meta,
    resolve_checkpoint_dir,
    run_dir_of,
)
from guidedrl.checkpoint import aside as _aside
from guidedrl.errors import CheckpointError


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
    old = _aside(directory)
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
