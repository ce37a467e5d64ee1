"""JSRL, jump-start RL (Uchendu et al. 2023; docs/ALGORITHMS.md, "JSRL"): the guide acts for the first
h steps of each episode, the agent after them; the critic and actor updates are the backbone's own
(off-policy, so no correction is needed).

**The region is honoured.** In the first h steps the guide acts as under SAG — where λ(s) says
(a Bernoulli(λ) draw when exploring, λ >= 0.5 when deployed), the actor elsewhere — and after
step h the actor acts alone everywhere. A guide trusted everywhere (``--guide-region always``,
λ = 1) gives JSRL as published; a local guide is never executed outside its region.

The horizon h is host-side state (:class:`JumpStart`, the strategy's ``curriculum``): H1 is the
guide's mean episode length, measured before training (the guide alone, ``jsrl_guide_episodes``
episodes), and the stages are h_i = H1 - i·H1/n, i = 0..n. ``curriculum`` mode moves to the next
stage when the moving average of the last ``jsrl_window`` evaluations of the deployed policy (guide
for h steps, then the actor) reaches the best moving average so far within ``jsrl_tolerance`` of
its magnitude; ``random`` mode draws h from the stages for each training episode, with no gate,
and evaluates the agent alone (h = 0). The loop hands the behaviour hook the step within the
episode and the episode's h (:class:`~guidedrl.types.EpisodeClock`); it never asks which strategy
runs. Outside training (a saved policy acting) h is 0: the jump-start ends with training.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import jax.numpy as jnp
import numpy as np

from guidedrl.guidance import none
from guidedrl.guidance.common import switched, use_guide


def behaviour(config, strategy_state, obs, actor_action, guide, key, deterministic, env_step, clock=None):
    """SAG's switch while ``clock.step < clock.horizon``, the actor's action after."""
    use = use_guide(key, guide.confidence, deterministic)
    if clock is None:
        use = jnp.zeros_like(use)
    else:
        use = use & (clock.step < clock.horizon)
    return switched(use, guide.guide_action, actor_action), use


def horizons(h1: int, stages: int) -> List[int]:
    """h_i = H1 - i·H1/n for i = 0..n (rounded to steps): from the guide's whole episode down to 0."""
    return [int(round(h1 - i * h1 / stages)) for i in range(stages + 1)]


@dataclasses.dataclass
class JumpStart:
    """JSRL's horizon curriculum, on the host: which h each episode gets, and when to move on."""

    mode: str
    stages: int
    window: int
    tolerance: float
    seed: int
    h1: Optional[int] = None
    """The guide's mean episode length (None until :meth:`measure`)."""
    guide_return: Optional[float] = None
    """The guide alone's mean return over the measuring episodes (reference only)."""
    stage: int = 0
    best: Optional[float] = None
    """The best moving average of evaluations so far (None before the first full window)."""
    recent: List[float] = dataclasses.field(default_factory=list)
    """The current stage's evaluations of the deployed policy."""

    COLUMNS = ("jsrl_horizon", "jsrl_stage")
    """What metrics.csv records of it at each evaluation."""

    def measure(self, guide_episodes: Callable[[int], Tuple[Sequence[int], Sequence[float]]], episodes: int) -> None:
        """H1 from ``episodes`` episodes of the guide alone (``guide_episodes(k)`` -> lengths, returns)."""
        lengths, returns = guide_episodes(episodes)
        self.h1 = max(1, int(round(float(np.mean(lengths)))))
        self.guide_return = float(np.mean(returns))

    @property
    def horizons(self) -> List[int]:
        return horizons(self.h1 or 0, self.stages)

    def episode_horizon(self, episode: int) -> int:
        """h for training episode ``episode``: the stage's, or (random) a draw from the stages
        fixed by the seed and the episode (the same on a resumed run)."""
        if self.mode == "random":
            draw = np.random.default_rng(np.random.SeedSequence([self.seed, episode, 7])).integers(self.stages + 1)
            return self.horizons[int(draw)]
        return self.horizons[self.stage]

    @property
    def evaluation_horizon(self) -> int:
        """h of the deployed policy's evaluation episodes (random mode: 0, the agent's own)."""
        return 0 if self.mode == "random" else self.horizons[self.stage]

    def observe(self, deployed_return: float) -> bool:
        """Record one evaluation of the deployed policy; True when it moved to the next stage."""
        if self.mode == "random" or self.stage >= self.stages or not math.isfinite(deployed_return):
            return False
        self.recent.append(float(deployed_return))
        if len(self.recent) < self.window:
            return False
        average = float(np.mean(self.recent[-self.window:]))
        if self.best is not None and average < self.best - self.tolerance * abs(self.best):
            return False
        self.best = average if self.best is None else max(self.best, average)
        self.stage += 1
        self.recent = []
        return True

    def row(self) -> Dict[str, Any]:
        """The metrics.csv fields at an evaluation (before it is observed)."""
        return {"jsrl_horizon": self.evaluation_horizon, "jsrl_stage": self.stage}

    def state_dict(self) -> Dict[str, Any]:
        return {"h1": self.h1, "guide_return": self.guide_return, "stage": self.stage, "best": self.best,
                "recent": list(self.recent)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.h1, self.guide_return = state["h1"], state["guide_return"]
        self.stage, self.best, self.recent = int(state["stage"]), state["best"], list(state["recent"])


def curriculum(config) -> JumpStart:
    """The run's :class:`JumpStart` from its config (H1 still to measure, or to restore)."""
    return JumpStart(config.jsrl_mode, config.jsrl_stages, config.jsrl_window, config.jsrl_tolerance, config.seed)


STRATEGY = dataclasses.replace(
    none.STRATEGY, name="jsrl", behaviour=behaviour, uses_guide=True, curriculum=curriculum,
)
