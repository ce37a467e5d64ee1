"""The guidedrl command: train, eval, help and errors."""

import json
import subprocess
import sys

import pytest

from guidedrl import cli

FAST = ["--steps", "300", "--hidden-sizes", "16", "16", "--batch-size", "32",
        "--learning-starts", "100", "--eval-every", "150", "--eval-episodes", "1", "--no-progress"]


def test_train_then_eval_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--algo", "td3", "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "run directory" in printed and "eval return" in printed
    assert (out / "metrics.csv").read_text().count("\n") == 1 + 3  # header + steps 0, 150, 300
    assert cli.main(["eval", str(out), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 2 and len(result["returns"]) == 2 and result["algo"] == "td3"
    assert cli.main(["eval", str(out), "--episodes", "1"]) == 0
    assert "mean return" in capsys.readouterr().out


def test_bad_input_exits_2_with_a_message(tmp_path, capsys):
    assert cli.main(["train", "--steps", "0", "--out", str(tmp_path / "r")]) == 2
    assert "steps must be a positive integer, got 0" in capsys.readouterr().err
    assert cli.main(["train", "--env", "CartPole-v1", "--out", str(tmp_path / "r")]) == 2
    assert "Discrete(2)" in capsys.readouterr().err
    assert cli.main(["eval", str(tmp_path)]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_console_script_help():
    result = subprocess.run([sys.executable, "-m", "guidedrl.cli", "train", "--help"],
                            capture_output=True, text=True, check=True)
    for option in ("--hidden-sizes", "--batch-size", "--buffer-size", "--learning-starts",
                   "--updates-per-step", "--eval-every", "--eval-episodes", "--checkpoint-every",
                   "--resume", "--algo", "--guidance", "--steps", "--seed", "--out"):
        assert option in result.stdout


def test_eval_help_names_the_trust_options():
    result = subprocess.run([sys.executable, "-m", "guidedrl.cli", "eval", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--trust-code" in result.stdout and "--guide" in result.stdout
    assert "only for runs you trust" in " ".join(result.stdout.split())


def test_default_train_is_pag_with_the_default_guide_on_safe_cartpole(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--out", str(out), *FAST]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["env"], config["algo"], config["guidance"]) == ("SafeCartpole-v0", "sac", "pag")
    assert config["guide"] == "cartpole-wall-reflex"
    assert "actor alone (guide removed)" in capsys.readouterr().out
    assert cli.main(["train", "--env", "NoSuchTask-v0", "--out", str(tmp_path / "r")]) == 2
    assert "built-in tasks: SafeCartpole-v0, PointMass-v0" in capsys.readouterr().err


def test_envs_lists_every_built_in_task_with_its_guide_numbers(capsys):
    from guidedrl.envs import TASKS, stored_alone

    assert cli.main(["envs", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in table["tasks"]] == list(TASKS)
    stored = stored_alone()
    for row in table["tasks"]:
        assert row["guide_return"] == stored[row["id"]]["mean_return"]
        assert row["catastrophe_rate"] == stored[row["id"]]["catastrophe_rate"]
    assert "python -m benchmarks.studies.envs --alone" in table["source"]
    assert cli.main(["envs"]) == 0
    assert "SafeCartpole-v0" in capsys.readouterr().out


def test_a_gymnasium_mujoco_task_trains_alone_when_it_has_no_default_guide(tmp_path, capsys):
    out = tmp_path / "hc"
    assert cli.main(["train", "--env", "HalfCheetah-v5", "--steps", "300", "--learning-starts", "100",
                 "--hidden-sizes", "32", "32", "--eval-every", "300", "--eval-episodes", "1",
                 "--out", str(out), "--no-progress"]) == 0
    assert "HalfCheetah-v5 has no default guide: training sac alone" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["guidance"] == "none"
    # naming a strategy that needs a guide, without one, is still an error
    assert cli.main(["train", "--env", "HalfCheetah-v5", "--guidance", "sag", "--out", str(tmp_path / "x")]) == 2


def test_train_help_has_the_guide_region_line():
    result = subprocess.run([sys.executable, "-m", "guidedrl.cli", "train", "--help"],
                            capture_output=True, text=True, check=True)
    text = " ".join(result.stdout.replace("│", " ").split())  # the help's lines, out of their box
    assert "--guide-region {default,always,narrow,none-region}" in text
    assert "Replace the guide's λ(s) to test a mis-specified region" in text


def test_guide_check_prints_a_table_or_json(capsys):
    from guidedrl.envs import stored_alone

    assert cli.main(["guide", "check", "--env", "SafeCartpole-v0", "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["policies"]) == ["guide", "guide+zero", "guide+random", "zero", "random"]
    assert result["policies"]["guide"]["returns"] == stored_alone()["SafeCartpole-v0"]["returns"][:2]
    assert result["policies"]["random"]["catastrophes_per_episode"] == 1.0
    assert (result["seed"], result["guide_worse_than_zero"], result["zero_action"]) == (10_000, False, [0.0])
    assert cli.main(["guide", "check", "--env", "PointMass-v0", "--guide-region", "narrow", "--episodes", "2",
                     "--seed", "0"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    for text in ("guide pointmass-medium-sac[narrow] on PointMass-v0: 2 episodes, reset seeds 0..1",
                 "(a) guide alone", "(e) random", "region coverage:", "the narrow region keeps",
                 "Inside its region the guide does at least as well as the zero action"):
        assert text in printed


def test_guide_check_errors_are_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "guidecheck_user_guides.py").write_text(
        "import numpy as np\n"
        "from guidedrl import Guide\n\n"
        "def plain():\n"
        "    return Guide(lambda obs: np.zeros(1), lambda obs: 1.0, name='plain')\n\n"
        "def failing():\n"
        "    def policy(obs):\n"
        "        raise RuntimeError('encoder lost')\n"
        "    return Guide(policy, lambda obs: 1.0, name='failing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # refused input: exit 2
    assert cli.main(["guide", "check", "--env", "NoSuchTask-v0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("guidedrl: error: unknown environment id 'NoSuchTask-v0'") and err.count("\n") == 1
    assert cli.main(["guide", "check", "--env", "SafeCartpole-v0", "--guide", "guidecheck_user_guides:plain",
                     "--guide-region", "narrow"]) == 2
    err = capsys.readouterr().err
    assert "guide 'plain' has a confidence guidedrl cannot narrow" in err and err.count("\n") == 1
    assert cli.main(["guide", "check", "--env", "SafeCartpole-v0", "--guide-region", "wide"]) == 2
    assert "wide" in capsys.readouterr().err
    assert cli.main(["train", "--guide-region", "wide", "--out", str(tmp_path / "r")]) == 2
    assert "invalid choice 'wide' for argument '--guide-region'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    # the guide fails while the check runs it: exit 1, one line; GUIDEDRL_DEBUG adds the traceback
    failing = ["guide", "check", "--env", "SafeCartpole-v0", "--guide", "guidecheck_user_guides:failing"]
    assert cli.main(failing) == 1
    err = capsys.readouterr().err
    assert err == ("guidedrl: error: the guide 'failing' failed in the check's policy 'guide', episode 0, step 0: "
                   "RuntimeError: encoder lost\n")
    monkeypatch.setenv("GUIDEDRL_DEBUG", "1")
    assert cli.main(failing) == 1
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize("env, steps, seeds", [("SafeCartpole-v0", 10_000, 1),
                                               ("gymnax/MountainCarContinuous-v0", 100_000, 10),
                                               ("HalfCheetah-v5", 1_000_000, 1)])
def test_the_progress_bar_fits_an_80_column_terminal(env, steps, seeds):
    import io

    from rich.console import Console

    from guidedrl.config import Config
    from guidedrl.training.logging import progress_bar

    bar = progress_bar(Config(env=env, steps=steps), seeds, width=80)
    bar.add_task("train", total=steps, completed=steps // 3, ret=-1234.5, sps=1337.0)
    out = io.StringIO()
    Console(file=out, width=80).print(bar.make_tasks_table(bar.tasks))
    line = out.getvalue().rstrip("\n")
    assert "\n" not in line and len(line) <= 80
    assert f"{steps // 3}/{steps}" in line and "ret -1234.5" in line and "1337/s" in line and "ETA" in line
    assert env.split("/")[0][:10] in line
