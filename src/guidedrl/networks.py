"""Networks: an MLP, a tanh-Gaussian actor, a deterministic actor and twin critics.

Modules are Flax linen; their parameters are plain pytrees that the agents
keep in their state and pass explicitly.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0
# Executed actions are clipped to ±(1 - ACTION_EPS) wherever a tanh log-prob is taken
# at them (docs/ALGORITHMS.md, "Conventions"): atanh(±1) is infinite.
ACTION_EPS = 1e-3


class MLP(nn.Module):
    """ReLU hidden layers, a linear output layer.

    ``layer_norm``: a LayerNorm before each hidden ReLU. ``output_scale``: the output layer's
    kernel and bias drawn from U(±output_scale) (rlkit's policy output layer, 1e-3) instead of
    Flax's default (lecun normal kernel, zero bias)."""

    hidden_sizes: Sequence[int]
    out_dim: int
    layer_norm: bool = False
    output_scale: Optional[float] = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for size in self.hidden_sizes:
            x = nn.Dense(size)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = nn.relu(x)
        if self.output_scale is None:
            return nn.Dense(self.out_dim)(x)
        uniform = _uniform(self.output_scale)
        return nn.Dense(self.out_dim, kernel_init=uniform, bias_init=uniform)(x)


def _uniform(scale: float):
    """An initialiser drawing U(±scale)."""
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)
    return init


class TanhGaussianActor(nn.Module):
    """π_θ(·|s): a Gaussian squashed by tanh. Returns (mean, log_std) before squashing."""

    hidden_sizes: Sequence[int]
    action_dim: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> Tuple[jax.Array, jax.Array]:
        out = MLP(self.hidden_sizes, 2 * self.action_dim)(obs)
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)


class DeterministicActor(nn.Module):
    """μ_θ(s) = tanh(MLP(s)) in [-1, 1]^d."""

    hidden_sizes: Sequence[int]
    action_dim: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return jnp.tanh(MLP(self.hidden_sizes, self.action_dim)(obs))


class TwinCritic(nn.Module):
    """Q_1(s, a), Q_2(s, a) computed as one vmapped network. Output shape (2, *batch).
    ``layer_norm``: a LayerNorm before each hidden ReLU (see :class:`MLP`)."""

    hidden_sizes: Sequence[int]
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        critics = nn.vmap(
            MLP,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=2,
        )(self.hidden_sizes, 1, self.layer_norm)
        return critics(jnp.concatenate([obs, action], axis=-1))[..., 0]


# -- tanh-Gaussian distribution helpers (pure functions) -----------------------------------

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)  # a Python float: no JAX computation at import


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, x: jax.Array) -> jax.Array:
    """log N(x; mean, exp(log_std)²), summed over the last axis (AWAC's policy; before the tanh, SAC's)."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - _HALF_LOG_2PI, axis=-1)


def _log_det_tanh(pre_tanh: jax.Array) -> jax.Array:
    """log |d tanh(x)/dx| = 2 (log 2 - x - softplus(-2x)), numerically stable."""
    return jnp.sum(2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh)), axis=-1)


def tanh_gaussian_sample(
    mean: jax.Array, log_std: jax.Array, key: jax.Array
) -> Tuple[jax.Array, jax.Array]:
    """Reparameterised sample a = tanh(mean + σ ε) and its log-probability log π(a|s)."""
    pre_tanh = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
    log_prob = gaussian_log_prob(mean, log_std, pre_tanh) - _log_det_tanh(pre_tanh)
    return jnp.tanh(pre_tanh), log_prob


def tanh_gaussian_log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    """log π(a|s) of a given action, clipped to ±(1 - ACTION_EPS) first."""
    action = jnp.clip(action, -1.0 + ACTION_EPS, 1.0 - ACTION_EPS)
    pre_tanh = jnp.arctanh(action)
    return gaussian_log_prob(mean, log_std, pre_tanh) - _log_det_tanh(pre_tanh)
