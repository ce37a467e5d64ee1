"""The training loop's records: its counters (:class:`Progress`), what one environment step gave
(:class:`Outcome`), the run in progress that every phase shares (:class:`Loop`), the errors a phase
raises, and small helpers the phases share (episode seeds, finite observations, one-line errors)."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import gymnasium as gym
import jax
import numpy as np

from guidedrl.config import Config
from guidedrl.replay import ReplayBuffer
from guidedrl.training.flat import Packing
from guidedrl.training.lock import RunLock
from guidedrl.training.logging import MetricsLogger
from guidedrl.training.run import Run


BASE_COLUMNS = (
    "step",
    "phase",
    "offline_step",
    "eval_return",
    "eval_return_std",
    "eval_return_guide_free",
    "eval_catastrophes",
    "train_episodes",
    "train_return",
    "train_catastrophes",
    "guide_usage",
    "gradient_steps",
)


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after a checkpoint was written because the run was interrupted."""

    def __init__(self, directory: Optional[Path], step: int, offline_step: Optional[int] = None):
        self.directory, self.step, self.offline_step = directory, step, offline_step
        where = f"; resume with: guidedrl train --resume {directory}" if directory else ""
        at = f"offline step {offline_step}" if offline_step is not None else f"step {step}"
        super().__init__(f"training interrupted at {at}{where}")


@dataclasses.dataclass
class Progress:
    """The loop's counters: everything besides agent, buffer and RNG that a resume needs."""

    step: int = 0
    offline_step: int = 0  # gradient steps of the offline phase done
    episode: int = 0
    episode_return: float = 0.0
    episode_length: int = 0
    train_episodes: int = 0
    train_catastrophes: int = 0
    wall_time: float = 0.0
    # since the last evaluation
    interval_start_step: int = 0
    interval_start_offline_step: int = 0
    interval_guide_steps: int = 0
    interval_returns: List[float] = dataclasses.field(default_factory=list)
    interval_metrics: List[Dict[str, float]] = dataclasses.field(default_factory=list)
    last_return: float = math.nan
    # the action already chosen for the current observation (by learn_and_behave), if any
    next_action: Optional[List[float]] = None
    next_from_guide: bool = False
    # the evaluation of this step failed and was not logged: a resume runs it first
    evaluation_pending: bool = False
    # the current episode's jump-start horizon (JSRL's curriculum; 0 for every other strategy)
    horizon: int = 0


@dataclasses.dataclass
class Outcome:
    """What one environment step gave, before any of it is recorded."""

    next_obs: np.ndarray
    reward: float
    terminated: bool
    truncated: bool
    info: dict
    next_guide_action: np.ndarray
    next_confidence: float
    obs: np.ndarray  # the observation the next step acts on: next_obs, or the reset's
    guide_action: np.ndarray
    confidence: float
    cost: float = -1.0  # the catastrophe label (catastrophe_label): 1, 0, or -1 when the env reports none

    @property
    def done(self) -> bool:
        return bool(self.terminated or self.truncated)


@dataclasses.dataclass
class Loop:
    """A run in progress: everything the phases share."""

    config: Config
    strategy: Any
    guide: Any
    train_env: gym.Env
    eval_envs: List[gym.Env]
    buffer: ReplayBuffer
    rng: np.random.Generator
    progress: Progress
    run: Run
    out: Optional[Path]
    lock: Optional[RunLock]
    act_key: jax.Array
    learn_key: jax.Array
    saved_step: Optional[int]  # the step of the last good checkpoint on disk
    packing: Optional[Packing] = None  # the agent state between jitted calls: packed buffers
    flat_state: Any = None
    obs: np.ndarray = None
    guide_action: np.ndarray = None
    confidence: float = 0.0
    logger: Optional[MetricsLogger] = None
    metric_names: List[str] = dataclasses.field(default_factory=list)
    rows: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    pending_metrics: List[Any] = dataclasses.field(default_factory=list)
    clock_start: float = 0.0
    interval_clock: float = 0.0
    on_evaluation: Optional[Callable[[Dict[str, Any], Run], None]] = None
    offline_key: Any = None
    curriculum: Any = None  # the strategy's host-side curriculum (JSRL), if it has one

    @property
    def action_dim(self) -> int:
        return self.run.action_dim

    @property
    def offline(self) -> bool:
        """Whether the run is (still) in its offline phase: its gradient steps are not all done,
        or no environment step has been taken after them (the offline-end row is offline)."""
        return self.config.offline_steps > 0 and self.progress.step == 0


class StepFailed(Exception):
    """Raised inside a phase when user code or the update failed; the phase has already taken
    back what it changed. ``source`` names the failing part, ``cause`` is its exception."""

    def __init__(self, source: str, cause: BaseException, during: str):
        super().__init__(source)
        self.source, self.cause, self.during = source, cause, during


class NonFinite(ValueError):
    """A non-finite value where a finite one is needed."""


class BadInfo(ValueError):
    """A step's info holds a catastrophe flag or a cost of the wrong kind."""


def episode_seed(seed: int, episode: int) -> int:
    """The reset seed of training episode ``episode``."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


def default_out(config: Config) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = config.env.replace("/", "-")
    return os.path.join("runs", f"{name}-{config.algo}-{config.guidance}-s{config.seed}-{stamp}")


def finite_obs(obs: Any, what: str) -> np.ndarray:
    obs = np.asarray(obs, np.float32).reshape(-1)
    if not np.all(np.isfinite(obs)):
        raise NonFinite(f"non-finite {what} {obs.tolist()}")
    return obs


def describe(error: BaseException) -> str:
    """``Type: message`` on one line, shortened (the traceback is for --debug)."""
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:297] + "..."
    name = type(error).__name__
    return f"{name}: {text}" if text else name


def flush_pending(loop: Loop) -> None:
    """Move device-side values into the counters as plain numbers (a checkpoint must hold them)."""
    progress = loop.progress
    for m in jax.device_get(loop.pending_metrics):
        progress.interval_metrics.append({k: float(v) for k, v in m.items()})
    loop.pending_metrics.clear()
    if progress.next_action is not None and not isinstance(progress.next_action, list):
        progress.next_action = np.asarray(progress.next_action).astype(float).tolist()
        progress.next_from_guide = bool(progress.next_from_guide)


def rate(loop: Loop) -> float:
    elapsed = time.perf_counter() - loop.interval_clock
    done = loop.progress.step - loop.progress.interval_start_step
    if done and elapsed > 0:
        return done / elapsed
    return loop.rows[-1]["steps_per_second"] if loop.rows else 0.0
