"""Strategy ``none``: the backbone alone. The guide, if any, is ignored."""

from __future__ import annotations

import jax.numpy as jnp

from guidedrl.guidance.base import Strategy


def init(config, key, obs_dim, action_dim):
    """No state of its own."""
    return {}


def behaviour(config, strategy_state, obs, actor_action, guide, key, deterministic, env_step, clock=None):
    """Execute the actor's action; the guide never acts."""
    return actor_action, jnp.zeros(actor_action.shape[:-1], bool)


def guided_action(config, strategy_state, obs, guide_action, key, deterministic, env_step):
    """The guide's own action a_g(s) (SAG's side of the switch)."""
    return guide_action


def compose(config, actor_action, guide):
    """The actor's action is the action."""
    return actor_action


def reward(config, batch, env_step):
    """The environment's reward, unchanged."""
    return batch.reward


def next_value(config, strategy_state, batch, actor_next_value, target_q, key, env_step):
    """The backbone's own V̄_θ(s')."""
    return actor_next_value


def actor_extra_loss(config, batch, guide_penalty, env_step):
    """Nothing added."""
    return jnp.zeros(())


def update(config, strategy_state, batch, critic_q, key, env_step):
    """Nothing to learn."""
    return strategy_state, {}


STRATEGY = Strategy(
    name="none",
    init=init,
    behaviour=behaviour,
    compose=compose,
    reward=reward,
    next_value=next_value,
    actor_extra_loss=actor_extra_loss,
    update=update,
    uses_guide=False,
)
