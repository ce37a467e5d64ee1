"""The built-in guide for Gymnasium's Pendulum-v1: ``--guide lqr``.

An LQR about the upright position from the pendulum's own equations. Gymnasium's
Pendulum (g = 10, m = l = 1, dt = 0.05, |u| <= 2, |θ̇| <= 8) integrates

    θ̇' = θ̇ + (3g/(2l) sin θ + 3/(m l²) u) dt,    θ' = θ + θ̇' dt

with θ = 0 upright; linearised at θ = 0 (sin θ ≈ θ) this is x' = A x + B u for x = (θ, θ̇)
with A = [[1 + 15dt², dt], [15dt, 1]], B = [[3dt²], [3dt]]. The discrete LQR uses
Q = diag(1, 0.1) and R = 1, saturates at the env's torque limit (±2), and is trusted inside
the level set x'Px < LEVEL = 30 of its Lyapunov function (|θ| < 0.34 rad at rest).

How LEVEL was chosen (:func:`verify_region`): the saturated LQR is run on the true nonlinear
dynamics from every state of a grid over θ ∈ [-π, π], θ̇ ∈ [-8, 8] that lies inside the set,
and must bring the pole up (|θ| < 0.05, |θ̇| < 0.5) within the horizon. Among R ∈ {0.3, 1, 3,
10} (with the env's own R = 0.001 the high-gain controller fails even from tiny sets once it
saturates), R = 1 verified the largest set; its failure-free level was about 43 on a 121²
grid and 35 on 241² and 301² grids, so LEVEL = 30 keeps a margin.
tests/guides/test_pendulum_guide.py re-checks it on a 241² grid.
"""

from __future__ import annotations

import numpy as np

from guidedrl.guides.base import Guide
from guidedrl.guides.constructors import LQRGuide
from guidedrl.guides.regions import always

G, M, L, DT, MAX_TORQUE, MAX_SPEED = 10.0, 1.0, 1.0, 0.05, 2.0, 8.0
A = np.array([[1.0 + 3 * G / (2 * L) * DT**2, DT], [3 * G / (2 * L) * DT, 1.0]])
B = np.array([[3.0 / (M * L**2) * DT**2], [3.0 / (M * L**2) * DT]])
Q = np.diag([1.0, 0.1])
R = np.array([[1.0]])
LEVEL = 30.0


def pendulum_state(obs) -> np.ndarray:
    """(θ, θ̇) from Pendulum's observation (cos θ, sin θ, θ̇)."""
    cos, sin, speed = np.asarray(obs, float)[:3]
    return np.array([np.arctan2(sin, cos), speed])


def pendulum_lqr(level: float | None = None) -> LQRGuide:
    """The Pendulum-v1 LQR guide (normalised actions, λ = 1 inside x'Px < level)."""
    return LQRGuide(A, B, Q, R, discrete=True, u_max=MAX_TORQUE, level=LEVEL if level is None else level,
                    state=pendulum_state, name="pendulum-lqr")


def step(theta: np.ndarray, speed: np.ndarray, torque: np.ndarray):
    """Gymnasium's Pendulum dynamics, vectorised over start states."""
    torque = np.clip(torque, -MAX_TORQUE, MAX_TORQUE)
    speed = np.clip(speed + (3 * G / (2 * L) * np.sin(theta) + 3.0 / (M * L**2) * torque) * DT,
                    -MAX_SPEED, MAX_SPEED)
    return theta + speed * DT, speed


def verify_region(level: float, resolution: int = 121, horizon: int = 200) -> dict:
    """Simulate the saturated LQR from every grid state (θ, θ̇) in [-π, π] x [-8, 8] inside
    x'Px < level; returns how many started inside and how many failed to come up."""
    guide = pendulum_lqr(level)
    theta, speed = np.meshgrid(np.linspace(-np.pi, np.pi, resolution),
                               np.linspace(-MAX_SPEED, MAX_SPEED, resolution))
    x = np.stack([theta.ravel(), speed.ravel()], axis=1)
    inside = np.einsum("ni,ij,nj->n", x, guide.P, x) < level
    th, sp = x[inside, 0].copy(), x[inside, 1].copy()
    for _ in range(horizon):
        wrapped = (th + np.pi) % (2 * np.pi) - np.pi
        torque = -(np.stack([wrapped, sp], axis=1) @ guide.K.T)[:, 0]
        th, sp = step(th, sp, torque)
    wrapped = (th + np.pi) % (2 * np.pi) - np.pi
    failed = int(np.sum((np.abs(wrapped) >= 0.05) | (np.abs(sp) >= 0.5)))
    return {"inside": int(inside.sum()), "failed": failed}


def swing_up_torque(obs) -> np.ndarray:
    """A whole-task Pendulum-v1 controller (env units, |u| <= 2): pump energy towards the
    upright's, E = θ̇²/2 + 15 cos θ, which is 15 at rest upright (dE/dt = 3 θ̇ u), and a PD law
    once near the top (|θ| < 0.6, |θ̇| < 4). Alone it scores -121.8 ± 85.6 over 20 episodes
    (``guidedrl.envs.make_guide.measure_alone(pendulum_swing_up(), "Pendulum-v1")``), about what
    SAC reaches: a competent policy whose logs make a dataset."""
    theta, speed = pendulum_state(obs)
    if abs(theta) < 0.6 and abs(speed) < 4.0:
        torque = -(12.0 * theta + 2.5 * speed)
    else:
        energy = 0.5 * speed**2 + 15.0 * np.cos(theta)
        torque = 0.8 * (15.0 - energy) * (1.0 if speed >= 0 else -1.0)
    return np.array([np.clip(torque, -MAX_TORQUE, MAX_TORQUE)], np.float32)


def pendulum_swing_up() -> Guide:
    """:func:`swing_up_torque` as a guide trusted everywhere (λ = 1): ``--guide swing-up``, e.g.
    the policy of ``guidedrl dataset collect --env Pendulum-v1 --policy guide --guide swing-up``."""
    return Guide(swing_up_torque, confidence=always(1.0), name="pendulum-swing-up",
                 action_low=[-MAX_TORQUE], action_high=[MAX_TORQUE], obs_dim=3, made_for="Pendulum-v1")
