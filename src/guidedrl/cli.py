"""The ``guidedrl`` command: ``train`` and ``eval``. Options and ``--help`` come from typed dataclasses."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Optional, Sequence

import tyro

from guidedrl.config import Config


@dataclasses.dataclass(frozen=True)
class EvalArgs:
    """Evaluate a trained run deterministically on the env it was trained on."""

    dir: tyro.conf.Positional[str]
    """Run directory (or checkpoint directory) to evaluate."""
    episodes: int = 10
    """Number of deterministic episodes."""
    guide_free: bool = False
    """Evaluate the actor alone, without the guide acting."""
    seed: Optional[int] = None
    """Seed of the evaluation episodes (default: the run's seed)."""
    json: bool = False
    """Print the result as JSON instead of a table."""


def _train(config: Config) -> int:
    from rich.console import Console

    from guidedrl.training.loop import default_out, train

    if config.out is None and config.resume is None:
        config = config.replace(out=default_out(config))
    run = train(config)
    console = Console()
    last = run.history[-1] if run.history else None
    console.print(f"[bold]run directory[/]: {run.directory}")
    if last is not None:
        console.print(
            f"step {last['step']}: eval return {last['eval_return']:.1f} ± {last['eval_return_std']:.1f}, "
            f"{last['train_episodes']} training episodes, {last['train_catastrophes']} catastrophes, "
            f"{last['wall_time']:.0f} s"
        )
    console.print(f"evaluate again with: guidedrl eval {run.directory}")
    return 0


def _eval(args: EvalArgs) -> int:
    from guidedrl.training.run import evaluate, load

    run = load(args.dir)
    result = evaluate(run, episodes=args.episodes, guide_free=args.guide_free, seed=args.seed)
    result = {"dir": os.path.abspath(args.dir), "env": run.config.env, "algo": run.config.algo,
              "guidance": run.config.guidance, "guide_free": args.guide_free, **result}
    if args.json:
        print(json.dumps(result))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{run.config.algo}/{run.config.guidance} on {run.config.env}")
    for column in ("episodes", "mean return", "std", "catastrophes", "guide usage"):
        table.add_column(column, justify="right")
    table.add_row(
        str(result["episodes"]), f"{result['mean_return']:.2f}", f"{result['std_return']:.2f}",
        str(result["catastrophes"]), f"{result['guide_usage']:.2f}",
    )
    Console().print(table)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``guidedrl`` console script."""
    from guidedrl.errors import GuidedRLError
    from guidedrl.training.loop import TrainingInterrupted

    try:
        args = tyro.extras.subcommand_cli_from_dict(
            {"train": Config, "eval": EvalArgs},
            args=argv,
            prog="guidedrl",
            description="Reinforcement learning with local guides.",
        )
        if isinstance(args, Config):
            return _train(args)
        return _eval(args)
    except SystemExit as exit:  # tyro's own parse errors (they name the value) and --help
        return exit.code if isinstance(exit.code, int) else 2
    except TrainingInterrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        return 130
    except GuidedRLError as error:
        print(f"guidedrl: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
