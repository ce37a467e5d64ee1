"""Pytrees that cross the jit boundary: batches of transitions and what the guide said."""

from __future__ import annotations

from typing import Dict, Optional

import jax
import jax.numpy as jnp
from flax import struct

Metrics = Dict[str, jax.Array]


@struct.dataclass
class GuideFields:
    """What the guide said at one state (or a batch of states).

    ``guide_action`` is a_g(s) in the normalised action space and ``confidence``
    is λ(s) in [0, 1]. Without a guide both are zeros, so every strategy reads
    the same fields whether or not a guide exists.
    """

    guide_action: jax.Array
    confidence: jax.Array

    @classmethod
    def zeros(cls, action_dim: int, batch_shape: tuple = ()) -> "GuideFields":
        """No guide: a zero action with zero confidence."""
        return cls(
            guide_action=jnp.zeros(batch_shape + (action_dim,), jnp.float32),
            confidence=jnp.zeros(batch_shape, jnp.float32),
        )


@struct.dataclass
class EpisodeClock:
    """Where an action falls in its episode: ``step``, the steps taken in the episode before it,
    and ``horizon``, the guide's jump-start horizon h (JSRL: the guide acts while step < h; 0
    for every other strategy). Both int32, shaped like the batch of observations."""

    step: jax.Array
    horizon: jax.Array

    @classmethod
    def after_horizon(cls, batch_shape: tuple = ()) -> "EpisodeClock":
        """No jump-start: horizon 0 (outside training, e.g. a saved policy acting)."""
        return cls(step=jnp.zeros(batch_shape, jnp.int32), horizon=jnp.zeros(batch_shape, jnp.int32))


@struct.dataclass
class Batch:
    """A minibatch of transitions as the learner sees it (leading axis: batch).

    ``terminated`` stops bootstrapping; a time-limit truncation does not, so it
    is not needed by the learner (the buffer keeps it for bookkeeping). ``cost`` is read by the
    risk critic only (guidedrl.risk).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    guide_action: jax.Array
    confidence: jax.Array
    next_guide_action: jax.Array
    next_confidence: jax.Array
    cost: Optional[jax.Array] = None
    """The catastrophe label of the step: 1 on a catastrophe, 0 without one, -1 where it is not
    known (a dataset without labels); None in a batch made by hand without it (all unknown)."""

    @property
    def guide(self) -> GuideFields:
        """Guide fields at s."""
        return GuideFields(self.guide_action, self.confidence)

    @property
    def next_guide(self) -> GuideFields:
        """Guide fields at s'."""
        return GuideFields(self.next_guide_action, self.next_confidence)


BATCH_FIELDS = tuple(Batch.__dataclass_fields__)
