"""The deployed policy as a pure act function, and reading one from a checkpoint.

What turns an agent state into deterministic actions (:func:`deployed_actions`,
:func:`mixed_actions`, :func:`guide_fields`), the shapes a checkpoint's state is restored into
(:func:`state_template`) and :func:`read_policy`, which reads a checkpoint's ``meta.json`` and
``agent.msgpack`` (:mod:`guidedrl.checkpoint`) into a :class:`Policy`. Nothing here resolves a
guide or makes an env, so reading a policy imports no code a file names.

Two types hold a trained agent, each with its own job: :class:`Policy` is a checkpoint's
contents, read-only and guide-less (what ``guidedrl export`` and ``guides.from_checkpoint``
use, and what ``guidedrl.load`` starts from); :class:`guidedrl.Run` (``training/run.py``) is the
agent a user holds — what ``guidedrl.train`` returns and ``guidedrl.load`` gives, with its guide
bound, acting in the env's units, saved, exported and evaluated, and the training loop's live
state while it trains.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from functools import partial
from pathlib import Path
from typing import Any, Union

import jax
import jax.numpy as jnp
import numpy as np

from guidedrl import agent
from guidedrl.backbones import get_backbone
from guidedrl.checkpoint import META, load_agent_state, read_meta
from guidedrl.config import Config
from guidedrl.errors import CheckpointError, GuidedRLError
from guidedrl.types import GuideFields


def state_template(config: Config, obs_dim: int, action_dim: int) -> Any:
    """The shapes and dtypes of a fresh agent state, without computing it."""
    return jax.eval_shape(lambda: agent.init(config, jax.random.PRNGKey(0), obs_dim, action_dim))


@partial(jax.jit, static_argnames=("config", "guide_free"))
def deployed_actions(config, state: agent.AgentState, obs, guide_action, confidence, guide_free: bool):
    """The deterministic actions at a batch of observations, and whether the guide gave each.

    ``guide_free`` uses the actor alone everywhere; otherwise the strategy decides
    (the guide acts where λ(s) >= 0.5 for strategies that execute it).
    """
    obs = jnp.asarray(obs, jnp.float32)
    if guide_free:
        action = get_backbone(config.algo).deterministic_action(config, state.backbone, obs)
        return action, jnp.zeros(obs.shape[:1], bool)
    guide = GuideFields(jnp.asarray(guide_action, jnp.float32), jnp.asarray(confidence, jnp.float32))
    return agent.act(config, state, obs, guide, jax.random.PRNGKey(0), True)


@partial(jax.jit, static_argnames="config")
def mixed_actions(config, state: agent.AgentState, obs, guide_action, confidence, guide_free, clock=None):
    """:func:`deployed_actions` row by row: the actor alone where ``guide_free[i]``, the deployed
    policy elsewhere, in one call (an evaluation of both policies side by side); ``clock`` (an
    EpisodeClock per row) places each row in its episode (JSRL's horizon)."""
    obs = jnp.asarray(obs, jnp.float32)
    guide_free = jnp.asarray(guide_free, bool)
    actor_action = get_backbone(config.algo).deterministic_action(config, state.backbone, obs)
    guide = GuideFields(jnp.asarray(guide_action, jnp.float32), jnp.asarray(confidence, jnp.float32))
    action, from_guide = agent.act(config, state, obs, guide, jax.random.PRNGKey(0), True, clock=clock)
    return jnp.where(guide_free[:, None], actor_action, action), from_guide & ~guide_free


def deployed_action(config, state: agent.AgentState, obs, guide_action, confidence, guide_free: bool):
    """:func:`deployed_actions` at one observation."""
    action, from_guide = deployed_actions(config, state, np.asarray(obs, np.float32)[None],
                                          np.asarray(guide_action, np.float32)[None],
                                          np.asarray([confidence], np.float32), guide_free)
    return action[0], from_guide[0]


def guide_fields(guide: Any, obs: np.ndarray, action_dim: int):
    """(a_g(obs), λ(obs)) from ``guide``, or zeros when there is none."""
    if guide is None:
        return np.zeros(action_dim, np.float32), 0.0
    return guide(obs)


def act_normalized(agent_config: Config, state: agent.AgentState, obs: np.ndarray, obs_dim: int,
                   action_dim: int, guide: Any = None, guide_free: bool = False) -> np.ndarray:
    """The deterministic action in [-1, 1]^d at one raw observation: the deployed policy (with
    ``guide`` asked about ``obs``) or, with ``guide_free``, the actor alone. ``agent_config`` is
    a run's ``config.agent`` (the static argument of the jitted call)."""
    obs = np.asarray(obs, np.float32).reshape(-1)
    if obs.shape != (obs_dim,):
        raise GuidedRLError(f"observation of shape {obs.shape}, expected ({obs_dim},)")
    guide_action, confidence = guide_fields(guide, obs, action_dim)
    action, _ = deployed_action(agent_config, state, obs, guide_action, confidence, guide_free)
    return np.asarray(action)


@dataclasses.dataclass(frozen=True)
class Policy:
    """A trained agent as a checkpoint stores it: config, state, spaces and the raw metadata.

    It holds no guide and no env: ``config.guide`` and ``config.env`` are only the strings the
    file records, never resolved here. For a policy with its guide, acting in the env's units,
    use :func:`guidedrl.load` (a :class:`guidedrl.Run`)."""

    config: Config
    state: agent.AgentState
    obs_dim: int
    action_low: np.ndarray
    action_high: np.ndarray
    meta: dict

    @functools.cached_property
    def agent_config(self) -> Config:
        """``config.agent``: what the jitted act function sees (computed once)."""
        return self.config.agent

    @property
    def action_dim(self) -> int:
        """The number of action values."""
        return int(self.action_low.shape[0])

    @property
    def directory(self) -> Path:
        """The checkpoint directory read."""
        return Path(self.meta["directory"])

    @property
    def meta_path(self) -> str:
        """The metadata file read (``<checkpoint>/meta.json``), for messages about what it names."""
        return os.path.join(self.meta["directory"], META)

    def act_normalized(self, obs: np.ndarray, guide: Any = None, guide_free: bool = False) -> np.ndarray:
        """:func:`act_normalized` with this policy's config and state."""
        return act_normalized(self.agent_config, self.state, obs, self.obs_dim, self.action_dim, guide, guide_free)


def read_policy(path: Union[str, os.PathLike]) -> Policy:
    """The :class:`Policy` in the checkpoint at ``path`` (a checkpoint directory or a run
    directory holding ``checkpoint/``): its ``meta.json`` and ``agent.msgpack``, checked.

    Raises :class:`~guidedrl.errors.CheckpointError` naming the checkpoint when either is
    missing, corrupt or of another format version."""
    meta = read_meta(path)
    try:
        config = Config.from_dict(meta["config"])
        obs_dim, action_dim = int(meta["obs_dim"]), int(meta["action_dim"])
        action_low = np.asarray(meta["action_low"], np.float32)
        action_high = np.asarray(meta["action_high"], np.float32)
        if action_low.shape != (action_dim,) or action_high.shape != (action_dim,):
            raise ValueError(f"action bounds of shapes {action_low.shape} and {action_high.shape} "
                             f"for {action_dim} action values")
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"corrupt checkpoint {meta['directory']!r}: bad {META} ({error})") from None
    state = load_agent_state(meta, state_template(config, obs_dim, action_dim))
    return Policy(config, state, obs_dim, action_low, action_high, meta)


__all__ = ["Policy", "read_policy", "state_template", "deployed_actions", "deployed_action",
           "guide_fields", "act_normalized"]
