"""The host training loop for any Gymnasium env with a Box action space, in named phases.

:func:`train` reads top to bottom as its phases, each a module of ``guidedrl.training``:

* **set up** (:mod:`.setup`): the run resolved (:mod:`.resolve`: the config or the checkpoint
  being resumed, the envs, the guide — every rewrite of a config in one place), the run directory's lock, the agent state (fresh or restored), the dataset (read,
  checked and given the guide's fields, :func:`load_dataset`), the current episode and the
  run's files;
* **the offline phase** (:mod:`.offline`), with a ``dataset`` and ``offline_steps``:
  gradient steps on the dataset alone, ``offline_chunk`` at a time in one jitted ``lax.scan``
  that samples its minibatches itself (:func:`offline_update`), evaluated every
  ``offline_eval_every`` gradient steps and checkpointed like the online phase;
* **one training step** (:mod:`.step`): the behaviour action, one environment step
  with the guide asked about the new state (:func:`step_env`, the one place user code runs),
  the transition stored, and every ``train_every`` steps ``train_every * updates_per_step``
  gradient steps in one jitted call that also acts at the next state (:func:`learn`);
* **evaluate and log** (:mod:`.evaluation`) every ``eval_every`` steps: the deployed
  policy and the guide-free actor, one metrics.csv row;
* **checkpoint and failures** (:mod:`.failures`) every ``checkpoint_every`` steps, at the end, and
  on Ctrl-C / SIGTERM, so ``--resume`` continues exactly.

A training step is all or nothing. When the guide or the env raises or returns a non-finite
value, or the update produces one, the step is taken back (the replay buffer, the counters,
the random streams and the agent state as they were before it), the run is checkpointed at
that state and :class:`~guidedrl.errors.TrainingFailed` says what failed, at which step, and
how to resume once it is fixed; a resumed run then continues exactly as an uninterrupted one
would have. A file that cannot be written (a full disk) raises
:class:`~guidedrl.errors.WriteError` naming it; the last good checkpoint stays intact.

A JAX environment (``gymnax/<task>``, ``jax/<task>``) trains on the jitted path instead
(:mod:`.scanned`): the same agent, every step of an evaluation interval in one ``lax.scan``.

The two jitted calls a step makes and the offline phase's are in :mod:`.jitted`; the loop's
records (its counters, the run in progress, a step's outcome) in :mod:`.state`.

Resuming restores the interrupted episode too: training episodes reset with a seed derived
from (seed, episode index), so the loop resets with that seed and replays the episode's stored
actions, which puts a deterministic env back in the state it was in.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Collection, Dict, Optional, Union

import gymnasium as gym

from guidedrl.config import Config
from guidedrl.training.run import Run

from guidedrl.training import scanned
from guidedrl.training.evaluation import evaluate_and_log
from guidedrl.training.failures import StopFlag, checkpoint_if_due, close, guarded, interrupt
from guidedrl.training.logging import progress_bar
from guidedrl.training.offline import offline_phase
from guidedrl.training.setup import setup
from guidedrl.training.state import rate
from guidedrl.training.step import training_step


def train(
    config: Config,
    guide: Any = None,
    env: Union[str, gym.Env, None] = None,
    eval_env: Union[str, gym.Env, None] = None,
    on_evaluation: Optional[Callable[[Dict[str, Any], Run], None]] = None,
    *,
    chosen: Optional[Collection[str]] = None,
    default_out: bool = False,
    say: Optional[Callable[[str], None]] = None,
) -> Run:
    """Train an agent as ``config`` says and return it as a :class:`Run`.

    ``guide`` is a :class:`~guidedrl.Guide` or a name as ``--guide`` takes; ``env`` overrides
    ``config.env`` with an id, an ``Env`` instance or a factory; ``eval_env`` is the env
    evaluations run on (default: from ``env``). With ``config.out`` None, nothing is written to
    disk. ``chosen``, ``default_out`` and ``say`` are the CLI's part of the request
    (:func:`~guidedrl.training.resolve.resolve`, the one place a run's config is rewritten).
    Every check on the inputs runs before anything is written. ``on_evaluation(row, run)``, if
    given, is called after each evaluation with the logged row and the run at that step (e.g. to
    keep a snapshot of the policy).

    Raises :class:`~guidedrl.errors.TrainingFailed` (after checkpointing the last consistent
    state) when the guide, the env or the update fails, :class:`~guidedrl.errors.WriteError`
    when a file cannot be written, and :class:`TrainingInterrupted` on Ctrl-C / SIGTERM.
    """
    if scanned.requested(config, env):  # a JAX env: the jitted path
        return scanned.train_jax(config, guide, env, chosen=chosen, default_out=default_out, say=say)
    loop = setup(config, guide, env, eval_env, on_evaluation, chosen=chosen, default_out=default_out, say=say)
    config = loop.config
    bar = progress_bar(config) if config.progress else None
    try:
        with StopFlag() as stop, (bar if bar is not None else contextlib.nullcontext()):
            task = bar.add_task("train", total=config.steps, completed=loop.progress.step,
                                ret=loop.progress.last_return, sps=0.0) if bar else None
            if loop.progress.evaluation_pending:  # the step-0 row, or one a failure cut short
                guarded(loop, evaluate_and_log)
                if loop.progress.step > 0 or loop.progress.offline_step > 0:
                    checkpoint_if_due(loop)
            if loop.progress.offline_step < config.offline_steps:
                offline_phase(loop, stop, bar)
            while loop.progress.step < config.steps:
                if stop.raised:
                    interrupt(loop)
                guarded(loop, training_step)
                step = loop.progress.step
                if step % config.eval_every == 0 or step == config.steps:
                    loop.progress.evaluation_pending = True
                    guarded(loop, evaluate_and_log)
                checkpoint_if_due(loop)
                if bar is not None and (step % 200 == 0 or step == config.steps):
                    bar.update(task, completed=step, ret=loop.progress.last_return, sps=rate(loop))
    finally:
        close(loop)
    loop.run.history = loop.rows
    return loop.run
