"""Where a guide is trusted: confidence functions with a shape, and ``--guide-region``.

A confidence is any ``confidence(obs) -> λ``. The constructors here (:func:`always`, :func:`box`,
:func:`ellipse`, :func:`distance_band`, :func:`sigmoid`, :func:`near`, :func:`far`) build it as
a :class:`Region`: still a plain callable, which also knows its own shape, so
:meth:`Region.narrowed` can give the same shape covering half of it. That is what
``--guide-region narrow`` uses to test a guide whose region is mis-specified (too small);
``always`` (λ = 1 everywhere) and ``none-region`` (λ = 0 everywhere) need no shape.
:func:`with_region` applies a ``--guide-region`` to any guide.

"Half the region" per shape (each keeps the part deepest in the region, and is exact: no
tolerance, no sampling):

- box: the same centre, each bounded side scaled by 2^(-1/d): half the volume;
- ellipse: the same centre and axes, level scaled by 2^(-2/d): half the volume;
- near(distance, t) (trusted within t of something at distance 0, e.g. a wall): within t/2;
- far(distance, t, limit) (trusted beyond t, up to the largest distance ``limit``): beyond
  (t + limit)/2, half the band [t, limit];
- distance_band(distance, inner, outer): the inner half, [inner, (inner + outer)/2];
- sigmoid(distance, t, k): the same sharpness about t/2 (λ = 0.5 at half the distance).

A confidence that is a plain function, or the same everywhere, has no shape to halve: asking
to narrow it raises :class:`~guidedrl.errors.ConfigError`.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Callable, Optional, Sequence

import numpy as np

from guidedrl.config import GUIDE_REGIONS
from guidedrl.errors import ConfigError
from guidedrl.guides.base import ComposedGuide, Guide

Distance = Callable[[np.ndarray], float]


class Region:
    """A confidence ``λ(obs)`` with a shape that :meth:`narrowed` can halve."""

    def __call__(self, obs: np.ndarray) -> float:
        raise NotImplementedError

    def narrowed(self) -> "Region":
        """The same shape covering half of this region (the module docstring says how, per shape)."""
        raise ConfigError(f"the region {self!r} cannot be narrowed")


def _cannot_narrow(region: Region, why: str) -> ConfigError:
    return ConfigError(f"the region {region!r} cannot be narrowed: {why}")


def _half_threshold(region):
    """``region`` (one with a ``threshold`` on a distance from 0) with the threshold halved."""
    if not region.threshold > 0:
        raise _cannot_narrow(region, "halving a threshold at or below 0 does not shrink the region")
    return dataclasses.replace(region, threshold=region.threshold / 2.0)


@dataclasses.dataclass(frozen=True)
class Constant(Region):
    """The same confidence everywhere."""

    value: float

    def __call__(self, obs: np.ndarray) -> float:
        return self.value

    def narrowed(self) -> Region:
        raise _cannot_narrow(self, "it is the same everywhere, so it has no shape to halve")

    def __repr__(self) -> str:
        return f"always({self.value})"


@dataclasses.dataclass(frozen=True, eq=False)
class Box(Region):
    """1 where low <= obs[index] <= high (every coordinate), else 0."""

    low: np.ndarray
    high: np.ndarray
    index: Optional[np.ndarray] = None

    def __call__(self, obs: np.ndarray) -> float:
        x = np.asarray(obs, float)[slice(None) if self.index is None else self.index]
        return float(np.all((x >= self.low) & (x <= self.high)))

    def narrowed(self) -> "Box":
        low, high = np.broadcast_arrays(self.low, self.high)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise _cannot_narrow(self, "a side without a bound has no width to halve; give finite low and high")
        if low.ndim == 0 and self.index is None:
            raise _cannot_narrow(self, "its dimension is unknown; give low and high per coordinate")
        dims = low.size if self.index is None else np.asarray(self.index).size
        centre, half_width = (low + high) / 2.0, (high - low) / 2.0 * 2.0 ** (-1.0 / dims)
        return Box(centre - half_width, centre + half_width, self.index)

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={np.asarray(self.index).tolist()}"
        return f"box({np.asarray(self.low).tolist()}, {np.asarray(self.high).tolist()}{index})"


@dataclasses.dataclass(frozen=True, eq=False)
class Ellipse(Region):
    """1 inside (x - c)' M (x - c) < level, else 0; ``state(obs)`` maps obs to x."""

    center: np.ndarray
    matrix: np.ndarray
    level: float
    state: Optional[Callable[[np.ndarray], np.ndarray]] = None

    def __call__(self, obs: np.ndarray) -> float:
        d = (self.state(obs) if self.state is not None else np.asarray(obs, float)) - self.center
        return float(d @ self.matrix @ d < self.level)

    def narrowed(self) -> "Ellipse":
        if not np.isfinite(self.level):
            raise _cannot_narrow(self, "an infinite level has no volume to halve")
        return dataclasses.replace(self, level=self.level * 2.0 ** (-2.0 / self.matrix.shape[0]))

    def __repr__(self) -> str:
        return f"ellipse(level={self.level:g}, dim={self.matrix.shape[0]})"


@dataclasses.dataclass(frozen=True)
class DistanceBand(Region):
    """1 where inner <= distance(obs) <= outer, else 0."""

    distance: Distance
    inner: float
    outer: float

    def __call__(self, obs: np.ndarray) -> float:
        return float(self.inner <= self.distance(obs) <= self.outer)

    def narrowed(self) -> "DistanceBand":
        if not (np.isfinite(self.inner) and np.isfinite(self.outer)):
            raise _cannot_narrow(self, "an unbounded band has no width to halve; use near or far")
        return dataclasses.replace(self, outer=(self.inner + self.outer) / 2.0)

    def __repr__(self) -> str:
        return f"distance_band({_name(self.distance)}, {self.inner:g}, {self.outer:g})"


@dataclasses.dataclass(frozen=True)
class Sigmoid(Region):
    """λ = σ(sharpness·(threshold - distance(obs)))."""

    distance: Distance
    threshold: float
    sharpness: float = 10.0

    def __call__(self, obs: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-self.sharpness * (self.threshold - self.distance(obs)))))

    def narrowed(self) -> "Sigmoid":
        return _half_threshold(self)

    def __repr__(self) -> str:
        return f"sigmoid({_name(self.distance)}, threshold={self.threshold:g}, sharpness={self.sharpness:g})"


@dataclasses.dataclass(frozen=True)
class Near(Region):
    """1 where distance(obs) < threshold, else 0 (below 0 too: past the edge of what the distance is
    measured from, e.g. a wall)."""

    distance: Distance
    threshold: float

    def __call__(self, obs: np.ndarray) -> float:
        return float(self.distance(obs) < self.threshold)

    def narrowed(self) -> "Near":
        return _half_threshold(self)

    def __repr__(self) -> str:
        return f"near({_name(self.distance)}, {self.threshold:g})"


@dataclasses.dataclass(frozen=True)
class Far(Region):
    """1 where distance(obs) > threshold, else 0; ``limit`` is the largest distance the task
    reaches (e.g. to the arena's wall), the far edge of the region, used only to narrow it."""

    distance: Distance
    threshold: float
    limit: Optional[float] = None

    def __call__(self, obs: np.ndarray) -> float:
        return float(self.distance(obs) > self.threshold)

    def narrowed(self) -> "Far":
        if self.limit is None or not self.limit > self.threshold:
            raise _cannot_narrow(self, "give far(..., limit=) beyond the threshold, the largest distance the task reaches")
        return dataclasses.replace(self, threshold=(self.threshold + self.limit) / 2.0)

    def __repr__(self) -> str:
        limit = "" if self.limit is None else f", limit={self.limit:g}"
        return f"far({_name(self.distance)}, {self.threshold:g}{limit})"


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


# -- constructors: each returns confidence(obs) ---------------------------------------------------


def always(value: float = 1.0) -> Constant:
    """The same confidence everywhere."""
    return Constant(value)


def box(low: Sequence[float], high: Sequence[float], index: Optional[Sequence[int]] = None) -> Box:
    """1 where low <= obs[index] <= high (every coordinate), else 0."""
    return Box(np.asarray(low, float), np.asarray(high, float), None if index is None else np.asarray(index))


def ellipse(center: Sequence[float], matrix: np.ndarray, level: float,
            state: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> Ellipse:
    """1 inside the ellipse (x - c)' M (x - c) < level, else 0; ``state(obs)`` maps obs to x."""
    return Ellipse(np.asarray(center, float), np.asarray(matrix, float), float(level), state)


def distance_band(distance: Distance, inner: float, outer: float) -> DistanceBand:
    """1 where inner <= distance(obs) <= outer, else 0 (e.g. a band along a wall)."""
    return DistanceBand(distance, float(inner), float(outer))


def sigmoid(distance: Distance, threshold: float, sharpness: float = 10.0) -> Sigmoid:
    """A smooth λ = σ(sharpness·(threshold - distance(obs))): near 1 well inside the threshold,
    near 0 well outside, 0.5 on it."""
    return Sigmoid(distance, float(threshold), float(sharpness))


def near(distance: Distance, threshold: float) -> Near:
    """1 where distance(obs) < threshold, else 0: trusted near a danger (a wall, an obstacle) at
    distance 0. Narrowed: within threshold/2."""
    return Near(distance, float(threshold))


def far(distance: Distance, threshold: float, limit: Optional[float] = None) -> Far:
    """1 where distance(obs) > threshold, else 0: trusted far from something (e.g. a target).
    ``limit``, the largest distance the task reaches, lets it be narrowed: beyond (threshold + limit)/2."""
    return Far(distance, float(threshold), None if limit is None else float(limit))


# -- --guide-region ------------------------------------------------------------------------------


def with_region(guide: Guide, region: str) -> Guide:
    """``guide`` acting as before, with its λ replaced as ``--guide-region`` says.

    ``default`` keeps λ(s) (returns ``guide`` itself); ``always``: λ = 1 everywhere (trusted
    everywhere); ``narrow``: its region halved (:meth:`Region.narrowed`; a confidence that is not
    a :class:`Region` raises :class:`~guidedrl.errors.ConfigError`); ``none-region``: λ = 0
    everywhere (the guide never acts). A composed guide gets the region of each of its guides.
    Applying the region a guide already has returns it; applying another one raises.
    """
    if region not in GUIDE_REGIONS:
        raise ConfigError(f"unknown guide region {region!r}; expected one of {', '.join(GUIDE_REGIONS)}")
    if region == "default" or region == guide.guide_region:
        return guide
    if guide.guide_region != "default":
        raise ConfigError(f"guide {guide.name!r} already has the region {guide.guide_region!r}; "
                          f"give the guide as it was made to apply {region!r}")
    if isinstance(guide, ComposedGuide):
        changed: Guide = ComposedGuide([with_region(part, region) for part in guide.guides],
                                       name=f"{guide.name}[{region}]")
        changed.action_dim = guide.action_dim
    else:
        changed = copy.copy(guide)
        changed.rng = copy.deepcopy(guide.rng)  # its own stream: the original guide keeps drawing from its own
        changed.confidence = _confidence(guide, region)
        changed.name = f"{guide.name}[{region}]"
    changed.guide_region = region
    return changed


def _confidence(guide: Guide, region: str) -> Callable[[np.ndarray], float]:
    if region == "always":
        return always(1.0)
    if region == "none-region":
        return always(0.0)
    if not isinstance(guide.confidence, Region):
        raise ConfigError(
            f"guide {guide.name!r} has a confidence guidedrl cannot narrow (a plain function, not a region "
            "built with guidedrl.guides' box, ellipse, near, far, distance_band or sigmoid): use --guide-region "
            "default, always or none-region, or build its confidence with one of those")
    try:
        return guide.confidence.narrowed()
    except ConfigError as error:
        raise ConfigError(f"guide {guide.name!r}: {error}") from None


__all__ = [
    "Region", "Constant", "Box", "Ellipse", "DistanceBand", "Sigmoid", "Near", "Far",
    "always", "box", "ellipse", "distance_band", "sigmoid", "near", "far", "with_region",
]
