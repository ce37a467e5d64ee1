"""Backbones: SAC, TD3 and AWAC, each a module of pure functions (init, explore_action,
deterministic_action, critic_q, update) over its own state dataclass."""

from __future__ import annotations

from types import ModuleType

from guidedrl.backbones import awac, sac, td3
from guidedrl.errors import ConfigError

BACKBONES = {sac.NAME: sac, td3.NAME: td3, awac.NAME: awac}


def get_backbone(name: str) -> ModuleType:
    """The backbone module called ``name``; an unknown name lists the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ConfigError(
            f"unknown algo {name!r}; expected one of {', '.join(sorted(BACKBONES))}"
        ) from None
