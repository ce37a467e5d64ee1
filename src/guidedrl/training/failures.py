"""Checkpoints, failures and interruption: a checkpoint when due, a failing phase saved at the state
before it and named in one line, Ctrl-C / SIGTERM saved and raised, the run's files closed."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Callable, Tuple

from guidedrl import checkpoint
from guidedrl.errors import GuidedRLError, TrainingFailed, WriteError
from guidedrl.training.state import Loop, StepFailed, TrainingInterrupted, describe, flush_pending


def checkpoint_if_due(loop: Loop) -> None:
    """A checkpoint every ``checkpoint_every`` steps and at the last step."""
    step, config = loop.progress.step, loop.config
    if step % config.checkpoint_every == 0 or step == config.steps:
        save_checkpoint(loop)


def save_checkpoint(loop: Loop) -> None:
    """The whole training state at the current step, atomically (the previous checkpoint stays
    until the new one is complete)."""
    flush_pending(loop)
    now = time.perf_counter()
    loop.progress.wall_time += now - loop.clock_start
    loop.clock_start = now
    if loop.out is None:
        return
    meta = {**loop.run.meta(), "step": loop.progress.step, "rng_state": loop.rng.bit_generator.state,
            "guide_rng_state": loop.guide.rng_state() if loop.guide is not None else None,
            "progress": dataclasses.asdict(loop.progress),
            "curriculum": loop.curriculum.state_dict() if loop.curriculum is not None else None}
    with writing(loop, loop.out / checkpoint.IN_RUN):
        checkpoint.save_checkpoint(loop.out / checkpoint.IN_RUN, meta, loop.run.state, loop.buffer.state_dict())
    loop.saved_step = loop.progress.step


def guarded(loop: Loop, phase: Callable[[Loop], None]) -> None:
    """Run ``phase``; if it fails, checkpoint the state it left (as before the failure) and raise
    :class:`TrainingFailed` with one line: what failed, when, why, and how to resume."""
    try:
        phase(loop)
    except StepFailed as failure:
        saved, note = _save_after_failure(loop)
        step = loop.progress.step
        offline = loop.progress.offline_step
        if failure.during == "offline":
            when = f"in the offline gradient steps after step {offline}"
        elif failure.during == "evaluation":
            when = (f"while evaluating at offline step {offline}" if loop.offline else f"while evaluating at step {step}")
        else:
            when = f"at step {step + 1}" + (" (reset)" if failure.during == "reset" else "")
        message = f"{failure.source} failed {when}: {describe(failure.cause)}; {note}"
        raise TrainingFailed(message, failure.source, step, loop.out, saved) from failure.cause


def _save_after_failure(loop: Loop) -> Tuple[bool, str]:
    if loop.out is None:
        return False, "nothing was saved (the run writes no files: out=None)"
    try:
        save_checkpoint(loop)
    except Exception as error:  # a full disk, or a state the failing update left unusable
        return False, f"the run could not be saved ({describe(error)})"
    where = (f"offline step {loop.progress.offline_step}" if loop.offline else f"step {loop.progress.step}")
    return True, f"the run is saved at {where}; once fixed, resume with: {resume_command(loop)}"


def resume_command(loop: Loop) -> str:
    """How the user resumes this run: the CLI, naming a module:attr guide again, or Python."""
    config = loop.config
    if loop.strategy.uses_guide and config.guide is None:
        return f"guidedrl.train(..., resume={str(loop.out)!r}, guide=<the fixed guide>)"
    named = f" --guide {config.guide}" if config.guide and ":" in config.guide and not os.path.exists(config.guide) else ""
    return f"guidedrl train --resume {loop.out}{named}"


def interrupt(loop: Loop) -> None:
    """Ctrl-C / SIGTERM: checkpoint at the current step, then raise :class:`TrainingInterrupted`."""
    save_checkpoint(loop)
    raise TrainingInterrupted(loop.out, loop.progress.step, loop.progress.offline_step if loop.offline else None)


def close(loop: Loop) -> None:
    """Close the logs and release the run directory, however the run ended."""
    try:
        if loop.logger is not None:
            loop.logger.close()
    except OSError:
        pass
    if loop.lock is not None:
        loop.lock.release()


@contextlib.contextmanager
def writing(loop: Loop, path: Path):
    """Turn an OSError while writing ``path`` into a one-line :class:`WriteError` naming the
    file, the step and the checkpoint that is still good."""
    try:
        yield
    except OSError as error:
        if isinstance(error, GuidedRLError):
            raise
        target = error.filename or str(path)
        good = (f"the last good checkpoint (step {loop.saved_step}) in {loop.out / checkpoint.IN_RUN} is intact"
                if loop.saved_step is not None else "no checkpoint was written yet")
        raise WriteError(f"cannot write {target} at step {loop.progress.step}: "
                         f"{error.strerror or error}; {good}", str(target), loop.progress.step) from error


class StopFlag:
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps (main thread only)."""

    def __init__(self):
        self.raised = False
        self._previous = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.raised:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
