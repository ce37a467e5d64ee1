"""Guidance strategies (docs/ALGORITHMS.md, "Strategies"). Each lives in its own module and is a
:class:`~guidedrl.guidance.base.Strategy`; ``get_strategy(name)`` returns one."""

from __future__ import annotations

from guidedrl.errors import ConfigError
from guidedrl.guidance import jsrl, none, pag, pig, residual, rg, sag
from guidedrl.guidance.base import Strategy

STRATEGIES = {m.STRATEGY.name: m.STRATEGY for m in (none, rg, sag, pig, pag, residual, jsrl)}


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; an unknown name lists the known ones."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown guidance {name!r}; expected one of {', '.join(STRATEGIES)}"
        ) from None


__all__ = ["Strategy", "STRATEGIES", "get_strategy"]
