"""Local guides: a controller ``policy(obs) -> action`` trusted where ``confidence(obs) > 0``.

This release has the interface only; the guidance strategies that use a guide
(RG, SAG, PIG, PAG, residual) and the guide constructors arrive next. With
``guidance="none"`` a guide is accepted and ignored.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np


class Guide:
    """A local guide: ``policy(obs)`` gives an action in the normalised space [-1, 1]^d,
    ``confidence(obs)`` a float in [0, 1] saying how far to trust it at ``obs``."""

    def __init__(
        self,
        policy: Callable[[np.ndarray], np.ndarray],
        confidence: Callable[[np.ndarray], float],
        name: Optional[str] = None,
    ):
        if not callable(policy) or not callable(confidence):
            raise TypeError("Guide needs two callables: policy(obs) and confidence(obs)")
        self.policy = policy
        self.confidence = confidence
        self.name = name or getattr(policy, "__name__", "guide")

    def __call__(self, obs: np.ndarray) -> Tuple[np.ndarray, float]:
        """(a_g(obs), λ(obs))."""
        return np.asarray(self.policy(obs), np.float32), float(self.confidence(obs))

    def __repr__(self) -> str:
        return f"Guide(name={self.name!r})"


__all__ = ["Guide"]
