"""guidedrl dataset collect|from-run|list|info, through the CLI's main."""

import json
import shlex

import minari
import numpy as np

from guidedrl import cli
from tests.offline.test_collect import chained_rows, fake_run

COLLECT = ["dataset", "collect", "--env", "Pendulum-v1", "--policy", "guide", "--episodes", "2",
           "--noise", "0.1", "--seed", "7", "--max-episode-steps", "12", "--id", "guidedrl/cli-lqr-v0",
           "--author", "A. Tester", "--no-progress"]


def test_collect_list_info(store, capsys):
    assert cli.main(COLLECT) == 0
    assert "wrote dataset guidedrl/cli-lqr-v0: 2 episodes, 24 steps" in " ".join(capsys.readouterr().out.split())
    metadata = minari.load_dataset("guidedrl/cli-lqr-v0").storage.metadata
    command = "guidedrl dataset collect --env Pendulum-v1 --policy guide --episodes 2 --noise 0.1 --seed 7 " \
              "--max-episode-steps 12 --id guidedrl/cli-lqr-v0 --author 'A. Tester' --no-progress"
    assert metadata["guidedrl_command"] == command == "guidedrl " + shlex.join(COLLECT)  # the exact command line
    assert metadata["author"] == {"A. Tester"}

    assert cli.main(["dataset", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == {"store": str(store), "datasets": [{"id": "guidedrl/cli-lqr-v0", "episodes": 2, "steps": 24}]}
    assert cli.main(["dataset", "list"]) == 0
    assert "guidedrl/cli-lqr-v0" in capsys.readouterr().out

    assert cli.main(["dataset", "info", "guidedrl/cli-lqr-v0", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    returns = [float(np.sum(e.rewards)) for e in minari.load_dataset("guidedrl/cli-lqr-v0")]
    assert (info["episodes"], info["steps"], info["env_id"]) == (2, 24, "Pendulum-v1")
    assert info["mean_return"] == np.mean(returns) and info["std_return"] == np.std(returns)
    assert info["algorithm_name"] == "guidedrl guide pendulum-lqr, noise 0.1"
    assert info["command"] == command and info["author"] == ["A. Tester"]
    assert info["observation_space"].startswith("Box(") and info["action_space"] == "Box(-2.0, 2.0, (1,), float32)"
    assert cli.main(["dataset", "info", str(store / "guidedrl" / "cli-lqr-v0")]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "episode return" in printed and "made by" in printed and "guidedrl dataset collect" in printed


def test_from_run(store, tmp_path, capsys):
    run = fake_run(tmp_path / "run", capacity=8, position=6, size=6, rows=chained_rows([2, 4], ["truncated", None]))
    assert cli.main(["dataset", "from-run", str(run), "--id", "guidedrl/cli-replay-v0"]) == 0
    assert "2 episodes, 6 steps" in capsys.readouterr().out
    dataset = minari.load_dataset("guidedrl/cli-replay-v0")
    assert dataset.storage.metadata["guidedrl_command"] == f"guidedrl dataset from-run {run} --id guidedrl/cli-replay-v0"
    assert dataset.storage.metadata["algorithm_name"] == "guidedrl sac/none replay buffer"


def test_errors_exit_2_with_one_line(store, tmp_path, capsys):
    assert cli.main(COLLECT) == 0
    capsys.readouterr()
    assert cli.main(["dataset", "info", "guidedrl/missing-v0"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "local datasets: guidedrl/cli-lqr-v0" in error
    assert cli.main(COLLECT) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["dataset", "collect", "--env", "Pendulum-v1", "--policy", "random", "--episodes", "1",
                     "--id", "no-namespace-v0", "--no-progress"]) == 2
    assert "NAMESPACE/NAME-vN" in capsys.readouterr().err
    assert cli.main(["dataset", "from-run", str(tmp_path), "--id", "guidedrl/x-v0"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_help_names_every_option(capsys):
    assert cli.main(["dataset", "collect", "--help"]) == 0
    printed = capsys.readouterr().out
    for option in ("--env", "--policy", "--episodes", "--noise", "--epsilon", "--seed", "--id", "--guide",
                   "--max-episode-steps", "--trust-code"):
        assert option in printed
    assert cli.main(["dataset", "--help"]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in ("collect", "from-run", "list", "info"))
