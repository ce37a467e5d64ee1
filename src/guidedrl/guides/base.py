"""The Guide: a controller trusted in part of the state space (docs/DESIGN.md, decision 1).

A guide is two Python callables, ``policy(obs) -> action`` and ``confidence(obs) -> λ``. The
training loop asks it about every state it visits and records the answers in the replay
buffer; the jitted learner never calls it, so a guide can be anything Python can call.
"""

from __future__ import annotations

import inspect
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from guidedrl.errors import GuidedRLError


class GuideError(GuidedRLError, ValueError):
    """A guide returned something guidedrl cannot use; the message names guide, value and expectation."""


def _takes_rng(fn: Callable) -> bool:
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2


class Guide:
    """A local guide.

    Args:
        policy: ``policy(obs)`` -> action, or ``policy(obs, rng)`` for a stochastic guide
            drawing from ``rng``, a NumPy generator that guidedrl seeds from the run's seed.
            Actions are in the normalised space [-1, 1]^d unless ``action_low``/``action_high``
            are given, in which case they are in the environment's units and converted.
            Actions outside [-1, 1] (after conversion) are clipped, as the env would.
        confidence: ``confidence(obs)`` -> λ in [0, 1], how far to trust the guide at obs.
        name: used in messages, logs and config.json.
        obs_dim, made_for: the observation size (and the env id) the guide was made for, when
            it reads the observation by position; a run on observations of another size is
            refused before it starts.
        action_low, action_high: the env's action bounds, when ``policy`` speaks env units.

    ``guide_region`` is the ``--guide-region`` applied to it (``"default"``: λ as given;
    :func:`guidedrl.guides.with_region` makes the others).

    Every call is checked: a wrong action shape, a non-finite action or a confidence outside
    [0, 1] raise :class:`GuideError` naming the guide, the value and what was expected.
    """

    def __init__(
        self,
        policy: Callable,
        confidence: Callable[[np.ndarray], float],
        name: Optional[str] = None,
        action_low: Optional[Sequence[float]] = None,
        action_high: Optional[Sequence[float]] = None,
        obs_dim: Optional[int] = None,
        made_for: Optional[str] = None,
    ):
        if not callable(policy) or not callable(confidence):
            raise TypeError("Guide needs two callables: policy(obs) and confidence(obs)")
        if (action_low is None) != (action_high is None):
            raise TypeError("give both action_low and action_high, or neither")
        self.policy = policy
        self.confidence = confidence
        self.name = name or getattr(policy, "__name__", "guide")
        self.stochastic = _takes_rng(policy)
        self.rng = np.random.default_rng(0)
        self.action_dim: Optional[int] = None
        self.obs_dim = None if obs_dim is None else int(obs_dim)
        self.made_for = made_for
        self.guide_region = "default"
        self._low = None if action_low is None else np.asarray(action_low, np.float64)
        self._high = None if action_high is None else np.asarray(action_high, np.float64)

    # -- set-up by the loop ------------------------------------------------------------------
    def seed(self, seed: int) -> "Guide":
        """Seed the generator a stochastic policy draws from."""
        self.rng = np.random.default_rng(seed)
        return self

    def rng_state(self):
        """The generator's state, JSON-ready (saved in checkpoints)."""
        return self.rng.bit_generator.state

    def set_rng_state(self, state) -> None:
        self.rng.bit_generator.state = state

    def bind(self, obs_dim: int, action_dim: int, env_name: Optional[str] = None) -> "Guide":
        """Fix the action size every call is checked against (done before training); refuse
        an env whose observations are not the size the guide was made for."""
        if self.obs_dim is not None and int(obs_dim) != self.obs_dim:
            made_for = f" for {self.made_for!r}" if self.made_for else ""
            env = f"{env_name!r}" if env_name else "this env"
            raise GuideError(
                f"guide {self.name!r} was made{made_for} with observations of shape ({self.obs_dim},); "
                f"{env} has observations of shape ({int(obs_dim)},)"
            )
        self.action_dim = int(action_dim)
        if self._low is not None and self._low.shape != (self.action_dim,):
            raise GuideError(
                f"guide {self.name!r} has action bounds of shape {self._low.shape}; the env's "
                f"actions have shape ({self.action_dim},)"
            )
        return self

    # -- the call ----------------------------------------------------------------------------
    def __call__(self, obs: np.ndarray) -> Tuple[np.ndarray, float]:
        """(a_g(obs) in [-1, 1]^d, λ(obs)), both checked."""
        raw = self.policy(obs, self.rng) if self.stochastic else self.policy(obs)
        action = np.asarray(raw, np.float64).reshape(-1) if np.ndim(raw) <= 1 else np.asarray(raw)
        expected = self.action_dim
        if action.ndim != 1 or (expected is not None and action.shape != (expected,)):
            raise GuideError(
                f"guide {self.name!r} returned an action of shape {np.shape(raw)}; "
                f"expected ({expected if expected is not None else 'd'},)"
            )
        if not np.all(np.isfinite(action)):
            raise GuideError(f"guide {self.name!r} returned a non-finite action {action.tolist()}")
        if self._low is not None:
            action = 2.0 * (action - self._low) / (self._high - self._low) - 1.0
        lam = self.confidence(obs)
        try:
            lam = float(lam)
        except (TypeError, ValueError):
            raise GuideError(
                f"guide {self.name!r} returned confidence {lam!r}; expected a float in [0, 1]"
            ) from None
        if not 0.0 <= lam <= 1.0:  # also refuses NaN
            raise GuideError(f"guide {self.name!r} returned confidence {lam!r}; expected a float in [0, 1]")
        return np.clip(action, -1.0, 1.0).astype(np.float32), lam

    def __repr__(self) -> str:
        return f"Guide(name={self.name!r})"


class ComposedGuide(Guide):
    """Several guides, one acting at a time: **the first guide, in the order given, whose
    confidence at obs is positive acts**, with that confidence. Where none is confident the
    confidence is 0 (and the action, unused, is the first guide's).

    Put the guide that must win where regions overlap first: e.g. a repulsive wall reflex
    before an attractive LQR.
    """

    def __init__(self, guides: Sequence[Guide], name: Optional[str] = None):
        if not guides:
            raise TypeError("compose needs at least one guide")
        self.guides = list(guides)
        super().__init__(self._policy_unused, lambda obs: 0.0,
                         name=name or "+".join(g.name for g in self.guides))

    @staticmethod
    def _policy_unused(obs):  # pragma: no cover - __call__ is overridden
        raise NotImplementedError

    def seed(self, seed: int) -> "ComposedGuide":
        for i, guide in enumerate(self.guides):
            guide.seed(seed + i)
        return self

    def rng_state(self):
        return [guide.rng_state() for guide in self.guides]

    def set_rng_state(self, state) -> None:
        for guide, sub in zip(self.guides, state):
            guide.set_rng_state(sub)

    def bind(self, obs_dim: int, action_dim: int, env_name: Optional[str] = None) -> "ComposedGuide":
        for guide in self.guides:
            guide.bind(obs_dim, action_dim, env_name)
        self.action_dim = action_dim
        return self

    def __call__(self, obs: np.ndarray) -> Tuple[np.ndarray, float]:
        first = None
        for guide in self.guides:
            action, lam = guide(obs)
            if first is None:
                first = action
            if lam > 0.0:
                return action, lam
        return first, 0.0


def compose(*guides: Guide, name: Optional[str] = None) -> ComposedGuide:
    """Combine guides: the first whose confidence is positive acts (see :class:`ComposedGuide`)."""
    return ComposedGuide(guides, name=name)


def run_alone(guide: Guide, env, episodes: int, seed: int) -> Tuple[list, list, int]:
    """``episodes`` episodes of ``guide``'s action at every step on ``env`` (a built Gymnasium env
    with actions in [-1, 1], as ``guidedrl.envs.make_env`` gives), episode k reset with seed
    ``seed + k``: (returns, lengths, steps flagged ``info["catastrophe"]``)."""
    returns, lengths, catastrophes = [], [], 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, length, done = 0.0, 0, False
        while not done:
            action, _ = guide(np.asarray(obs, np.float32).reshape(-1))  # a bound guide sees flat observations
            obs, reward, terminated, truncated, info = env.step(np.asarray(action, np.float32))
            total += float(reward)
            length += 1
            catastrophes += bool(info.get("catastrophe", False))
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
    return returns, lengths, catastrophes
