"""The offline phase: gradient steps on the dataset alone, in jitted chunks that end on every
evaluation and checkpoint boundary, each followed by the evaluation and checkpoint due there."""

from __future__ import annotations

import math
from typing import Any

import jax

from guidedrl.config import Config

from guidedrl.training.evaluation import evaluate_and_log
from guidedrl.training.failures import StopFlag, guarded, interrupt, save_checkpoint
from guidedrl.training.jitted import offline_update
from guidedrl.training.state import Loop, NonFinite, StepFailed, rate


def offline_phase(loop: Loop, stop: "StopFlag", bar: Any) -> None:
    """Gradient steps on the dataset alone up to ``offline_steps``, in chunks that end on every
    evaluation and checkpoint boundary (so a resumed run draws the same chunks), each followed
    by the evaluation and checkpoint due there; the last one is always evaluated and saved."""
    config, progress = loop.config, loop.progress
    task = bar.add_task("offline", total=config.offline_steps, completed=progress.offline_step,
                        ret=math.nan, sps=0.0) if bar is not None else None
    rows = jax.device_put(loop.buffer.storage[: loop.buffer.dataset_size])
    while progress.offline_step < config.offline_steps:
        if stop.raised:
            interrupt(loop)
        guarded(loop, lambda loop: offline_chunk(loop, rows))
        done = progress.offline_step
        if done % config.offline_evaluation_interval == 0 or done == config.offline_steps:
            progress.evaluation_pending = True
            guarded(loop, evaluate_and_log)
        if done % config.checkpoint_every == 0 or done == config.offline_steps:
            save_checkpoint(loop)
        if bar is not None:
            last = loop.rows[-1]["eval_return"] if loop.rows else math.nan
            bar.update(task, completed=done, ret=last, sps=rate(loop))


def next_offline_boundary(config: Config, done: int) -> int:
    """Where the chunk starting at offline step ``done`` ends: the next multiple of the chunk
    length, the evaluation interval or the checkpoint interval, or the phase's end."""
    def following(every: int) -> int:
        return (done // every + 1) * every

    return min(following(config.offline_chunk), following(config.offline_evaluation_interval),
               following(config.checkpoint_every), config.offline_steps)


def offline_chunk(loop: Loop, rows: jax.Array) -> None:
    """One jitted call of offline gradient steps; on a non-finite result the state is as before."""
    config, progress = loop.config, loop.progress
    start = progress.offline_step
    count = next_offline_boundary(config, start) - start
    try:
        loop.flat_state, metrics, finite = offline_update(
            config.agent, loop.buffer.layout, loop.packing, loop.flat_state, rows, loop.offline_key,
            start, count, config.minibatch_size)
        loop.run.set_packed(loop.packing, loop.flat_state)
        if not bool(finite):
            raise NonFinite("a non-finite value in the agent's parameters after the offline gradient steps")
    except Exception as error:
        raise StepFailed("the update", error, "offline") from error
    progress.offline_step += count
    loop.pending_metrics.append(metrics)
