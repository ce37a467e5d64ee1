"""Offline datasets (Minari 0.5.x): reading one into transitions, writing a policy's rollouts or a
run's replay buffer as one, and the local store. Re-exports only."""

from guidedrl.offline.collect import collect, from_run
from guidedrl.offline.datasets import Transitions, dataset_info, list_datasets, load_transitions

__all__ = ["Transitions", "load_transitions", "list_datasets", "dataset_info", "collect", "from_run"]
