"""Offline datasets (Minari 0.5.x): the local store, reading a dataset into transitions, writing a
policy's rollouts or a run's replay buffer as one. Re-exports only."""

from guidedrl.offline.collect import collect
from guidedrl.offline.datasets import Transitions, load_transitions
from guidedrl.offline.run_export import from_run
from guidedrl.offline.store import dataset_info, list_datasets

__all__ = ["Transitions", "load_transitions", "list_datasets", "dataset_info", "collect", "from_run"]
