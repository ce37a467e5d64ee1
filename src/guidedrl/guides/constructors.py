"""Guide constructors: scripted controllers, LQR, a trained guidedrl policy. The confidence
helpers (``always``, ``box``, ``ellipse``, ...) live in :mod:`guidedrl.guides.regions`."""

from __future__ import annotations

import os
from typing import Callable, Optional, Union

import numpy as np

from guidedrl.errors import ConfigError
from guidedrl.guides.base import Guide
from guidedrl.guides.regions import always, ellipse

Confidence = Callable[[np.ndarray], float]


# -- guides ---------------------------------------------------------------------------------


def scripted(policy: Callable, confidence: Union[Confidence, float], name: Optional[str] = None,
             action_low=None, action_high=None) -> Guide:
    """A guide from any function of the observation (``policy(obs)`` or ``policy(obs, rng)``);
    ``confidence`` is a function or a constant."""
    conf = confidence if callable(confidence) else always(float(confidence))
    return Guide(policy, conf, name=name or getattr(policy, "__name__", "scripted"),
                 action_low=action_low, action_high=action_high)


def lqr_gain(A, B, Q, R, discrete: bool = False):
    """(K, P): the LQR gain, u = -K x, and the Riccati solution P (x'Px is the Lyapunov function).

    Continuous time solves A'P + PA - PBR⁻¹B'P + Q = 0 and K = R⁻¹B'P; discrete time solves
    the discrete algebraic Riccati equation and K = (R + B'PB)⁻¹B'PA (scipy.linalg)."""
    from scipy import linalg

    A, B, Q, R = (np.atleast_2d(np.asarray(m, float)) for m in (A, B, Q, R))
    if discrete:
        P = linalg.solve_discrete_are(A, B, Q, R)
        K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    else:
        P = linalg.solve_continuous_are(A, B, Q, R)
        K = np.linalg.solve(R, B.T @ P)
    return K, P


class LQRGuide(Guide):
    """An LQR about an equilibrium, saturated, trusted inside a level set of its Lyapunov function.

    u = clip(u_eq - K (x - x_eq), -u_max, u_max) in the environment's units; λ = 1 where
    (x - x_eq)' P (x - x_eq) < level, an :func:`~guidedrl.guides.regions.ellipse` (so
    ``--guide-region narrow`` halves its volume). ``state(obs)`` maps an observation to x
    (identity by default). Attributes ``K``, ``P`` and ``level`` are public.
    """

    def __init__(self, A, B, Q, R, *, discrete=False, x_eq=None, u_eq=None, u_max=None,
                 level=np.inf, state=None, action_low=None, action_high=None, name="lqr"):
        self.K, self.P = lqr_gain(A, B, Q, R, discrete)
        n, m = self.K.shape[1], self.K.shape[0]
        self.x_eq = np.zeros(n) if x_eq is None else np.asarray(x_eq, float)
        self.u_eq = np.zeros(m) if u_eq is None else np.asarray(u_eq, float)
        self.u_max = None if u_max is None else np.broadcast_to(np.asarray(u_max, float), (m,))
        self.level = float(level)
        self.state = state or (lambda obs: np.asarray(obs, float))
        if action_low is None and self.u_max is not None:
            action_low, action_high = -self.u_max, self.u_max
        self.region = ellipse(self.x_eq, self.P, self.level, state=self.state)
        super().__init__(self.control, self.region, name=name,
                         action_low=action_low, action_high=action_high)

    def control(self, obs) -> np.ndarray:
        """The saturated LQR control in the environment's units."""
        u = self.u_eq - self.K @ (self.state(obs) - self.x_eq)
        return u if self.u_max is None else np.clip(u, -self.u_max, self.u_max)

    def lyapunov(self, obs) -> float:
        """(x - x_eq)' P (x - x_eq)."""
        d = self.state(obs) - self.x_eq
        return float(d @ self.P @ d)

    def in_region(self, obs) -> float:
        """1 inside the verified level set x'Px < level (the guide's own region, whatever
        confidence it is later given), else 0."""
        return self.region(obs)


def lqr(A, B, Q, R, **kwargs) -> LQRGuide:
    """An :class:`LQRGuide` (continuous time by default, ``discrete=True`` for x' = Ax + Bu)."""
    return LQRGuide(A, B, Q, R, **kwargs)


def from_checkpoint(path: Union[str, os.PathLike], confidence: Union[Confidence, float] = 1.0,
                    name: Optional[str] = None, guide_free: bool = True, guide: Optional[Guide] = None) -> Guide:
    """A trained guidedrl policy used as a guide: its deterministic action where ``confidence``
    says so. ``path`` is a checkpoint directory or a run directory holding ``checkpoint/``.

    By default the actor alone acts (``guide_free``). With ``guide_free=False`` the checkpoint's
    deployed policy acts, which for a guided run needs the guide it was trained with: pass it as
    ``guide``. The guide the checkpoint's files name is never resolved here, so reading a
    checkpoint as a guide imports no code it names (``guidedrl.load`` resolves it, if trusted).
    """
    from guidedrl.guidance import get_strategy
    from guidedrl.policy import read_policy

    policy = read_policy(path)
    if not guide_free and guide is None and get_strategy(policy.config.guidance).uses_guide:
        raise ConfigError(
            f"checkpoint {os.fspath(path)!r} was trained with guidance {policy.config.guidance!r} and the "
            f"guide {policy.config.guide!r}; its deployed policy (guide_free=False) needs that guide: "
            "pass it as guide=, or use the actor alone (guide_free=True)"
        )
    if guide is not None:
        guide.bind(policy.obs_dim, policy.action_dim, policy.config.env)
    conf = confidence if callable(confidence) else always(float(confidence))
    return Guide(lambda obs: policy.act_normalized(obs, guide, guide_free), conf,
                 name=name or f"policy:{os.fspath(path)}", obs_dim=policy.obs_dim,
                 made_for=policy.config.env)
