"""Guidance strategies. ``get_strategy(name)`` returns one; each lives in its own module."""

from __future__ import annotations

from guidedrl.errors import ConfigError
from guidedrl.guidance import none
from guidedrl.guidance.base import Strategy

STRATEGIES = {none.STRATEGY.name: none.STRATEGY}


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; an unknown name lists the known ones."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown guidance {name!r}; expected one of {', '.join(sorted(STRATEGIES))}"
        ) from None


__all__ = ["Strategy", "STRATEGIES", "get_strategy"]
