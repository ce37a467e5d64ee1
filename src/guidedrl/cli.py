"""The ``guidedrl`` command: ``train``, ``eval``, ``export``, ``envs``, ``guide``, ``bench`` and ``dataset``. Options and ``--help`` come from the typed dataclasses of :mod:`guidedrl.cli_args`."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence, Union

import tyro
from typing_extensions import Annotated

from guidedrl.cli_args import (BenchArgs, DatasetArgs, DatasetCollectArgs, DatasetFromRunArgs, DatasetInfoArgs,
                               DatasetListArgs, EnvsArgs, EvalArgs, ExportArgs, GuideArgs)
from guidedrl.config import Config


def _dataset(args: object, command: str) -> int:
    from rich.console import Console

    from guidedrl.offline import collect, dataset_info, from_run, list_datasets
    from guidedrl.offline.store import store_path

    console = Console()
    if isinstance(args, DatasetCollectArgs):
        path = collect(args.env, args.policy, args.episodes, args.id, noise=args.noise, epsilon=args.epsilon,
                       seed=args.seed, command=command, guide=args.guide, max_episode_steps=args.max_episode_steps,
                       author=args.author, author_email=args.author_email, code_permalink=args.code_permalink,
                       trust_code=args.trust_code, progress=args.progress)
        info = dataset_info(args.id)
        console.print(f"wrote dataset [bold]{args.id}[/]: {info['episodes']} episodes, {info['steps']} steps, "
                      f"mean return {info['mean_return']:.2f} ± {info['std_return']:.2f}, at {path}", soft_wrap=True)
        return 0
    if isinstance(args, DatasetFromRunArgs):
        path = from_run(args.run_dir, args.id, command=command, author=args.author, author_email=args.author_email,
                        code_permalink=args.code_permalink, trust_code=args.trust_code)
        info = dataset_info(args.id)
        console.print(f"wrote dataset [bold]{args.id}[/]: {info['episodes']} episodes, {info['steps']} steps "
                      f"from the replay buffer of {args.run_dir}, at {path}", soft_wrap=True)
        return 0
    if isinstance(args, DatasetListArgs):
        rows = list_datasets()
        if args.json:
            print(json.dumps({"store": str(store_path()), "datasets": [
                {"id": dataset_id, "episodes": episodes, "steps": steps} for dataset_id, episodes, steps in rows]}))
            return 0
        from rich.table import Table

        table = Table(title=f"Minari datasets in {store_path()}")
        for column in ("id", "episodes", "steps"):
            table.add_column(column, justify="left" if column == "id" else "right")
        for dataset_id, episodes, steps in rows:
            table.add_row(dataset_id, str(episodes), str(steps))
        console.print(table if rows else f"no datasets in {store_path()} (make one with guidedrl dataset collect)")
        return 0
    assert isinstance(args, DatasetInfoArgs)
    info = dataset_info(args.dataset)
    if args.json:
        print(json.dumps(info))
        return 0
    from rich.table import Table

    table = Table(title=f"dataset {info['id']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    mean = "—" if info["mean_return"] is None else f"{info['mean_return']:.2f} ± {info['std_return']:.2f}"
    for field, value in (
        ("path", info["path"]), ("episodes", info["episodes"]), ("steps", info["steps"]),
        ("episode return", mean), ("fingerprint", info["fingerprint"]), ("env", info["env_id"]), ("max episode steps", info["max_episode_steps"]),
        ("observation space", info["observation_space"]), ("action space", info["action_space"]),
        ("algorithm", info["algorithm_name"]), ("guide alone (stored return)", info["guide_return"]),
        ("author", ", ".join(info["author"] or []) or None), ("code", info["code_permalink"]),
        ("made by", info["command"]), ("description", info["description"]),
        ("minari version", info["minari_version"]),
    ):
        if value is not None:
            table.add_row(field, str(value))
    console.print(table)
    return 0


def _bench(args: BenchArgs, command: Optional[str] = None) -> int:
    if args.report is not None:
        from guidedrl.experiments.report import write_report
        from guidedrl.experiments.runner import refresh_results

        refreshed = refresh_results(args.report)
        if refreshed is not None:
            print(f"results.csv: {refreshed} finished runs collected from {Path(args.report) / 'runs'}")
        paths = write_report(args.report)
        print(f"wrote {paths['summary']}, {paths['report']} and {len(paths['figures'])} figures")
        return 0
    from guidedrl.experiments.runner import run_suite
    from guidedrl.experiments.suites import build_suite

    if args.cpus is not None and args.cpus < 1:
        from guidedrl.errors import ConfigError

        raise ConfigError(f"--cpus must be at least 1, not {args.cpus}")
    trials = build_suite(args.suite, seeds=args.seeds, steps=args.steps, tasks=args.tasks,
                         strategies=args.strategies, backbones=args.backbones, offline_steps=args.offline_steps)
    out = args.out or os.path.join("bench", args.suite)
    record = run_suite(trials, out, suite=args.suite, command=command, address=args.address,
                       progress=args.progress, reuse=args.reuse, cpus=args.cpus)
    if (Path(out) / "report.md").exists():
        print(f"report: {Path(out).resolve() / 'report.md'}")
    crashed = sum(1 for t in record["trials"] if t["status"] == "crashed")
    pending = sum(1 for t in record["trials"] if t["status"] == "pending")
    if crashed or pending:
        print(f"{crashed} crashed and {pending} unfinished trials: run the same command again to retry "
              "and continue them (finished trials are skipped)")
    return 1 if crashed or pending else 0


def _envs(args: EnvsArgs) -> int:
    from guidedrl.envs import ALONE_COMMAND, TASKS, stored_alone
    from guidedrl.experiments.alone import measure_guides_alone

    if args.measure:
        alone = measure_guides_alone(args.episodes, on_task=lambda task_id, measured, seconds: print(
            f"measured the guide of {task_id} alone ({args.episodes} episodes, {seconds:.0f} s)", file=sys.stderr))
        source = f"measured now over {args.episodes} episodes each (guidedrl envs --measure)"
    else:
        alone = stored_alone()
        source = f"stored numbers, measured by `{ALONE_COMMAND}` (20 episodes each; re-measure: guidedrl envs --measure)"
    rows = []
    for task in TASKS.values():
        measured = alone.get(task.id) or {}
        rows.append({"id": task.id, "task": task.task, "guide": task.guide_type, "trusted": task.trusted,
                     "guide_return": measured.get("mean_return"), "guide_return_std": measured.get("std_return"),
                     "catastrophe_rate": measured.get("catastrophe_rate")})
    if args.json:
        print(json.dumps({"source": source, "tasks": rows}))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if console.width < WIDE:  # a narrow terminal: one block per task instead of a table
        console.print("[bold]built-in tasks[/] (ids in the guidedrl/ namespace; --guide default)\n")
        for row in rows:
            ret = "—" if row["guide_return"] is None else f"{row['guide_return']:.1f} ± {row['guide_return_std']:.1f}"
            rate = "—" if row["catastrophe_rate"] is None else f"{row['catastrophe_rate']:.2f}"
            console.print(f"[bold]{row['id']}[/]  {row['task']}")
            console.print(f"  default guide: {row['guide']}, trusted {row['trusted']}")
            console.print(f"  guide alone: return {ret}, {rate} catastrophes/episode\n")
        console.print(source)
        return 0
    table = Table(title="built-in tasks (ids in the guidedrl/ namespace; --guide default)", caption=source)
    for column in ("id", "task", "default guide", "trusted where", "guide alone: return", "catastrophes/episode"):
        numeric = column.startswith(("guide alone", "catas"))
        table.add_column(column, justify="right" if numeric else "left", no_wrap=numeric or column == "id")
    for row in rows:
        ret = "—" if row["guide_return"] is None else f"{row['guide_return']:.1f} ± {row['guide_return_std']:.1f}"
        rate = "—" if row["catastrophe_rate"] is None else f"{row['catastrophe_rate']:.2f}"
        table.add_row(row["id"], row["task"], row["guide"], row["trusted"], ret, rate)
    console.print(table)
    return 0


WIDE = 120
"""Terminal columns below which ``guidedrl envs`` lists its tasks instead of drawing a table."""


def _number(value: float) -> str:
    """A return or a rate in a table: two decimals, or two significant digits when that shows 0.00."""
    return f"{value:.2f}" if value == 0 or abs(value) >= 0.005 else f"{value:.1e}"


def _guide(args: GuideArgs) -> int:
    from guidedrl.guide_check import DEFAULT_SEED, check_guide

    seed = DEFAULT_SEED if args.seed is None else args.seed
    result = check_guide(args.env, args.guide, region=args.guide_region, episodes=args.episodes, seed=seed)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"guide {escape(result.guide)} on {result.env}: {result.episodes} episodes, reset seeds "
                        f"{result.seed}..{result.seed + result.episodes - 1}",
                  caption="per episode: return (mean ± std), catastrophes, cost; in region: share of the visited "
                          "states where λ(s) >= 0.5 (there the deployed policy lets the guide act; (b), (c): the "
                          "guide acts there, the zero or a uniform random action elsewhere)")
    for column in ("policy", "return", "catastrophes", "cost", "in region"):
        table.add_column(column, justify="left" if column == "policy" else "right", no_wrap=True)
    for policy in result.policies.values():
        table.add_row(policy.label, f"{_number(policy.mean_return)} ± {_number(policy.std_return)}",
                      f"{policy.catastrophes_per_episode:.2f}", _number(policy.cost_per_episode),
                      f"{policy.in_region:.1%}")
    console = Console()
    console.print(table)
    coverage = result.coverage
    console.print(f"zero action: {result.zero_action} (env units)", soft_wrap=True)
    console.print(f"region coverage: {coverage['guide']:.1%} of the states along the guide's own trajectories, "
                  f"{coverage['random']:.1%} along the random policy's", soft_wrap=True)
    if result.default_region_kept is not None:
        kept = {key: "— (none visited)" if share is None else f"{share:.1%}"
                for key, share in result.default_region_kept.items()}
        console.print(f"the {result.region} region keeps {kept['guide']} of the default region's visited states "
                      f"along the guide's own trajectories, {kept['random']} along the random policy's", soft_wrap=True)
    verdict = escape(result.verdict)
    console.print(f"[bold red]{verdict}[/]" if result.guide_worse_than_zero else verdict, soft_wrap=True)
    return 0


def _train(config: Config, words: Sequence[str] = ()) -> int:
    from rich.console import Console

    from guidedrl.training.loop import train

    console = Console()
    typed = {word.split("=")[0].lstrip("-").replace("-", "_") for word in words if word.startswith("--")}
    run = train(config, chosen=typed, default_out=True, say=lambda note: console.print(note, soft_wrap=True))
    last = run.history[-1] if run.history else None
    console.print(f"[bold]run directory[/]: {run.directory}")
    offline_end = next((row for row in reversed(run.history) if row["phase"] == "offline"), None)
    if offline_end is not None:
        console.print(
            f"offline step {offline_end['offline_step']}: eval return {offline_end['eval_return']:.1f} ± "
            f"{offline_end['eval_return_std']:.1f} (dataset {run.config.dataset})"
        )
    if last is not None and last["phase"] == "online":
        console.print(
            f"step {last['step']}: eval return {last['eval_return']:.1f} ± {last['eval_return_std']:.1f}, "
            f"{last['train_episodes']} training episodes, {last['train_catastrophes']} catastrophes, "
            f"{last['wall_time']:.0f} s"
        )
        if run.config.guidance != "none" and last["phase"] == "online":
            console.print(
                f"actor alone (guide removed): eval return {last['eval_return_guide_free']:.1f}; "
                f"the guide acted on {last['guide_usage']:.0%} of the last {run.config.eval_every} training steps"
            )
    for other in getattr(run, "seed_runs", [run])[1:]:  # --seeds K: the others, one line each
        row = other.history[-1] if other.history else None
        if row is not None:
            console.print(f"seed {other.config.seed}: eval return {row['eval_return']:.1f} ± "
                          f"{row['eval_return_std']:.1f}, {row['train_catastrophes']} catastrophes ({other.directory})")
    console.print(f"evaluate again with: guidedrl eval {run.directory}")
    return 0


def _eval(args: EvalArgs) -> int:
    from guidedrl.training.run import evaluate, load

    run = load(args.dir, guide=args.guide, trust_code=args.trust_code)
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


def _export(args: ExportArgs) -> int:
    from guidedrl.checkpoint import run_dir_of
    from guidedrl.export import default_path, export
    from guidedrl.policy import read_policy

    policy = read_policy(args.run_dir)  # reads files only: no guide or env code is imported
    base = run_dir_of(args.run_dir) or Path(args.run_dir)
    path = Path(args.out) if args.out is not None else default_path(base, args.format, args.guide_free)
    written = export(policy, path, args.format, guide_free=args.guide_free, force=args.force)
    guided = not args.guide_free and policy.config.guidance in ("sag", "pag", "residual")
    print(f"wrote {written} ({args.format}): the {'deployed' if guided else 'actor'} policy of "
          f"{policy.config.algo}/{policy.config.guidance} on {policy.config.env}")
    if args.format == "onnx":
        print("inputs: obs (N, %d)%s; outputs: action (N, %d) in the env's units%s" % (
            policy.obs_dim, ", guide_action (N, %d) in [-1, 1], confidence (N,)" % policy.action_dim if guided else "",
            policy.action_dim, ", from_guide (N,)" if guided else ""))
    else:
        print(f"act with: from guidedrl import deploy; deploy.load({str(written)!r}).act(obs)"
              + ("  (deploy.GuidedPolicy(..., guide) for the deployed policy)" if guided else ""))
    return 0


SUBCOMMANDS = {
    "train": (Config, "Train an agent, optionally with a local guide (the defaults: PAG on SafeCartpole-v0, about two minutes)."),
    "eval": (EvalArgs, EvalArgs.__doc__),
    "export": (ExportArgs, ExportArgs.__doc__),
    "envs": (EnvsArgs, EnvsArgs.__doc__),
    "guide": (GuideArgs, GuideArgs.__doc__),
    "bench": (BenchArgs, None),
    "dataset": (DatasetArgs, "Minari datasets: collect a guide's or a run's episodes, make one from a run's replay buffer, list or describe them (docs/OFFLINE.md)."),
}
"""Each subcommand's options and its one-line description in ``guidedrl --help``."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``guidedrl`` console script."""
    from guidedrl.errors import GuideCheckFailed, GuidedRLError, TrainingFailed, WriteError
    from guidedrl.training.state import TrainingInterrupted

    args = None
    try:
        commands = Union[tuple(  # type: ignore[valid-type]
            Annotated[kind, tyro.conf.subcommand(name, description=(about or kind.__doc__ or "").strip())]
            for name, (kind, about) in SUBCOMMANDS.items())]
        args = tyro.cli(commands, args=argv, prog="guidedrl",
                        description="Reinforcement learning with local guides.")
        if isinstance(args, Config):
            return _train(args, list(argv) if argv is not None else sys.argv[1:])
        if isinstance(args, EnvsArgs):
            return _envs(args)
        if isinstance(args, GuideArgs):
            return _guide(args)
        if isinstance(args, BenchArgs):
            words = list(argv) if argv is not None else sys.argv[1:]
            return _bench(args, command="guidedrl " + shlex.join(words))
        if isinstance(args, (DatasetCollectArgs, DatasetFromRunArgs, DatasetListArgs, DatasetInfoArgs)):
            words = list(argv) if argv is not None else sys.argv[1:]
            return _dataset(args, command="guidedrl " + shlex.join(words))
        if isinstance(args, ExportArgs):
            return _export(args)
        return _eval(args)
    except SystemExit as exit:  # tyro's own parse errors (they name the value) and --help
        return exit.code if isinstance(exit.code, int) else 2
    except BrokenPipeError:  # the reader went away (``guidedrl train --help | head``): nothing left to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not raise again
        return 141
    except TrainingInterrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        return 130
    except GuidedRLError as error:
        if os.environ.get("GUIDEDRL_DEBUG", "") not in ("", "0") or getattr(args, "debug", False):
            import traceback

            traceback.print_exception(error)
        print(f"guidedrl: error: {error}", file=sys.stderr)
        # 1: the run (or the guide check) started and failed (its guide, env or update, or a file); 2: refused input
        return 1 if isinstance(error, (TrainingFailed, WriteError, GuideCheckFailed)) else 2


if __name__ == "__main__":
    sys.exit(main())
