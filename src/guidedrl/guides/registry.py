"""The built-in guides, by name and task: what ``--guide NAME`` and ``--guide default`` make.

A task registers its guides here the way it registers with Gymnasium, by entry point
(``"module:attr"``, a factory returning a :class:`~guidedrl.Guide`, imported only when the guide
is made, so registering imports nothing)::

    register_guide("lqr", "guidedrl.guides.pendulum:pendulum_lqr", task="Pendulum-v1", default=True)
    register_guide(DEFAULT, "guidedrl.envs.dm:cartpole_guide", task="SafeCartpole-v0")

``default=True`` (or the name :data:`DEFAULT` itself) makes it the task's own guide, ``--guide
default``. ``guidedrl.envs`` registers the built-in tasks' guides beside the tasks themselves;
:func:`guidedrl.names.resolve_guide` looks names up here. An entry point here is code the
package registered, never a string read from a file, so making a registered guide is allowed
whether or not the spec that named it is trusted.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple, Union

from guidedrl.guides.base import Guide

DEFAULT = "default"
"""The name of a task's own guide (``--guide default``)."""

Factory = Union[str, Callable[[], Guide]]
"""A guide's entry point: ``"module:attr"`` naming a factory, or the factory itself."""


@dataclass(frozen=True)
class GuideEntry:
    """A registered guide: its name, the task (Gymnasium id) it is made for, and its factory."""

    name: str
    task: str
    factory: Factory

    def make(self) -> Guide:
        """A new guide from the factory (its module imported first when given as ``module:attr``)."""
        factory = self.factory
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        return factory()


_GUIDES: Dict[Tuple[str, str], GuideEntry] = {}
"""(name, task) -> entry, in registration order; a task's default is also under (DEFAULT, task)."""


def register_guide(name: str, factory: Factory, *, task: str, default: bool = False) -> None:
    """Register the guide ``name`` of ``task`` (a Gymnasium id, e.g. ``"Pendulum-v1"``), made by
    ``factory``; with ``default`` (or ``name == DEFAULT``) it is also the task's default guide.
    Registering a (name, task) again replaces it."""
    entry = GuideEntry(name, task, factory)
    _GUIDES[(name, task)] = entry
    if default:
        _GUIDES[(DEFAULT, task)] = entry


def find_guide(name: str, task: str) -> Optional[GuideEntry]:
    """The guide registered as ``name`` for ``task`` (``DEFAULT``: its default), or None."""
    return _GUIDES.get((name, task))


def guide_names() -> Dict[str, List[str]]:
    """Each registered name but :data:`DEFAULT`, with the tasks it is registered for, in
    registration order."""
    named: Dict[str, List[str]] = {}
    for (name, task) in _GUIDES:
        if name != DEFAULT:
            named.setdefault(name, []).append(task)
    return named


def default_tasks() -> List[str]:
    """The tasks with a default guide, in registration order."""
    return [task for (name, task) in _GUIDES if name == DEFAULT]


__all__ = ["DEFAULT", "GuideEntry", "register_guide", "find_guide", "guide_names", "default_tasks"]
