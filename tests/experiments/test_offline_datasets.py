"""The offline suite's dataset recipes: their commands, tiny builds into temporary stores, a
dataset already present skipped, the SafeCartpole replay recipe from a tiny PAG run."""

import json

import pytest

from guidedrl.errors import GuidedRLError
from guidedrl.experiments import datasets
from guidedrl.experiments.datasets import RECIPES, Recipe, build_datasets
from guidedrl.experiments.suites import OFFLINE_TASKS
from guidedrl.offline import dataset_info


@pytest.fixture(autouse=True)
def no_user_store(monkeypatch):
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)


def test_every_task_of_the_suite_has_a_recipe_with_its_commands(tmp_path):
    assert set(RECIPES) == set(OFFLINE_TASKS)
    runs = tmp_path / "runs"
    commands = {task: [datasets.command_line(args) for args in recipe.commands(runs)]
                for task, recipe in RECIPES.items()}
    assert commands["PointMass-v0"] == [
        "guidedrl dataset collect --env PointMass-v0 --policy guide --noise 0.3 --episodes 100 --seed 0 "
        "--id guidedrl/pointmass-medium-noise30-v0 --no-progress"]
    assert commands["BallInCup-v0"][0].startswith("guidedrl dataset collect --env BallInCup-v0 --policy guide --noise 0.3")
    assert commands["Pendulum-v1"] == [
        "guidedrl dataset collect --env Pendulum-v1 --policy guide --guide lqr --noise 0.3 --episodes 100 --seed 0 "
        "--id guidedrl/pendulum-lqr-noise30-v0 --no-progress"]
    train, export = commands["SafeCartpole-v0"]
    assert train.startswith("guidedrl train --env SafeCartpole-v0 --algo sac --guidance pag --pag-schedule "
                            "--period 5000 --hidden-sizes 64 64 --batch-size 128")
    assert f"--steps 50000 --seed 0 --out {runs / 'safecartpole-replay'}" in train
    assert export == f"guidedrl dataset from-run {runs / 'safecartpole-replay'} --id guidedrl/safecartpole-replay-v0"
    train, export = commands["HalfCheetah-v5"]
    assert "--algo sac --guidance none --hidden-sizes 256 256" in train and "--steps 100000" in train
    assert export.startswith(f"guidedrl dataset collect --env HalfCheetah-v5 --policy {runs / 'halfcheetah-medium'} "
                             "--noise 0.1 --episodes 100")
    assert len({recipe.dataset_id for recipe in RECIPES.values()}) == len(RECIPES)


def test_the_store_is_under_out_unless_the_user_set_one(tmp_path, monkeypatch):
    assert datasets.dataset_store(tmp_path / "out") == (tmp_path / "out" / "minari").resolve()
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "mine"))
    assert datasets.dataset_store(tmp_path / "out") == (tmp_path / "mine").resolve()


def test_a_tiny_recipe_builds_once_and_records_itself(tmp_path):
    said = []
    records = build_datasets(["Pendulum-v1"], tmp_path, episodes=2, say=said.append)
    store = tmp_path / "minari"
    command = ("guidedrl dataset collect --env Pendulum-v1 --policy guide --guide lqr --noise 0.3 --episodes 2 "
               "--seed 0 --id guidedrl/pendulum-lqr-noise30-v0 --no-progress")
    assert f"$ MINARI_DATASETS_PATH={store.resolve()} {command}" in said  # printed as it ran
    info = dataset_info(str(store / "guidedrl/pendulum-lqr-noise30-v0"))
    assert info["command"] == command and info["episodes"] == 2 and info["steps"] == 400  # its provenance
    (record,) = records
    assert record["built_now"] and record["commands"] == [command]
    assert (record["episodes"], record["steps"], record["mean_return"]) == (2, 400, info["mean_return"])
    written = json.loads((tmp_path / "datasets.json").read_text())
    assert written["store"] == str(store.resolve()) and written["datasets"] == json.loads(json.dumps(records))
    # present: skipped, nothing runs, the record stays
    said.clear()
    again = build_datasets(["Pendulum-v1"], tmp_path, episodes=2, say=said.append)
    assert not again[0]["built_now"] and not any(line.startswith("$") for line in said)
    assert again[0]["mean_return"] == record["mean_return"]


def test_the_replay_recipe_exports_a_tiny_pag_run(tmp_path):
    said = []
    (record,) = build_datasets(["SafeCartpole-v0"], tmp_path, run_steps=200, say=said.append)
    run_dir = tmp_path / "dataset-runs" / "safecartpole-replay"
    assert (run_dir / "done.json").exists() and (run_dir / "checkpoint").is_dir()
    assert [line.split(" guidedrl ")[1].split()[0] for line in said if line.startswith("$")] == ["train", "dataset"]
    assert record["steps"] == 200 and record["run"] == str(run_dir)
    assert record["command"] == f"guidedrl dataset from-run {run_dir} --id guidedrl/safecartpole-replay-v0"
    assert "--guidance pag" in record["commands"][0] and "--steps 200" in record["commands"][0]
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["algo"], config["guidance"], config["steps"]) == ("sac", "pag", 200)
    # the dataset lost, its finished run is not trained again
    import shutil

    shutil.rmtree(tmp_path / "minari")
    said.clear()
    build_datasets(["SafeCartpole-v0"], tmp_path, run_steps=200, say=said.append)
    assert [line for line in said if line.startswith("$")] == [
        f"$ MINARI_DATASETS_PATH={(tmp_path / 'minari').resolve()} {record['command']}"]


def test_a_failing_command_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(RECIPES, "NoSuchTask-v0", Recipe("NoSuchTask-v0", "test/nothing-v0", "guide", "none", episodes=1))
    with pytest.raises(GuidedRLError, match="`guidedrl dataset collect --env NoSuchTask-v0 .*` failed"):
        build_datasets(["NoSuchTask-v0"], tmp_path, say=lambda text: None)
    with pytest.raises(GuidedRLError, match="no dataset recipe for 'CartPole-v1'"):
        build_datasets(["CartPole-v1"], tmp_path)
