"""Run a suite's trials on Ray Tune and collect what they logged.

Each trial is one Tune trial of a function trainable that trains with guidedrl's own loop
and reports every evaluation row to Tune as it goes. A trial asks Ray for one CPU and runs
XLA on one thread, so the trials never oversubscribe the cores. Everything lives under one
absolute output directory::

    OUT/runs/<trial id>/        the run (config.json, metrics.csv, checkpoint/, done.json)
    OUT/ray/                    Ray Tune's own experiment records
    OUT/trials.json             every trial's status (finished / crashed / pending) and error
    OUT/minari/, dataset-runs/, datasets.json   an offline suite's datasets (experiments.datasets)
    OUT/results.csv             tidy rows of every finished trial (experiments.results)
    OUT/summary.csv, report.md, figures/   (experiments.report)

Re-running the same suite into the same OUT skips the finished trials (``done.json``, or all
their rows already in ``OUT/results.csv``, which is how a results.csv kept in a repository
without its run directories resumes), resumes
an interrupted one from its last checkpoint, and retries crashed ones. A trial that crashes is
recorded with its error; the others go on. With ``address`` the trials run on an existing Ray
cluster, whose nodes must all see OUT at the same path (shared storage).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from guidedrl.errors import GuidedRLError
from guidedrl.experiments import results as results_mod
from guidedrl.experiments.datasets import ONE_CORE_ENV
from guidedrl.experiments.suites import Trial

DONE = "done.json"
WORKER_ENV = ONE_CORE_ENV
"""One XLA thread per trial: Ray gives each trial one CPU."""


def _ray():
    try:
        import ray
        from ray import tune
    except ImportError as error:
        raise GuidedRLError(
            f"guidedrl bench runs its trials on Ray Tune: pip install -e \".[ray]\" ({error})"
        ) from None
    return ray, tune


def _write_json(path: Path, data) -> None:
    results_mod.write_atomic(path, lambda handle: json.dump(data, handle, indent=1, default=float))


def is_finished(runs: Path, trial: Trial, recorded: Optional[Dict] = None) -> bool:
    """Finished: its run directory has ``done.json``, or ``recorded`` (rows of an existing
    results.csv, :func:`recorded_runs`) holds it up to its last step."""
    if (runs / trial.id / DONE).exists():
        return True
    rows = (recorded or {}).get(_key(trial))
    return bool(rows) and max(int(r["step"]) for r in rows) == trial.steps


def _key(trial: Trial):
    return (trial.task, trial.strategy, trial.backbone, int(trial.seed))


def recorded_runs(out) -> Dict:
    """The rows of ``OUT/results.csv`` by run, as written (so a results.csv kept without the run
    directories, e.g. in a repository, still counts its runs as finished and is carried over)."""
    path = Path(out) / "results.csv"
    runs: Dict = {}
    if path.exists():
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                runs.setdefault((row["task"], row["strategy"], row["backbone"], int(row["seed"])), []).append(row)
    return runs


def _config_key(trial: Trial) -> str:
    """What a run trained with, as a comparable string (its config without the output directory)."""
    return json.dumps({**trial.config().to_dict(), "out": None}, sort_keys=True, default=str)


def carry_over(trials: Sequence[Trial], out: Path, sources: Sequence, say=lambda text: None) -> Dict[str, str]:
    """Copy into ``OUT/results.csv`` the rows of runs another suite's output directory already
    finished with exactly the same training config (:meth:`Trial.config`, whatever the label: the
    confidence suite's ``sag``, ``pag`` and ``none`` are the paper suite's; the offline suite's
    ``sac`` is the paper suite's ``none``), relabelled as this suite's trial, so they are not
    trained again. A source is a directory with that suite's trials.json and results.csv (as kept
    in docs/results/); its trials are rebuilt from the suite's builder at its default budgets, so a
    source run with other settings never matches. Returns {trial id: source} of those carried."""
    from guidedrl.experiments.suites import SUITES

    ours = recorded_runs(out)
    wanted = {t.id: t for t in trials if not is_finished(out / "runs", t, ours)}
    carried: Dict[str, str] = {}
    added: List[Dict] = []
    for source in map(Path, sources):
        record_path, results_path = source / "trials.json", source / "results.csv"
        if not record_path.is_file() or not results_path.is_file():
            raise GuidedRLError(f"--reuse {source}: not a bench output directory (needs trials.json and results.csv)")
        record = json.loads(record_path.read_text())
        if record.get("suite") not in SUITES:
            raise GuidedRLError(f"--reuse {source}: its suite {record.get('suite')!r} is not one guidedrl knows")
        finished = {t["id"]: t for t in record.get("trials", []) if t.get("status") == "finished"}
        builder = SUITES[record["suite"]][0]
        seeds = sorted({int(t["seed"]) for t in finished.values()})
        theirs = {}
        for trial in (builder(seeds, None) if seeds else []):
            if trial.id in finished and finished[trial.id]["steps"] == trial.steps:
                theirs.setdefault(_config_key(trial), trial)
        rows = recorded_runs(source)
        for trial_id, trial in list(wanted.items()):
            source_trial = theirs.get(_config_key(trial))
            run_rows = rows.get(_key(source_trial)) if source_trial is not None else None
            if not run_rows or max(int(r["step"]) for r in run_rows) != trial.steps:
                continue
            added += [{**row, "strategy": trial.strategy} for row in run_rows]
            carried[trial_id] = f"{source} ({source_trial.id})"
            del wanted[trial_id]
    if added:
        existing = [row for runs in ours.values() for row in runs]
        results_mod.write_results(out / "results.csv", existing + added)
        say(f"guidedrl bench: {len(carried)} runs carried over with the same config from "
            f"{', '.join(sorted({str(s) for s in sources}))}")
    return carried


# -- the trainable (runs on a Ray worker) ----------------------------------------------------


def group_trials(trials: Sequence[Trial]) -> List[List[Trial]]:
    """The grid's units of work: a JAX task's trials that differ only in seed are one (its seeds
    train side by side in one process, :mod:`guidedrl.training.scanned`); every other trial is
    one alone. Order kept (a group where its first trial stood)."""
    from guidedrl.jaxenvs import is_jax_env

    groups: Dict[object, List[Trial]] = {}
    for trial in trials:
        key = (trial.task, trial.strategy, trial.backbone, trial.steps, trial.guidance, trial.overrides) \
            if is_jax_env(trial.task) else trial.id
        groups.setdefault(key, []).append(trial)
    return list(groups.values())


def group_params(group: Sequence[Trial]) -> Dict:
    """A group as the grid's ``trial`` parameter: its first trial, with the others' seeds."""
    return {**group[0].to_dict(), **({"group_seeds": [t.seed for t in group[1:]]} if len(group) > 1 else {})}


def trials_of(params_trial: Mapping) -> List[Trial]:
    """The trials a grid's ``trial`` parameter stands for (:func:`group_params`)."""
    first = Trial.from_dict(params_trial)
    return [first] + [dataclasses.replace(first, seed=int(seed)) for seed in params_trial.get("group_seeds", ())]


def train_trial(params: Dict) -> None:
    """Ray Tune function trainable: train one trial into ``params["runs"]/<id>``, reporting
    each evaluation row; resume from its checkpoint if an earlier attempt was interrupted. A
    group of a JAX task's seeds (:func:`group_trials`) trains in one process."""
    from ray import tune

    from guidedrl.config import Config
    from guidedrl.checkpoint import find_checkpoint
    from guidedrl.training.loop import train
    from guidedrl.training.threads import one_worker_thread

    one_worker_thread()  # the worker's first trial: XLA's pool gets one thread (a no-op after)

    if params.get("minari"):  # the suite's dataset store (a reused worker may have run another suite)
        os.environ["MINARI_DATASETS_PATH"] = params["minari"]
    group = trials_of(params["trial"])
    if len(group) > 1:
        train_group(group, Path(params["runs"]),
                    lambda rows: tune.report({"step": sum(int(r["step"]) for r in rows), "trial": group[0].id}))
        return
    trial = group[0]
    run_dir = Path(params["runs"]) / trial.id
    if (run_dir / DONE).exists():
        return
    config = trial.config(str(run_dir))
    if find_checkpoint(run_dir) is not None:
        config = Config(resume=str(run_dir), progress=False)
    elif run_dir.exists():  # an attempt that died before its first checkpoint: start again
        shutil.rmtree(run_dir)

    def report(row, run) -> None:
        tune.report({**{k: v for k, v in row.items() if isinstance(v, (int, float))}, "trial": trial.id})

    run = train(config, on_evaluation=report)
    last = run.history[-1] if run.history else {}
    _write_json(run_dir / DONE, {"trial": trial.to_dict(), "final": last})


def train_group(group: Sequence[Trial], runs: Path, report=None) -> None:
    """A JAX task's seeds (``group``: trials that differ only in seed) trained side by side in
    this process, each into its own run directory as one trial alone would be; resumed when every
    unfinished one has a checkpoint (an interrupted group), started again otherwise."""
    from guidedrl.checkpoint import find_checkpoint
    from guidedrl.training.resolve import resolve
    from guidedrl.training.scanned import train_scanned

    group = [t for t in group if not (runs / t.id / DONE).exists()]
    if not group:
        return
    directories = [runs / t.id for t in group]
    resume = all(find_checkpoint(d) is not None for d in directories)
    if not resume:
        for directory in directories:
            if directory.exists():
                shutil.rmtree(directory)
    config = group[0].config(str(directories[0]))
    resolved = resolve(config.replace(out=None), None, None, None)
    result = train_scanned(resolved.config.replace(out=str(directories[0])), resolved.train_env, resolved.guide,
                           [t.seed for t in group], directories=directories, resume=resume, on_evaluation=report)
    for trial, directory, history in zip(group, directories, result.histories):
        _write_json(directory / DONE, {"trial": trial.to_dict(), "final": history[-1] if history else {}})


# -- the driver ------------------------------------------------------------------------------


def _error_line(error: BaseException) -> str:
    """The last 'SomeError: message' line of a (Ray-wrapped) error."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Interrupt")) and " " not in head:
            return line
    return lines[-1] if lines else type(error).__name__


def _progress_callback(tune, trials: Sequence[Trial], show: bool, save, errors: Dict[str, str]):
    """A Tune callback keeping a progress bar of environment steps over the whole grid, and
    trials.json up to date (``save``) as trials finish or crash (``errors``)."""
    total = sum(t.steps for t in trials)

    class Progress(tune.Callback):
        def __init__(self):
            self.done: Dict[str, int] = {}
            self.bar = self.task = None
            self.finished = self.crashed = 0

        def __getstate__(self):  # Tune pickles its callbacks; the bar stays in the driver
            return {k: v for k, v in self.__dict__.items() if k not in ("bar", "task")}

        def __setstate__(self, state):
            self.__dict__.update(state, bar=None, task=None)

        def setup(self, **info):
            if show and self.bar is None:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress
                from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn

                self.bar = RichProgress(TextColumn("[bold]bench[/] {task.fields[state]}"), BarColumn(),
                                        MofNCompleteColumn(), TextColumn("env steps"), TimeElapsedColumn(),
                                        TextColumn("ETA"), TimeRemainingColumn(), transient=False)
                self.task = self.bar.add_task("bench", total=total, state="")
                self.bar.start()

        def _update(self):
            if self.bar is not None:
                self.bar.update(self.task, completed=sum(self.done.values()),
                                state=f"{self.finished}/{len(trials)} trials done, {self.crashed} crashed")

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "step" in result and "trial" in result:
                self.done[result["trial"]] = int(result["step"])
                self._update()

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.finished += 1
            self._update()
            save()

        def on_trial_error(self, iteration, trials, trial, **info):
            self.crashed += 1
            for crashed in trials_of(trial.config["trial"]):
                errors[crashed.id] = "crashed (see the final record)"
            self._update()
            save()
            if self.bar is not None:
                self.bar.console.print(f"[red]trial crashed[/]: {trial.config['trial']['task']} "
                                       f"{trial.config['trial']['strategy']} seed {trial.config['trial']['seed']}")

        def stop(self):
            if self.bar is not None:
                self.bar.stop()

    return Progress()


def run_suite(trials: Sequence[Trial], out, suite: str = "custom", command: Optional[str] = None,
              address: Optional[str] = None, progress: bool = True, report: bool = True,
              cpus: Optional[int] = None, dataset_options: Optional[Mapping] = None,
              reuse: Sequence = ()) -> Dict:
    """:func:`_run_suite` while holding ``out`` (its run.lock, as ``guidedrl train`` holds a run
    directory): a second grid into the same directory is refused with the owner's pid."""
    from guidedrl.training.lock import RunLock

    _ray()  # the missing extra is named before anything is written
    lock = RunLock(out, what="bench output directory").acquire()
    try:
        record = _run_suite(trials, out, suite, command, address, progress, report, cpus, dataset_options, reuse)
    except BaseException:
        lock.abandon()  # removes OUT again if the lock made it and nothing else was written
        raise
    lock.release()
    return record


def _run_suite(trials: Sequence[Trial], out, suite: str = "custom", command: Optional[str] = None,
               address: Optional[str] = None, progress: bool = True, report: bool = True,
               cpus: Optional[int] = None, dataset_options: Optional[Mapping] = None,
               reuse: Sequence = ()) -> Dict:
    """Run the unfinished ``trials`` on Ray Tune into ``out``; write trials.json, results.csv and
    (``report``) the report. Returns the trials.json record.

    Trials that train with a dataset the suite knows how to make (``experiments.datasets``) get
    it built first, once, into the suite's store (``MINARI_DATASETS_PATH`` if set, else
    ``OUT/minari``), which their workers read; ``dataset_options`` (``episodes``,
    ``run_steps``) shrink the recipes for a smoke test. A local Ray gets ``cpus`` CPUs (default:
    all the machine's), so at most that many trials run at once. ``reuse``: other suites' output
    directories whose runs with the same config are carried over (:func:`carry_over`)."""
    ray, tune = _ray()
    out = Path(out).resolve()
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    ids = [t.id for t in trials]
    if len(set(ids)) != len(ids):
        raise GuidedRLError("two trials of the suite share an id")
    record_path = out / "trials.json"
    previous = json.loads(record_path.read_text()) if record_path.exists() else {}
    say = (lambda text: print(text, file=sys.stderr)) if progress else (lambda text: None)
    carried = dict(previous.get("carried_over", {}))
    carried.update(carry_over(trials, out, reuse, say))
    recorded = recorded_runs(out)
    todo = [t for t in trials if not is_finished(runs, t, recorded)]
    skipped = len(trials) - len(todo)
    say(f"guidedrl bench: {len(trials)} trials in {out}; {skipped} already finished (skipped), "
        f"{len(todo)} to run")

    errors: Dict[str, str] = {}
    started = time.time()

    def write_record() -> Dict:
        """trials.json as of now: written when the invocation starts, after every trial, and at
        the end, so a killed invocation still leaves its statuses and wall time."""
        statuses = []
        for trial in trials:
            status = ("finished" if is_finished(runs, trial, recorded)
                      else "crashed" if trial.id in errors else "pending")
            statuses.append({"id": trial.id, "task": trial.task, "strategy": trial.strategy,
                             "backbone": trial.backbone, "seed": trial.seed, "steps": trial.steps,
                             "status": status, "error": errors.get(trial.id)})
        invocations = list(previous.get("invocations", [])) + [
            {"started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
             "wall_time": time.time() - started, "trials_run": len(todo), "command": command}]
        record = {"suite": suite, "command": command, "wall_time": sum(i["wall_time"] for i in invocations),
                  "invocations": invocations, "trials": statuses}
        if carried:
            record["carried_over"] = carried  # trial id -> the directory its finished run came from
        _write_json(record_path, record)
        return record

    write_record()
    # the dataset commands are printed even without progress: they are how the data were made
    store = _prepare_datasets(todo, out, lambda text: print(text, file=sys.stderr, flush=True),
                              dataset_options or {})
    if todo:
        started_ray = not ray.is_initialized()
        if started_ray:
            env_vars = dict(WORKER_ENV)
            # compiled XLA programs persist on disk, so a trial's worker reuses its predecessors'
            env_vars["JAX_COMPILATION_CACHE_DIR"] = str(out / "jax-cache")
            env_vars["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
            if os.environ.get("MUJOCO_GL"):
                env_vars["MUJOCO_GL"] = os.environ["MUJOCO_GL"]
            init = dict(include_dashboard=False, log_to_driver=False, configure_logging=False,
                        runtime_env={"env_vars": env_vars})
            with warnings.catch_warnings():  # JAX warns about os.fork when Ray starts its processes
                warnings.simplefilter("ignore", RuntimeWarning)
                if address:
                    ray.init(address=address, **init)
                else:
                    ray.init(num_cpus=cpus or os.cpu_count() or 1, **init)
        callback = _progress_callback(tune, todo, progress, write_record, errors)
        tuner = tune.Tuner(
            tune.with_resources(train_trial, {"cpu": 1}),
            param_space={"trial": tune.grid_search([group_params(g) for g in group_trials(todo)]), "runs": str(runs),
                         **({"minari": str(store)} if store is not None else {})},
            tune_config=tune.TuneConfig(reuse_actors=True,
                                        trial_dirname_creator=lambda trial: Trial.from_dict(trial.config["trial"]).id),
            run_config=tune.RunConfig(
                name=f"{suite}-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=str(out / "ray"), verbose=0,
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False), callbacks=[callback],
            ),
        )
        try:
            grid = tuner.fit()
        finally:
            callback.stop()
            if started_ray:
                ray.shutdown()
        for result in grid:
            if result.error is not None:
                for crashed in trials_of(result.config["trial"]):
                    errors[crashed.id] = _error_line(result.error)

    record = write_record()
    wall = record["invocations"][-1]["wall_time"]
    statuses = record["trials"]
    rows = collect(out, trials, recorded, others=True)
    if rows:
        results_mod.write_results(out / "results.csv", rows)
        if report:
            from guidedrl.experiments.report import write_report

            write_report(out)
    counts = {s: sum(1 for t in statuses if t["status"] == s) for s in ("finished", "crashed", "pending")}
    say(f"guidedrl bench: {counts['finished']} finished, {counts['crashed']} crashed, {counts['pending']} "
        f"pending; {wall:.0f} s this run")
    for item in statuses:
        if item["status"] == "crashed":
            say(f"  crashed: {item['id']}: {item['error']}")
    return record


def _prepare_datasets(todo: Sequence[Trial], out: Path, say, options: Mapping) -> Optional[Path]:
    """Build the datasets the unfinished trials need (those a recipe makes; a trial naming
    another dataset finds it in the store itself), once, before any trial starts. Returns the
    store the workers read, or None when no trial uses a dataset."""
    wanted = [dict(t.overrides).get("dataset") for t in todo]
    if not any(wanted):
        return None
    from guidedrl.experiments import datasets

    store = datasets.dataset_store(out)
    tasks = list(dict.fromkeys(recipe.task for recipe in map(datasets.recipe_for, filter(None, wanted))
                               if recipe is not None))
    if tasks:
        datasets.build_datasets(tasks, out, store, say=say, **dict(options))
    return store


def collect(out, trials: Sequence[Trial], recorded: Optional[Dict] = None, others: bool = False) -> List[Dict]:
    """Tidy result rows of every finished trial, in the suite's order: from its run directory,
    or carried over from the results.csv already in ``out`` (``recorded``, read if not given);
    with ``others``, then the rows ``out``'s results.csv holds of runs that are not among
    ``trials`` (a part of the suite run or reported with ``--tasks`` or ``--strategies`` keeps
    the other parts' finished runs, which an earlier invocation wrote there)."""
    from guidedrl.training.logging import read_metrics

    out = Path(out).resolve()
    runs = out / "runs"
    recorded = recorded_runs(out) if recorded is None else recorded
    rows: List[Dict] = []
    for trial in trials:
        if (runs / trial.id / DONE).exists():
            rows += results_mod.run_rows(read_metrics(runs / trial.id), trial.task, trial.strategy,
                                         trial.backbone, trial.seed)
        elif is_finished(runs, trial, recorded):
            rows += recorded[_key(trial)]
    if others:
        ours = {_key(trial) for trial in trials}
        for key, run_rows in recorded.items():
            if key not in ours:
                rows += run_rows
    return rows


def refresh_results(out) -> Optional[int]:
    """In a bench output directory (``trials.json`` and ``runs/``), rewrite ``results.csv`` from
    every run finished so far — e.g. while the grid still runs — and return how many runs it
    holds; elsewhere (a directory holding only a results.csv) do nothing and return None."""
    out = Path(out).resolve()
    if not (out / "trials.json").exists() or not (out / "runs").is_dir():
        return None
    record = json.loads((out / "trials.json").read_text())
    trials = [Trial(t["task"], t["strategy"], t["backbone"], t["seed"], t.get("steps", 0), t["strategy"])
              for t in record["trials"]]
    rows = collect(out, trials, others=True)
    if rows:
        results_mod.write_results(out / "results.csv", rows)
    return len({tuple(row[k] for k in results_mod.KEYS) for row in rows})
