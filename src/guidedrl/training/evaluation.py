"""Evaluate and log: the deployed policy and the actor alone, one metrics.csv row per evaluation."""

from __future__ import annotations

import math
import time
from typing import Any, Dict, Tuple

import numpy as np

from guidedrl.envs import env_id_of
from guidedrl.training.evaluate import evaluate_policies

from guidedrl.training.failures import writing
from guidedrl.training.state import Loop, NonFinite, StepFailed, flush_pending


def evaluate_and_log(loop: Loop) -> None:
    """Evaluate the deployed policy and the actor alone, and log one row; a failure of the
    guide or the eval env during it leaves the guide's stream as before and raises StepFailed."""
    progress, config = loop.progress, loop.config
    guide_stream = loop.guide.rng_state() if loop.guide is not None else None
    try:
        deployed, free = _evaluations(loop)
    except Exception as error:
        if guide_stream is not None:
            loop.guide.set_rng_state(guide_stream)
        if isinstance(error, _GuideCallFailed):
            raise StepFailed(f"the guide {loop.guide.name!r}", error.cause, "evaluation") from error.cause
        env_name = env_id_of(loop.eval_envs[0]) if loop.eval_envs else config.env
        raise StepFailed(f"the evaluation env {env_name!r}", error, "evaluation") from error
    now = time.perf_counter()
    env_steps_done = progress.step - progress.interval_start_step
    # the rate of what the interval did: gradient steps offline, environment steps online
    steps_done = (progress.offline_step - progress.interval_start_offline_step) if loop.offline else env_steps_done
    elapsed = now - loop.interval_clock
    row: Dict[str, Any] = {
        "step": progress.step,
        "phase": "offline" if loop.offline else "online",
        "offline_step": progress.offline_step,
        "eval_return": deployed["mean_return"],
        "eval_return_std": deployed["std_return"],
        "eval_return_guide_free": free,
        "eval_catastrophes": deployed["catastrophes"],
        "train_episodes": progress.train_episodes,
        "train_return": float(np.mean(progress.interval_returns)) if progress.interval_returns else math.nan,
        "train_catastrophes": progress.train_catastrophes,
        "guide_usage": progress.interval_guide_steps / env_steps_done if env_steps_done else 0.0,
        "gradient_steps": int(loop.run.state.gradient_steps),
        "steps_per_second": steps_done / elapsed if elapsed > 0 and steps_done else math.nan,
        "wall_time": progress.wall_time + (now - loop.clock_start),
    }
    row.update(_interval_means(loop))
    if loop.curriculum is not None:
        row.update(loop.curriculum.row())
    if loop.logger is not None:
        with writing(loop, loop.out / "metrics.csv"):
            loop.logger.log(row)
    loop.rows.append(row)
    if loop.curriculum is not None:
        loop.curriculum.observe(deployed["mean_return"])
    progress.evaluation_pending = False
    if loop.on_evaluation is not None:
        loop.on_evaluation(dict(row), loop.run)
    progress.interval_start_step = progress.step
    progress.interval_start_offline_step = progress.offline_step
    progress.interval_guide_steps = 0
    progress.interval_returns = []
    progress.interval_metrics = []
    loop.interval_clock = time.perf_counter()


def _evaluations(loop: Loop) -> Tuple[dict, float]:
    config = loop.config
    guide = _TaggedGuide(loop.guide) if loop.guide is not None else None
    modes = (False, True) if loop.strategy.uses_guide else (False,)  # without a guide: the actor alone
    horizon = loop.curriculum.evaluation_horizon if loop.curriculum is not None else None
    results = evaluate_policies(config.agent, loop.flat_state, loop.eval_envs, config.eval_episodes,
                                config.seed, guide, modes, packing=loop.packing, horizon=horizon)
    deployed, free = results[0], results[-1]
    for result in (deployed, free):
        if not all(math.isfinite(r) for r in result["returns"]):
            raise NonFinite(f"non-finite evaluation returns {result['returns']}")
    return deployed, free["mean_return"]


class _GuideCallFailed(Exception):
    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


class _TaggedGuide:
    """The guide, with its failures told apart from the env's (during an evaluation)."""

    def __init__(self, guide: Any):
        self._guide = guide

    def __call__(self, obs):
        try:
            return self._guide(obs)
        except Exception as error:
            raise _GuideCallFailed(error) from error

    def __getattr__(self, name):
        return getattr(self._guide, name)


def _interval_means(loop: Loop) -> Dict[str, float]:
    """The update's losses averaged over the evaluation interval (NaN-valued steps skipped)."""
    flush_pending(loop)
    means = {}
    for name in loop.metric_names:
        values = [m[name] for m in loop.progress.interval_metrics if not math.isnan(m[name])]
        means[name] = float(np.mean(values)) if values else math.nan
    return means
