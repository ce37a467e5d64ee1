"""The offline suite's datasets: one recipe per task, each a short list of ``guidedrl`` commands,
built once before the suite's trials start (docs/BENCHMARK.md, "Offline to online").

:data:`RECIPES` is the one place that says how each dataset is made:

- PointMass-v0, BallInCup-v0, "medium": the task's default guide (a half-trained SAC policy)
  with N(0, 0.3²) action noise, 100 episodes (100k transitions): ``guidedrl dataset collect
  --policy guide --noise 0.3``;
- SafeCartpole-v0, "replay": the replay buffer of a short PAG run (50k steps: the reflex's
  interventions and a learning agent's actions, as a plant log): ``guidedrl train ... --guidance
  pag``, then ``guidedrl dataset from-run``;
- Pendulum-v1, "guide": the LQR guide everywhere with N(0, 0.3²) action noise, 100 episodes of
  200 steps (20k transitions): ``guidedrl dataset collect --policy guide --guide lqr --noise 0.3``;
- HalfCheetah-v5, "medium": a SAC policy trained part-way (100k steps, 256-256), its rollouts
  with N(0, 0.1²) noise, 100 episodes (100k transitions): ``guidedrl train ... --algo sac``, then
  ``guidedrl dataset collect --policy RUN_DIR``.

Each command runs as its own process (``python -m guidedrl.cli ...``), printed as it starts, with
``MINARI_DATASETS_PATH`` pointing at the suite's store, so the command a dataset's metadata
records (``guidedrl dataset info``) is the one that ran. A dataset already in the store is
skipped; a run that a recipe trains is resumed from its checkpoint if an earlier build was
interrupted, and skipped once finished (``done.json``). :func:`build_datasets` writes what it
built or found, with sizes and mean returns, to ``OUT/datasets.json``.

Nothing here imports Minari: a dataset is present when its ``data/metadata.json`` is, and it is
described by :func:`guidedrl.offline.dataset_info` (which imports Minari lazily).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from guidedrl.errors import GuidedRLError

STORE = "minari"
"""The suite's Minari store under its output directory (unless MINARI_DATASETS_PATH is set)."""
RUNS = "dataset-runs"
"""Where the runs some recipes train live, under the suite's output directory."""
DATASETS_JSON = "datasets.json"
DONE = "done.json"
ONE_CORE_ENV = {
    # a dataset command runs alone, before the trials, on one core like a trial (runner.py's
    # workers get the same)
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MUJOCO_GL": "disable",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}
HALFCHEETAH_SAC_1M = 11_000.0
"""Roughly what SAC reaches on HalfCheetah at 1M environment steps in published curves (about
10-12k, Haarnoja et al. 2018; CleanRL's benchmark); the "medium" policy should end at a third
to half of it. Approximate: it only flags a policy far outside that band."""

PathLike = Union[str, os.PathLike]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one task's dataset is made: optionally a training run, then its rollouts
    (``guidedrl dataset collect``) or its replay buffer (``guidedrl dataset from-run``)."""

    task: str
    dataset_id: str
    kind: str
    """"medium", "replay" or "guide" (docs/BENCHMARK.md's names)."""
    description: str
    episodes: int = 100
    """Episodes to collect (rollout recipes)."""
    noise: float = 0.0
    """Gaussian noise on the normalised action while collecting."""
    guide: Optional[str] = None
    """``--guide`` of ``collect --policy guide`` (None: the task's default guide)."""
    run: Optional[Callable[[int], Tuple[str, ...]]] = None
    """``guidedrl train`` options of the run the data come from, given its budget (None: no run)."""
    run_steps: int = 0
    """That run's environment steps."""
    export: str = "collect"
    """"collect": the run's (or the guide's) rollouts; "replay": the run's replay buffer."""
    target_return: Optional[Tuple[float, float]] = None
    """The band the run's final evaluation return should fall in (checked, not enforced)."""

    @property
    def name(self) -> str:
        """The dataset's name without namespace and version, e.g. ``pointmass-medium-noise30``."""
        return self.dataset_id.split("/")[-1].rsplit("-v", 1)[0]

    def run_dir(self, runs: PathLike) -> Path:
        return Path(runs) / self.name

    def train_args(self, runs: PathLike, run_steps: Optional[int] = None) -> Optional[List[str]]:
        """``guidedrl train`` arguments of the run, or None when the recipe trains nothing."""
        if self.run is None:
            return None
        steps = self.run_steps if run_steps is None else run_steps
        return ["train", "--env", self.task, *self.run(steps), "--steps", str(steps), "--seed", "0",
                "--out", str(self.run_dir(runs)), "--no-progress"]

    def export_args(self, runs: PathLike, episodes: Optional[int] = None) -> List[str]:
        """The ``guidedrl dataset ...`` arguments that write the dataset."""
        if self.export == "replay":
            return ["dataset", "from-run", str(self.run_dir(runs)), "--id", self.dataset_id]
        policy = str(self.run_dir(runs)) if self.run is not None else "guide"
        args = ["dataset", "collect", "--env", self.task, "--policy", policy]
        if self.guide is not None:
            args += ["--guide", self.guide]
        args += ["--noise", f"{self.noise:g}", "--episodes", str(self.episodes if episodes is None else episodes),
                 "--seed", "0", "--id", self.dataset_id, "--no-progress"]
        return args

    def commands(self, runs: PathLike, episodes: Optional[int] = None,
                 run_steps: Optional[int] = None) -> List[List[str]]:
        """Every command of the recipe in order (arguments after ``guidedrl``)."""
        train = self.train_args(runs, run_steps)
        return ([train] if train is not None else []) + [self.export_args(runs, episodes)]


def _pag_run(steps: int) -> Tuple[str, ...]:
    """A PAG run with the benchmark's shared settings (suites.BENCH: 64-64, batch 128) and the
    paper suite's PAG trial on a repulsive task (β_t schedule changing every 10% of the budget)."""
    return ("--algo", "sac", "--guidance", "pag", "--pag-schedule", "--period", str(max(steps // 10, 1)),
            "--hidden-sizes", "64", "64", "--batch-size", "128", "--learning-starts", str(min(1_000, steps // 5)),
            "--eval-every", str(max(steps // 10, 1)), "--eval-episodes", "5")


def _sac_run(steps: int) -> Tuple[str, ...]:
    """SAC alone with the usual MuJoCo settings (256-256, batch 256), evaluated every 10%."""
    return ("--algo", "sac", "--guidance", "none", "--hidden-sizes", "256", "256", "--batch-size", "256",
            "--learning-starts", str(min(5_000, steps // 5)), "--eval-every", str(max(steps // 10, 1)),
            "--eval-episodes", "5")


RECIPES: Dict[str, Recipe] = {recipe.task: recipe for recipe in (
    Recipe("PointMass-v0", "guidedrl/pointmass-medium-noise30-v0", "medium",
           "the default guide (a half-trained SAC policy) everywhere, N(0, 0.3²) action noise",
           episodes=100, noise=0.3),
    Recipe("BallInCup-v0", "guidedrl/ballincup-medium-noise30-v0", "medium",
           "the default guide (a half-trained SAC policy) everywhere, N(0, 0.3²) action noise",
           episodes=100, noise=0.3),
    Recipe("SafeCartpole-v0", "guidedrl/safecartpole-replay-v0", "replay",
           "the replay buffer of a short PAG run (the wall reflex's interventions and a learning agent's "
           "actions, as a plant log)", run=_pag_run, run_steps=50_000, export="replay"),
    Recipe("Pendulum-v1", "guidedrl/pendulum-lqr-noise30-v0", "guide",
           "the LQR guide everywhere, N(0, 0.3²) action noise", episodes=100, noise=0.3, guide="lqr"),
    Recipe("HalfCheetah-v5", "guidedrl/halfcheetah-medium-v0", "medium",
           "a SAC policy trained part-way (100k steps, 256-256), its deterministic actions with N(0, 0.1²) noise",
           episodes=100, noise=0.1, run=_sac_run, run_steps=100_000,
           target_return=(HALFCHEETAH_SAC_1M / 3, HALFCHEETAH_SAC_1M / 2)),
)}
"""Task -> the recipe of its dataset in the offline suite."""


def recipe_for(dataset_id: str) -> Optional[Recipe]:
    """The recipe that makes ``dataset_id``, if one does."""
    return next((recipe for recipe in RECIPES.values() if recipe.dataset_id == dataset_id), None)


def dataset_store(out: PathLike) -> Path:
    """The Minari store of a suite writing to ``out``: ``MINARI_DATASETS_PATH`` when the user set
    it, else ``OUT/minari``."""
    given = os.environ.get("MINARI_DATASETS_PATH")
    return Path(given).resolve() if given else Path(out).resolve() / STORE


def is_present(store: PathLike, dataset_id: str) -> bool:
    """The store holds the dataset (its ``data/metadata.json``, which Minari writes last)."""
    return (Path(store) / dataset_id / "data" / "metadata.json").is_file()


def command_line(args: Sequence[str]) -> str:
    """How a recipe's command reads (and how the dataset's metadata records it)."""
    return "guidedrl " + shlex.join(list(args))


def _run_command(args: List[str], store: Path, say: Callable[[str], None]) -> str:
    """Run ``guidedrl ARGS`` in its own process with the store in MINARI_DATASETS_PATH; return
    its last output line, or raise naming the command and its error."""
    say(f"$ MINARI_DATASETS_PATH={shlex.quote(str(store))} {command_line(args)}")
    env = {**os.environ, **ONE_CORE_ENV, "MINARI_DATASETS_PATH": str(store)}
    if os.environ.get("MUJOCO_GL"):
        env["MUJOCO_GL"] = os.environ["MUJOCO_GL"]
    done = subprocess.run([sys.executable, "-m", "guidedrl.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise GuidedRLError(f"building the offline suite's datasets: `{command_line(args)}` failed (exit "
                            f"{done.returncode}): {' / '.join(lines[-3:]) or 'no output'}")
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _train(recipe: Recipe, runs: Path, store: Path, run_steps: Optional[int], say) -> None:
    """The recipe's training run: skipped when finished, resumed when interrupted."""
    from guidedrl.checkpoint import find_checkpoint

    run_dir = recipe.run_dir(runs)
    if (run_dir / DONE).exists():
        say(f"  {run_dir} is finished (skipped)")
        return
    args = recipe.train_args(runs, run_steps)
    if find_checkpoint(run_dir) is not None:
        say(f"  resuming the interrupted run {run_dir}")
        args = ["train", "--resume", str(run_dir), "--no-progress"]
    elif run_dir.exists():  # died before its first checkpoint
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    _run_command(args, store, say)
    (run_dir / DONE).write_text(json.dumps({"command": command_line(recipe.train_args(runs, run_steps))}))


def _last_evaluation(run_dir: Path) -> Optional[float]:
    from guidedrl.training.logging import read_metrics

    try:
        rows = read_metrics(run_dir)
    except (OSError, GuidedRLError):
        return None
    return float(rows[-1]["eval_return"]) if rows else None


def describe(recipe: Recipe, store: PathLike, runs: PathLike, episodes: Optional[int] = None,
             run_steps: Optional[int] = None) -> Dict[str, object]:
    """One datasets.json record: the recipe, its commands and, when the dataset is in the store,
    its size and mean return (and the return of the run it came from)."""
    record: Dict[str, object] = {
        "task": recipe.task, "id": recipe.dataset_id, "kind": recipe.kind, "description": recipe.description,
        "commands": [command_line(args) for args in recipe.commands(runs, episodes, run_steps)],
        "present": is_present(store, recipe.dataset_id),
    }
    if record["present"]:
        from guidedrl.offline import dataset_info

        info = dataset_info(str(Path(store) / recipe.dataset_id))
        record.update({name: info[name] for name in ("episodes", "steps", "mean_return", "std_return", "path",
                                                      "command", "fingerprint")})
    if recipe.run is not None:
        record["run"] = str(recipe.run_dir(runs))
        record["run_final_return"] = _last_evaluation(recipe.run_dir(runs))
        if recipe.target_return is not None:
            record["run_target_return"] = list(recipe.target_return)
    return record


def build_datasets(tasks: Sequence[str], out: PathLike, store: Optional[PathLike] = None,
                   episodes: Optional[int] = None, run_steps: Optional[int] = None,
                   say: Callable[[str], None] = print) -> List[Dict[str, object]]:
    """Make the datasets of ``tasks`` (their :data:`RECIPES`) that ``store`` (default:
    :func:`dataset_store`) lacks, one command at a time, and write ``OUT/datasets.json``.

    ``episodes`` and ``run_steps`` replace every recipe's episode count and run budget (for a
    smoke test; the ids stay the same, so use a store of their own). Returns the records
    written (one per task, in the order given)."""
    unknown = [task for task in tasks if task not in RECIPES]
    if unknown:
        raise GuidedRLError(f"no dataset recipe for {', '.join(map(repr, unknown))}; recipes: {', '.join(RECIPES)}")
    out = Path(out).resolve()
    store = Path(store).resolve() if store is not None else dataset_store(out)
    runs = out / RUNS
    earlier = {record["task"]: record for record in read_records(out)}
    records = []
    for task in tasks:
        recipe = RECIPES[task]
        started = time.perf_counter()
        built = not is_present(store, recipe.dataset_id)
        if built:
            say(f"dataset {recipe.dataset_id} ({task}, {recipe.kind}): building")
            if recipe.run is not None:
                _train(recipe, runs, store, run_steps, say)
            line = _run_command(recipe.export_args(runs, episodes), store, say)
            if line:
                say(f"  {line}")
        else:
            say(f"dataset {recipe.dataset_id} ({task}): in {store} (skipped)")
        record = describe(recipe, store, runs, episodes, run_steps)
        record["built_now"] = built
        _keep_history(record, earlier.get(task), say)
        record["build_seconds"] = time.perf_counter() - started if built else None
        low_high = recipe.target_return
        final = record.get("run_final_return")
        if built and low_high is not None and final is not None and not low_high[0] <= final <= low_high[1]:
            say(f"  note: the policy's final evaluation return {final:.0f} is outside the intended band "
                f"[{low_high[0]:.0f}, {low_high[1]:.0f}] (a third to half of SAC's ~{HALFCHEETAH_SAC_1M:.0f} at 1M "
                "steps); change the run's budget in guidedrl.experiments.datasets.RECIPES if that matters")
        records.append(record)
    write_records(out, records, store)
    return records


def _keep_history(record: Dict[str, object], before: Optional[Mapping[str, object]],
                  say: Callable[[str], None]) -> None:
    """Carry ``before``'s earlier builds into ``record``; when the dataset now in the store is not
    the one ``before`` describes (rebuilt on another machine after its store was lost: a training
    run in a recipe does not reproduce bit for bit there), keep ``before`` among them and say so,
    since the suite's finished trials of that task ran on it."""
    if before is None:
        return
    history = list(before.get("earlier_builds") or [])
    old, new = before.get("fingerprint"), record.get("fingerprint")
    if old is not None and new is not None and old != new:
        history.append({name: before.get(name) for name in ("fingerprint", "episodes", "steps", "mean_return",
                                                            "std_return", "run_final_return")
                        if before.get(name) is not None})
        say(f"  note: {record['id']} differs from the build on record (fingerprint {old}, now {new}); "
            "trials of this task that finished before ran on that one (datasets.json keeps both)")
    if history:
        record["earlier_builds"] = history


def write_records(out: PathLike, records: Sequence[Mapping[str, object]], store: PathLike) -> Path:
    """Merge ``records`` into ``OUT/datasets.json`` (one per task; others kept), atomically."""
    from guidedrl.experiments.results import write_atomic

    path = Path(out) / DATASETS_JSON
    kept = {record["task"]: record for record in read_records(out)}
    kept.update({record["task"]: dict(record) for record in records})
    order = list(RECIPES) + sorted(task for task in kept if task not in RECIPES)
    data = {"store": str(store), "datasets": [kept[task] for task in order if task in kept]}
    write_atomic(path, lambda handle: json.dump(data, handle, indent=1))
    return path


def read_records(out: PathLike) -> List[Dict[str, object]]:
    """The records of ``OUT/datasets.json`` (none when it does not exist)."""
    path = Path(out) / DATASETS_JSON
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise GuidedRLError(f"{path} is not valid JSON: {error}") from None
    datasets = data.get("datasets") if isinstance(data, dict) else None
    if not isinstance(datasets, list) or not all(isinstance(r, dict) and "task" in r for r in datasets):
        raise GuidedRLError(f"{path} must be an object with a \"datasets\" list of records with a task")
    return datasets
