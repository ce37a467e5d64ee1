"""``guidedrl guide check``: what a guide does on its env, in seconds, before any training.

Five policies run the same episodes (episode k resets with seed ``seed + k``, as
``guidedrl envs`` measures a guide alone, so ``--seed 10000 --episodes 20`` gives its numbers):

- ``guide``: the guide's action a_g(s) at every step, trusted or not (the "alone" numbers);
- ``guide+zero``: the guide where it is trusted, the zero action elsewhere;
- ``guide+random``: the guide where it is trusted, a uniform random action elsewhere;
- ``zero``: the zero action at every step;
- ``random``: a uniform random action at every step.

"Where it is trusted" is λ(s) >= 0.5, where the deployed policy of SAG and PAG lets the guide
act (``guidance.common.DEPLOYED_THRESHOLD``); for the built-in guides, whose λ is 0 or 1, it is
λ(s) > 0. The zero action is 0 in the env's units on each axis whose bounds contain 0, else the
middle of the bounds. Random actions are uniform over the bounds, drawn at every step from a
generator seeded by (seed, episode), so ``guide+random`` and ``random`` draw the same actions.
Region coverage is the share of visited states where the guide is trusted, along the guide's
own trajectories (``guide``) and the random policy's.

The guide is flagged when, inside its own region, it does worse than doing nothing: when
``guide+zero`` has more catastrophes per episode than ``zero``, or a lower mean return. The
episodes are paired (same starts, and the zero action is deterministic), so any difference comes
from the guide's actions; where the guide's region is never entered the two are equal.

Everything runs on the host in NumPy (no JAX, no training); the same seed gives the same numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import gymnasium as gym
import numpy as np

from guidedrl.config import DEFAULT_GUIDE
from guidedrl.envs import action_bounds, env_id_of, make_env
from guidedrl.errors import ConfigError, GuideCheckFailed
from guidedrl.guidance.common import DEPLOYED_THRESHOLD
from guidedrl.guides import Guide, with_region
from guidedrl.names import resolve_guide
from guidedrl.offline.datasets import normalize_actions

DEFAULT_SEED = 10_000
"""The first episode's reset seed: the one ``guidedrl envs`` measured each guide alone from."""

Chooser = Callable[[np.ndarray, bool, np.ndarray, np.ndarray], np.ndarray]
"""choose(guide_action, trusted, zero_action, random_action) -> the action to execute."""

POLICIES: Dict[str, Tuple[str, Chooser]] = {
    "guide": ("(a) guide alone", lambda guide, trusted, zero, rand: guide),
    "guide+zero": ("(b) guide + zero", lambda guide, trusted, zero, rand: guide if trusted else zero),
    "guide+random": ("(c) guide + random", lambda guide, trusted, zero, rand: guide if trusted else rand),
    "zero": ("(d) zero", lambda guide, trusted, zero, rand: zero),
    "random": ("(e) random", lambda guide, trusted, zero, rand: rand),
}
"""The compared policies by key: their label and how each picks its action."""


@dataclasses.dataclass(frozen=True)
class PolicyResult:
    """One policy over the check's episodes."""

    label: str
    returns: List[float]
    lengths: List[int]
    catastrophes: int
    cost: float
    in_region: float
    """Share of the visited states where the guide is trusted (λ >= 0.5)."""
    mean_confidence: float
    """Mean λ over the visited states (the guide's expected share of a SAG training step's actions there)."""

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))

    @property
    def catastrophes_per_episode(self) -> float:
        return self.catastrophes / len(self.returns)

    @property
    def cost_per_episode(self) -> float:
        return self.cost / len(self.returns)

    def to_dict(self) -> dict:
        return {"label": self.label, "mean_return": self.mean_return, "std_return": self.std_return,
                "catastrophes_per_episode": self.catastrophes_per_episode, "cost_per_episode": self.cost_per_episode,
                "mean_length": float(np.mean(self.lengths)), "in_region": self.in_region,
                "mean_confidence": self.mean_confidence, "catastrophes": self.catastrophes, "returns": self.returns}


@dataclasses.dataclass(frozen=True)
class GuideCheck:
    """What :func:`check_guide` found: each policy's numbers, the region's coverage and the verdict."""

    env: str
    guide: str
    region: str
    episodes: int
    seed: int
    zero_action: List[float]
    """The zero action in the env's units."""
    policies: Dict[str, PolicyResult]
    default_region_kept: Optional[Dict[str, Optional[float]]]
    """With a region other than default: the share of the visited states in the guide's default
    region that this region keeps, along the guide's own trajectories (``guide``) and the random
    policy's (``random``); None with the default region, and for trajectories that never enter it."""

    @property
    def coverage(self) -> Dict[str, float]:
        """Share of visited states in the guide's region along its own and the random policy's trajectories."""
        return {"guide": self.policies["guide"].in_region, "random": self.policies["random"].in_region}

    @property
    def guide_worse_than_zero(self) -> bool:
        """Whether the guide, acting only in its region, does worse than the zero action
        everywhere: more catastrophes per episode, or a lower mean return."""
        inside, zero = self.policies["guide+zero"], self.policies["zero"]
        return (inside.catastrophes_per_episode > zero.catastrophes_per_episode
                or inside.mean_return < zero.mean_return)

    @property
    def verdict(self) -> str:
        """The finding in words."""
        inside, zero = self.policies["guide+zero"], self.policies["zero"]
        numbers = (f"guide in its region, zero elsewhere: return {inside.mean_return:.4g}, "
                   f"{inside.catastrophes_per_episode:.2f} catastrophes per episode; zero action: return "
                   f"{zero.mean_return:.4g}, {zero.catastrophes_per_episode:.2f}")
        if self.guide_worse_than_zero:
            return (f"WARNING: the guide does worse than the zero action inside its own region ({numbers}): "
                    "check its actions (units, signs) and where it is trusted before training with it.")
        if inside.in_region == 0.0:
            return (f"The guide's region was never entered with the zero action elsewhere ({numbers}), so (b) "
                    "says nothing about the guide inside it; (c) against (e) shows it where random actions lead there.")
        return f"Inside its region the guide does at least as well as the zero action ({numbers})."

    def to_dict(self) -> dict:
        """A JSON-ready dict (``guidedrl guide check --json``)."""
        return {"env": self.env, "guide": self.guide, "region": self.region, "episodes": self.episodes,
                "seed": self.seed, "trusted_where": f"confidence >= {DEPLOYED_THRESHOLD}",
                "zero_action": self.zero_action,
                "policies": {key: result.to_dict() for key, result in self.policies.items()},
                "coverage": self.coverage, "default_region_kept": self.default_region_kept,
                "guide_worse_than_zero": self.guide_worse_than_zero, "verdict": self.verdict}


def zero_action(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The zero action in env units: 0 on each axis whose bounds [low, high] contain it, else the middle."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    return np.where((low <= 0.0) & (0.0 <= high), 0.0, (low + high) / 2.0)


def check_guide(env: Union[str, gym.Env], guide: Union[str, Guide] = DEFAULT_GUIDE, *, region: str = "default",
                episodes: int = 5, seed: int = DEFAULT_SEED) -> GuideCheck:
    """Run ``guide`` on ``env`` alone, in its region with the zero or a random action elsewhere,
    and the zero and random baselines, over ``episodes`` episodes (module docstring).

    ``guide`` is a :class:`~guidedrl.Guide` or a spec as ``--guide`` takes it; ``region`` is a
    ``--guide-region``. A guide or env that fails raises
    :class:`~guidedrl.errors.GuideCheckFailed` naming the policy, episode and step. The guide
    is bound to the env and re-seeded with ``seed`` before each policy.
    """
    if not isinstance(episodes, int) or isinstance(episodes, bool) or episodes <= 0:
        raise ConfigError(f"episodes must be a positive integer, got {episodes!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    env_id = env_id_of(env)
    made = make_env(env)
    obs_dim, action_dim = int(np.prod(made.observation_space.shape)), int(np.prod(made.action_space.shape))
    own = resolve_guide(guide, env_id).bind(obs_dim, action_dim, env_id)
    checked = with_region(own, region)
    low, high = (np.asarray(bound, float) for bound in action_bounds(made))
    zero = zero_action(low, high)
    zero_normalized = normalize_actions(zero, low, high).astype(np.float32)
    policies, visited = {}, {"guide": [], "random": []}  # trajectories that do not depend on λ
    for key, (label, choose) in POLICIES.items():
        checked.seed(seed)
        policies[key] = _run(made, env_id, checked, key, label, choose, zero_normalized, episodes, seed,
                             visited.get(key))
    kept = None if checked is own else {key: _kept(own, checked, states) for key, states in visited.items()}
    return GuideCheck(env=env_id, guide=checked.name, region=region, episodes=episodes, seed=seed,
                      zero_action=zero.tolist(), policies=policies, default_region_kept=kept)


def _kept(own: Guide, checked: Guide, states: List[np.ndarray]) -> Optional[float]:
    """The share of ``states`` in ``own``'s region that are in ``checked``'s (None if none are in own's)."""
    in_own = np.array([own(obs)[1] >= DEPLOYED_THRESHOLD for obs in states])
    in_checked = np.array([checked(obs)[1] >= DEPLOYED_THRESHOLD for obs in states])
    return float(np.sum(in_own & in_checked) / np.sum(in_own)) if in_own.any() else None


def _run(env: gym.Env, env_id: str, guide: Guide, key: str, label: str, choose: Chooser, zero: np.ndarray,
         episodes: int, seed: int, visited: Optional[list]) -> PolicyResult:
    """``episodes`` episodes of one policy; the observations seen are appended to ``visited``."""
    returns, lengths, catastrophes, cost, trusted_steps, confidence_sum = [], [], 0, 0.0, 0, 0.0
    for episode in range(episodes):
        rng = np.random.default_rng([seed, episode])
        obs, _ = _call(lambda: env.reset(seed=seed + episode), f"the env {env_id!r}", key, episode, 0)
        total, step, done = 0.0, 0, False
        while not done:
            obs = np.asarray(obs, np.float32)
            random_action = rng.uniform(-1.0, 1.0, zero.shape).astype(np.float32)
            guide_action, confidence = _call(lambda: guide(obs), f"the guide {guide.name!r}", key, episode, step)
            trusted = confidence >= DEPLOYED_THRESHOLD
            action = choose(guide_action, trusted, zero, random_action)
            if visited is not None:
                visited.append(obs)
            obs, reward, terminated, truncated, info = _call(
                lambda: env.step(action.astype(np.float32)), f"the env {env_id!r}", key, episode, step)
            total += float(reward)
            catastrophes += bool(info.get("catastrophe", False))
            cost += float(info.get("cost", 0.0))
            trusted_steps += bool(trusted)
            confidence_sum += confidence
            step += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(step)
    steps = sum(lengths)
    return PolicyResult(label=label, returns=returns, lengths=lengths, catastrophes=catastrophes, cost=cost,
                        in_region=trusted_steps / steps, mean_confidence=confidence_sum / steps)


def _call(call: Callable[[], Any], who: str, policy: str, episode: int, step: int) -> Any:
    """``call()``; its failure is one line naming who failed, the policy, episode and step."""
    try:
        return call()
    except Exception as error:
        raise GuideCheckFailed(f"{who} failed in the check's policy {policy!r}, episode {episode}, step {step}: "
                               f"{type(error).__name__}: {' '.join(str(error).split())}") from error


__all__ = ["check_guide", "GuideCheck", "PolicyResult", "POLICIES", "zero_action", "DEFAULT_SEED"]
