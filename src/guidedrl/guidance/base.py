"""The seam where guidance strategies plug into a backbone (docs/DESIGN.md, decision 2).

A strategy changes only: the behaviour action, the reward, the next-state value
inside the critic target, an extra actor-loss term, and (PAG) a network of its
own. Backbones call these hooks; the training loop never asks which strategy
runs. Every hook is a pure, traceable function.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Tuple

import jax

from guidedrl.types import Batch, EpisodeClock, GuideFields, Metrics

# The hooks' signatures, spelled out for readers (and used by type checkers).
InitFn = Callable[[Any, jax.Array, int, int], Any]
"""init(config, key, obs_dim, action_dim) -> strategy state (a pytree, may be empty)."""
BehaviourFn = Callable[..., Tuple[jax.Array, jax.Array]]
"""behaviour(config, strategy_state, obs, actor_action, guide, key, deterministic, env_step, clock)
-> (executed action, from_guide flag). ``actor_action`` is the actor's proposal (a sample, its
deterministic action, or the uniform warm-up draw); ``clock`` (an :class:`EpisodeClock`) is the
step within the episode and the jump-start horizon the loop's curriculum set (JSRL)."""
GuidedActionFn = Callable[..., jax.Array]
"""guided_action(config, strategy_state, obs, guide_action, key, deterministic, env_step) -> the
action the guide's side of the switch executes (SAG: a_g(s); PAG: the perturbed ã(s)), which a
learned confidence rates against the actor's (guidedrl.confidence)."""
CurriculumFn = Callable[..., Any]
"""curriculum(config) -> a host-side object (guidance.jsrl.JumpStart) the loop asks for each
episode's jump-start horizon and tells each evaluation's return; it measures itself on the
guide alone before training and is saved in checkpoints."""
ComposeFn = Callable[[Any, jax.Array, GuideFields], jax.Array]
"""compose(config, actor_action, guide) -> the action the critic sees for the actor's output
(identity except for residual RL, where the actor's output corrects the guide's action)."""
RewardFn = Callable[[Any, Batch, jax.Array], jax.Array]
"""reward(config, batch, env_step) -> the reward the critic learns from."""
NextValueFn = Callable[..., jax.Array]
"""next_value(config, strategy_state, batch, actor_next_value, target_q, key, env_step) -> the
bracket of the critic target: y = reward + γ (1 - terminated) next_value. ``actor_next_value`` is
the backbone's V̄_θ(s'); ``target_q(action)`` gives min_j Q̄_j(s', action)."""
ActorExtraLossFn = Callable[..., jax.Array]
"""actor_extra_loss(config, batch, guide_penalty, env_step) -> scalar added to the actor loss.
``guide_penalty()`` lazily gives the backbone's per-sample distance of π_θ from a_g(s)
(SAC: -log π_θ(a_g|s); TD3: ‖μ_θ(s) - a_g(s)‖²)."""
UpdateFn = Callable[..., Tuple[Any, Metrics]]
"""update(config, strategy_state, batch, critic_q, key, env_step) -> (strategy state, metrics);
``critic_q(obs, action)`` gives min_j Q_j with the current critics."""


@dataclasses.dataclass(frozen=True)
class Strategy:
    """A guidance strategy: a name and its hooks."""

    name: str
    init: InitFn
    behaviour: BehaviourFn
    compose: ComposeFn
    reward: RewardFn
    next_value: NextValueFn
    actor_extra_loss: ActorExtraLossFn
    update: UpdateFn
    uses_guide: bool
    guided_action: Optional[GuidedActionFn] = None
    """Set by the strategies that execute the guide with a switch (SAG, PAG): what a learned
    confidence can narrow. None: the strategy does not switch to the guide (``--confidence`` refused)."""
    curriculum: Optional[CurriculumFn] = None
    """Set by JSRL: its horizon curriculum (the only strategy state that lives on the host)."""


__all__ = ["Strategy", "GuideFields", "Batch", "EpisodeClock"]
