"""Local guides: a controller ``policy(obs) -> action`` trusted where ``confidence(obs) > 0``.

``Guide`` wraps any two callables; the constructors build common ones (scripted, LQR, a
trained guidedrl policy); ``compose`` combines several; the region helpers (``box``, ``near``,
...) build confidences that ``with_region`` can narrow for ``--guide-region``. The built-in
guides are registered by name and task in :mod:`guidedrl.guides.registry` (by ``guidedrl.envs``,
beside its tasks). Turning the CLI's ``--guide NAME|module:attr|PATH`` into a Guide is
:func:`guidedrl.names.resolve_guide`, above both this package and ``guidedrl.envs`` (whose
built-in tasks' guides are made from these).
"""

from __future__ import annotations

from guidedrl.guides.base import ComposedGuide, Guide, GuideError, compose
from guidedrl.guides.policy_file import export_policy, from_policy_file
from guidedrl.guides.constructors import LQRGuide, from_checkpoint, lqr, lqr_gain, scripted
from guidedrl.guides.regions import (
    Region,
    always,
    box,
    distance_band,
    ellipse,
    far,
    near,
    sigmoid,
    with_region,
)


__all__ = [
    "Guide", "GuideError", "ComposedGuide", "compose", "scripted", "lqr", "lqr_gain", "LQRGuide",
    "from_checkpoint", "export_policy", "from_policy_file", "Region", "always", "box", "ellipse",
    "distance_band", "sigmoid", "near", "far", "with_region",
]
