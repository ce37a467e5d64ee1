"""SAG, strict action guided: the guide acts where trusted (with probability λ(s)), and the
critic evaluates that switched policy: y = r + γ(1-d)[λ' Q̄(s', a_g(s')) + (1-λ') V̄_θ(s')]."""

from __future__ import annotations

import dataclasses

from guidedrl.guidance import none
from guidedrl.guidance.common import switched, switched_next_value, use_guide


def behaviour(config, strategy_state, obs, actor_action, guide, key, deterministic, env_step, clock=None):
    use = use_guide(key, guide.confidence, deterministic)
    return switched(use, guide.guide_action, actor_action), use


def next_value(config, strategy_state, batch, actor_next_value, target_q, key, env_step):
    if config.critic_target == "actor":
        return actor_next_value
    return switched_next_value(batch.next_confidence, actor_next_value,
                               target_q(batch.next_guide_action))


STRATEGY = dataclasses.replace(
    none.STRATEGY, name="sag", behaviour=behaviour, next_value=next_value, uses_guide=True,
    guided_action=none.guided_action,
)
