"""The agent state as a few flat buffers between the loop's jitted calls.

A jitted call pays for every array it takes and returns: the PAG agent state of the paper
suite's 64-64 networks has 72 leaves, and passing it in and out of a call cost about 100 µs
against 8 µs for the same numbers in one buffer (measured on the suite's machine, one XLA
thread). So the loop holds the state packed by dtype — one float32 buffer, one int32 buffer,
... — and each jitted call unpacks it on entry and packs it on exit, inside the compiled
program, where both are a few slices and one concatenation. The agent functions themselves
stay pure functions of the state pytree; packing is exact, so the numbers are the same.
"""

from __future__ import annotations

from typing import Any, Tuple

import jax
import jax.numpy as jnp
import numpy as np


class Packing:
    """How a state pytree of fixed shapes maps to one flat buffer per dtype (hashable: a static
    argument of the jitted calls)."""

    def __init__(self, template: Any):
        leaves, self.treedef = jax.tree_util.tree_flatten(template)
        self.shapes = tuple(tuple(leaf.shape) for leaf in leaves)
        self.dtypes = tuple(jnp.dtype(leaf.dtype) for leaf in leaves)
        self.groups = tuple(sorted({dtype.name for dtype in self.dtypes}))
        offsets, self.slots = {group: 0 for group in self.groups}, []
        for shape, dtype in zip(self.shapes, self.dtypes):
            size = int(np.prod(shape))
            self.slots.append((self.groups.index(dtype.name), offsets[dtype.name], size))
            offsets[dtype.name] += size
        self.sizes = tuple(offsets[group] for group in self.groups)
        self.slots = tuple(self.slots)
        self._key = (self.treedef, self.shapes, tuple(d.name for d in self.dtypes))
        self._hash = hash(self._key)  # a jitted call hashes its static packing at every step

    def pack(self, state: Any) -> Tuple[jax.Array, ...]:
        """The state's leaves, flattened and concatenated per dtype (traceable)."""
        leaves = jax.tree_util.tree_leaves(state)
        parts = [[] for _ in self.groups]
        for leaf, (group, _, _) in zip(leaves, self.slots):
            parts[group].append(jnp.ravel(leaf))
        return tuple(jnp.concatenate(part) if len(part) > 1 else part[0] for part in parts)

    def unpack(self, flat: Tuple[jax.Array, ...]) -> Any:
        """Inverse of :meth:`pack` (traceable)."""
        leaves = [flat[group][start:start + size].reshape(shape)
                  for (group, start, size), shape in zip(self.slots, self.shapes)]
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Packing) and self._hash == other._hash and self._key == other._key)


pack = jax.jit(lambda packing, state: packing.pack(state), static_argnums=0)
unpack = jax.jit(lambda packing, flat: packing.unpack(flat), static_argnums=0)
