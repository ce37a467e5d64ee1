"""A ring buffer of transitions that carries what the guide said (docs/DESIGN.md, decision 1).

It lives on the host in NumPy arrays allocated once (pages are only touched as
the buffer fills) and hands the learner a :class:`~guidedrl.types.Batch` of K
minibatches at a time, drawn with a seeded NumPy generator that is saved with
the buffer so a resumed run draws the same batches.

An offline dataset lives in the same storage, in rows of its own ahead of the ring
(:meth:`ReplayBuffer.add_dataset`): online data never evict it, and minibatches are drawn
uniformly over dataset and online rows together, or with a fixed share from the dataset.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from guidedrl.types import BATCH_FIELDS, Batch


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions with guide fields and ``terminated`` apart from ``truncated``."""

    def __init__(self, capacity: int, obs_dim: int, action_dim: int):
        self.capacity = int(capacity)
        self.obs_dim = int(obs_dim)
        self.action_dim = int(action_dim)
        shapes = {
            "obs": obs_dim,
            "action": action_dim,
            "reward": 0,
            "next_obs": obs_dim,
            "terminated": 0,
            "truncated": 0,
            "guide_action": action_dim,
            "confidence": 0,
            "next_guide_action": action_dim,
            "next_confidence": 0,
            "cost": 0,  # the catastrophe label: 1, 0, or -1 where unknown (guidedrl.risk)
        }
        # One (capacity, width) matrix holds every field side by side, so a minibatch is one
        # gather and one host-to-device transfer; ``layout`` says which columns hold what and
        # ``data`` gives each field as a view of its columns.
        layout, start = [], 0
        for name, width in shapes.items():
            layout.append((name, start, start + max(width, 1), width == 0))
            start += max(width, 1)
        self.layout: Tuple[Tuple[str, int, int, bool], ...] = tuple(layout)
        self.width = start
        self.dataset_size = 0  # rows [0, dataset_size) of ``storage`` hold the dataset, never evicted
        self._allocate(0)
        self.position = 0  # where the next transition goes (in the ring, after the dataset's rows)
        self.size = 0

    def _allocate(self, dataset_size: int) -> None:
        self.dataset_size = int(dataset_size)
        self.storage = np.zeros((self.dataset_size + self.capacity, self.width), np.float32)
        ring = self.storage[self.dataset_size:]
        self.data: Dict[str, np.ndarray] = {  # the ring's fields, as views of its columns
            name: ring[:, lo] if scalar else ring[:, lo:hi] for name, lo, hi, scalar in self.layout
        }

    @property
    def dataset(self) -> Dict[str, np.ndarray]:
        """The dataset's fields (views), empty arrays without one."""
        rows = self.storage[: self.dataset_size]
        return {name: rows[:, lo] if scalar else rows[:, lo:hi] for name, lo, hi, scalar in self.layout}

    def add_dataset(self, fields: Dict[str, np.ndarray]) -> None:
        """Store a dataset's transitions (every field of the buffer, same leading length) in rows
        of their own that online data never overwrite (``cost``, the catastrophe label, may be
        left out: unknown, -1). Only into an empty buffer."""
        if self.size or self.dataset_size:
            raise ValueError("a dataset goes into an empty buffer, once")
        fields = {"cost": np.full(len(fields["reward"]), -1.0, np.float32), **fields}  # labels: unknown unless given
        missing = sorted(set(self.data) - set(fields))
        if missing:
            raise ValueError(f"dataset fields missing: {', '.join(missing)}")
        count = len(fields["reward"])
        self._allocate(count)
        for name, array in self.dataset.items():
            array[...] = np.asarray(fields[name], np.float32).reshape(array.shape)

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
        truncated: bool,
        guide_action: Optional[np.ndarray] = None,
        confidence: float = 0.0,
        next_guide_action: Optional[np.ndarray] = None,
        next_confidence: float = 0.0,
        cost: float = -1.0,
    ) -> None:
        """Store one transition; missing guide fields are zeros (no guide), a missing catastrophe
        label is unknown (-1)."""
        i = self.position  # a row of the ring (``data`` holds the ring's views)
        data = self.data
        data["obs"][i] = obs
        data["action"][i] = action
        data["reward"][i] = reward
        data["next_obs"][i] = next_obs
        data["terminated"][i] = terminated
        data["truncated"][i] = truncated
        data["guide_action"][i] = 0.0 if guide_action is None else guide_action
        data["confidence"][i] = confidence
        data["next_guide_action"][i] = 0.0 if next_guide_action is None else next_guide_action
        data["next_confidence"][i] = next_confidence
        data["cost"][i] = cost
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def mark(self) -> tuple:
        """What :meth:`undo` needs to take back the next :meth:`add`: the counters and the row
        it will overwrite."""
        return self.position, self.size, self.storage[self.dataset_size + self.position].copy()

    def undo(self, mark: tuple) -> None:
        """Take back the transitions added since :meth:`mark` returned ``mark`` (one add)."""
        position, size, row = mark
        self.storage[self.dataset_size + position] = row
        self.position, self.size = position, size

    def sample_flat(self, rng: np.random.Generator, num_batches: int, batch_size: int,
                    offline_ratio: Optional[float] = None) -> np.ndarray:
        """``num_batches`` minibatches of ``batch_size`` rows drawn uniformly with replacement,
        as one (num_batches, batch_size, width) array; :func:`unflatten` splits it.

        Rows come from the dataset and the online data together, uniformly; with
        ``offline_ratio`` and both present, round(ratio·batch_size) of each minibatch come from
        the dataset and the rest from the online data (RLPD's symmetric sampling at 0.5)."""
        total = self.dataset_size + self.size  # the ring fills from the dataset's end: contiguous rows
        if total == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if offline_ratio is None or not (self.dataset_size and self.size):
            index = rng.integers(0, total, size=(num_batches, batch_size))
            return self.storage[index]
        offline = int(round(offline_ratio * batch_size))
        index = np.concatenate([
            rng.integers(0, self.dataset_size, size=(num_batches, offline)),
            self.dataset_size + rng.integers(0, self.size, size=(num_batches, batch_size - offline)),
        ], axis=1)
        return self.storage[index]

    def sample(self, rng: np.random.Generator, num_batches: int, batch_size: int,
               offline_ratio: Optional[float] = None) -> Batch:
        """Like :meth:`sample_flat`, split into a :class:`Batch` of (num_batches, batch_size, ...) arrays."""
        return unflatten(self.sample_flat(rng, num_batches, batch_size, offline_ratio), self.layout)

    def batch_spec(self, num_batches: int, batch_size: int) -> Batch:
        """Shapes and dtypes of what :meth:`sample` returns, without data."""
        import jax

        fields = {
            name: jax.ShapeDtypeStruct((num_batches, batch_size) + array.shape[1:], array.dtype)
            for name, array in self.data.items()
            if name in BATCH_FIELDS
        }
        return Batch(**fields)

    def recent_actions(self, count: int) -> np.ndarray:
        """The last ``count`` actions stored, oldest first."""
        if count > self.size:
            raise ValueError(f"asked for {count} recent actions, buffer holds {self.size}")
        index = (self.position - count + np.arange(count)) % self.capacity
        return self.data["action"][index]

    # -- persistence ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The filled part of the ring, in storage order, its counters, and the dataset's rows."""
        state = {
            "capacity": self.capacity,
            "position": self.position,
            "size": self.size,
            "data": {name: array[: self.size].copy() for name, array in self.data.items()},
        }
        if self.dataset_size:
            state["dataset"] = {name: array.copy() for name, array in self.dataset.items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict` on a buffer of the same capacity and shapes."""
        if int(state["capacity"]) != self.capacity:
            raise ValueError(
                f"replay buffer capacity {state['capacity']} in the checkpoint, {self.capacity} expected"
            )
        if state.get("dataset"):
            self.size = self.dataset_size = 0
            self.add_dataset(state["dataset"])
        size = int(state["size"])
        for name, array in self.data.items():
            if name == "cost" and name not in state["data"]:  # saved before the label was kept: unknown
                array[:size] = -1.0
                continue
            stored = np.asarray(state["data"][name], np.float32)
            if stored.shape != (size,) + array.shape[1:]:
                raise ValueError(
                    f"replay field {name!r} has shape {stored.shape}, expected {(size,) + array.shape[1:]}"
                )
            array[:size] = stored
        self.size = size
        self.position = int(state["position"])


def unflatten(flat, layout) -> Batch:
    """Split rows of the buffer's storage (NumPy or JAX, any leading axes) into a :class:`Batch`."""
    fields = {
        name: flat[..., lo] if scalar else flat[..., lo:hi]
        for name, lo, hi, scalar in layout
        if name in BATCH_FIELDS
    }
    return Batch(**fields)
