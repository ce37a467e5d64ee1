"""The benchmark grid runs a JAX task's seeds as one trial (their runs side by side in one
process), each seed into the run directory it would have alone."""

from __future__ import annotations

import json

from guidedrl.experiments.runner import DONE, group_params, group_trials, train_group, trials_of
from guidedrl.experiments.suites import Trial
from guidedrl.training.logging import read_metrics

SMALL = (("hidden_sizes", (8, 8)), ("eval_every", 100), ("eval_episodes", 1), ("batch_size", 16))


def _trial(task, seed, strategy="none"):
    return Trial(task=task, strategy=strategy, backbone="sac", seed=seed, steps=200, guidance="none", overrides=SMALL)


def test_a_jax_tasks_seeds_are_one_unit_of_work():
    trials = [_trial("gymnax/Pendulum-v1", 0), _trial("Pendulum-v1", 0), _trial("gymnax/Pendulum-v1", 1),
              _trial("Pendulum-v1", 1), _trial("gymnax/Pendulum-v1", 0, strategy="other")]
    groups = group_trials(trials)
    assert [[t.id for t in g] for g in groups] == [
        [trials[0].id, trials[2].id], [trials[1].id], [trials[3].id], [trials[4].id]]
    assert trials_of(group_params(groups[0])) == groups[0]
    assert trials_of(group_params(groups[1])) == groups[1]


def test_a_group_trains_each_seed_into_its_own_run_directory(tmp_path):
    group = [_trial("gymnax/Pendulum-v1", 0), _trial("gymnax/Pendulum-v1", 1)]
    reported = []
    train_group(group, tmp_path, reported.append)
    for trial in group:
        run = tmp_path / trial.id
        assert [row["step"] for row in read_metrics(run)] == ["0", "100", "200"]
        assert json.loads((run / "config.json").read_text())["seed"] == trial.seed
        assert json.loads((run / DONE).read_text())["final"]["step"] == 200
    assert [len(rows) for rows in reported] == [2, 2]  # every seed's row, after each evaluation
    train_group(group, tmp_path)  # finished: nothing to do
