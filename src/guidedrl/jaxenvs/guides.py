"""Built-in guides as traceable functions (:class:`~guidedrl.jaxenvs.base.JaxGuide`), ported
from their NumPy versions and checked equal to them (tests/jaxenvs/test_guides.py)."""

from __future__ import annotations

import jax.numpy as jnp

from guidedrl.guides.pendulum import LEVEL, MAX_TORQUE, pendulum_lqr
from guidedrl.jaxenvs.base import JaxGuide


def pendulum_lqr_jax(level: float = LEVEL) -> JaxGuide:
    """The Pendulum-v1 LQR guide (:func:`guidedrl.guides.pendulum.pendulum_lqr`): the saturated
    LQR about the upright in normalised actions, λ = 1 inside x'Px < level, x = (θ, θ̇)."""
    numpy_guide = pendulum_lqr(level)
    gain = jnp.asarray(numpy_guide.K, jnp.float32)
    lyapunov = jnp.asarray(numpy_guide.P, jnp.float32)

    def fn(obs):
        x = jnp.stack([jnp.arctan2(obs[1], obs[0]), obs[2]])
        torque = jnp.clip(-(gain @ x), -MAX_TORQUE, MAX_TORQUE)
        return torque / MAX_TORQUE, (x @ lyapunov @ x < level).astype(jnp.float32)

    return JaxGuide(fn, name="pendulum-lqr", made_for="Pendulum-v1")


def swing_up_jax() -> JaxGuide:
    """The Pendulum-v1 swing-up controller (:func:`guidedrl.guides.pendulum.swing_up_torque`),
    trusted everywhere."""

    def fn(obs):
        theta, speed = jnp.arctan2(obs[1], obs[0]), obs[2]
        near_top = (jnp.abs(theta) < 0.6) & (jnp.abs(speed) < 4.0)
        energy = 0.5 * speed**2 + 15.0 * jnp.cos(theta)
        pump = 0.8 * (15.0 - energy) * jnp.where(speed >= 0, 1.0, -1.0)
        torque = jnp.clip(jnp.where(near_top, -(12.0 * theta + 2.5 * speed), pump), -MAX_TORQUE, MAX_TORQUE)
        return torque[None] / MAX_TORQUE, jnp.ones((), jnp.float32)

    return JaxGuide(fn, name="pendulum-swing-up", made_for="Pendulum-v1")


__all__ = ["pendulum_lqr_jax", "swing_up_jax"]
