"""The ``guidedrl`` command's options: one typed dataclass per subcommand, whose field docstrings
are its ``--help`` (``guidedrl train`` takes :class:`~guidedrl.config.Config` itself)."""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional, Tuple, Union

import tyro
from typing_extensions import Annotated

from guidedrl.config import DEFAULT_GUIDE, GuideRegion


@dataclasses.dataclass(frozen=True)
class EvalArgs:
    """Evaluate a trained run deterministically on the env it was trained on."""

    dir: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
    """Run directory (or checkpoint directory) to evaluate."""
    episodes: int = 10
    """Number of deterministic episodes."""
    guide_free: bool = False
    """Evaluate the actor alone, without the guide acting."""
    seed: Optional[int] = None
    """Seed of the evaluation episodes (default: the run's seed)."""
    json: bool = False
    """Print the result as JSON instead of a table."""
    guide: Optional[str] = None
    """The run's guide, named again (as train's --guide takes it) instead of the one its files name."""
    trust_code: bool = False
    """Import the code the run's files name (a module:attr guide, a module:EnvName env id); refused without it, as importing runs code: only for runs you trust."""


@dataclasses.dataclass(frozen=True)
class ExportArgs:
    """Export a trained run's deployed policy for the target: one ONNX graph, or an .npz that guidedrl.deploy runs with NumPy alone (docs/DEPLOY.md)."""

    run_dir: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
    """Run directory (or checkpoint directory) to export."""
    format: Literal["onnx", "numpy"] = "onnx"
    """onnx (needs pip install 'guidedrl[export]') or numpy."""
    out: Optional[str] = None
    """File to write (default: RUN_DIR/policy.onnx or policy.npz; policy-guide-free.* with --guide-free)."""
    guide_free: bool = False
    """Export the actor alone, without the guide's switch."""
    force: bool = False
    """Replace OUT if it exists."""


@dataclasses.dataclass(frozen=True)
class EnvsArgs:
    """List the built-in tasks, their default guides, and each guide's own return."""

    measure: bool = False
    """Measure each guide alone now (deterministic episodes) instead of showing the stored numbers."""
    episodes: int = 20
    """Episodes per task when measuring."""
    json: bool = False
    """Print the table as JSON."""


@dataclasses.dataclass(frozen=True)
class GuideArgs:
    """Check a guide before training: the guide alone, in its region with the zero or a random action elsewhere, the zero and random baselines, and how much of the visited states its region covers (docs/GUIDES.md)."""

    action: Annotated[Literal["check"], tyro.conf.Positional, tyro.conf.arg(metavar="check")]
    """check: run the guide and the baselines for a few episodes (seconds, no training)."""
    env: str
    """Gymnasium environment id: a built-in task (guidedrl envs) or any registered id with a Box action space."""
    guide: str = DEFAULT_GUIDE
    """Guide, as train's --guide takes it: default (the built-in task's own), a built-in NAME, module:attr, a checkpoint PATH or a policy file (.msgpack)."""
    guide_region: GuideRegion = "default"
    """Check the guide with its λ replaced, as train's --guide-region: default, always, narrow or none-region."""
    episodes: int = 5
    """Episodes per policy; episode k resets with seed SEED + k."""
    seed: Optional[int] = None
    """Seed of the first episode (default: 10000, the seeds guidedrl envs measured each guide alone from, so --episodes 20 gives its numbers)."""
    json: bool = False
    """Print the result as JSON instead of a table."""


@dataclasses.dataclass(frozen=True)
class BenchArgs:
    """Run a benchmark suite on Ray Tune (one CPU per trial) and write results.csv, summary.csv, report.md and figures."""

    suite: str = "quick"
    """Suite: paper, quick, ablation-target, sensitivity-pag, sensitivity-pig, offline (AWAC and SAC from Minari datasets the suite builds first, then online), or confidence (learned confidence, mis-specified regions, JSRL) (docs/BENCH.md)."""
    seeds: Optional[int] = None
    """Seeds per configuration, 0..K-1 (default: 5; quick: 2)."""
    steps: Optional[int] = None
    """Environment steps per run (default: the suite's budget, e.g. 100k, Pendulum 20k; offline suite: the online budget)."""
    offline_steps: Optional[int] = None
    """Offline suite only: gradient steps of the offline phase (default 25k, evaluated every 2.5k)."""
    tasks: Tuple[str, ...] = ()
    """Only these tasks of the suite."""
    strategies: Tuple[str, ...] = ()
    """Only these strategies: guidance names (none, rg, sag, pig, pag, residual, jsrl) or a suite's labels (offline: awac, awac+sag, awac+pag, sac-preloaded, sac-offline, sac; confidence: e.g. pag[region=always,confidence=q-gap], jsrl[mode=random])."""
    backbones: Tuple[str, ...] = ()
    """Only these backbones (sac, td3, awac)."""
    out: Optional[str] = None
    """Output directory (default: bench/<suite>); re-running into it skips finished trials."""
    address: Optional[str] = None
    """Join this Ray cluster (e.g. auto or host:6379) instead of starting a local Ray; OUT must be shared storage."""
    cpus: Optional[int] = None
    """Trials at once on a local Ray: one CPU each (default: all the machine's CPUs)."""
    reuse: Tuple[str, ...] = ()
    """Other suites' output directories (e.g. docs/results/paper) whose finished runs with exactly the same config are carried over instead of trained again."""
    report: Optional[str] = None
    """Only rebuild summary.csv, report.md and figures of this directory from its results.csv (in a bench output directory, first collect every finished run into results.csv, e.g. while the grid still runs)."""
    progress: bool = True
    """Show a progress bar."""


@dataclasses.dataclass(frozen=True)
class DatasetCollectArgs:
    """Roll out a policy on an env and write its episodes as a Minari dataset in the local store (MINARI_DATASETS_PATH, else ~/.minari/datasets)."""

    env: str
    """Gymnasium environment id: a built-in task (guidedrl envs) or any registered id with a Box action space."""
    policy: str
    """Who acts: guide (the env's default guide, or the one --guide names: its action everywhere), random (uniform), a RUN_DIR or checkpoint path (its deterministic deployed policy), or module:attr (a callable obs -> action in the env's units, or a factory of one; importing runs its code)."""
    episodes: int
    """Number of episodes to collect."""
    id: str
    """Dataset id, NAMESPACE/NAME-vN (e.g. guidedrl/pendulum-lqr-v0); refused if the store already holds it."""
    noise: float = 0.0
    """Standard deviation of Gaussian noise added to each action in the normalised [-1, 1] space, then clipped."""
    epsilon: float = 0.0
    """Probability of replacing an action by a uniform random one."""
    seed: int = 0
    """Seed: episode k resets with a seed derived from (seed, k), noise draws from a generator seeded by it; same seed, same dataset."""
    guide: str = "default"
    """With --policy guide: which guide (default: the built-in task's own; a built-in NAME, module:attr, a checkpoint PATH or a policy file)."""
    max_episode_steps: Optional[int] = None
    """Truncate episodes after this many steps (default: the env's own time limit)."""
    author: Optional[str] = None
    """Author recorded in the dataset's metadata (Minari's author field)."""
    author_email: Optional[str] = None
    """Contact recorded in the dataset's metadata (Minari's author_email field)."""
    code_permalink: Optional[str] = None
    """Link to the code that made the dataset (Minari's code_permalink field)."""
    trust_code: bool = False
    """With a RUN_DIR policy: import the code its files name (a module:attr guide, a module:EnvName env); only for runs you trust."""
    progress: bool = True
    """Show a progress bar over episodes."""


@dataclasses.dataclass(frozen=True)
class DatasetFromRunArgs:
    """Export a training run's replay buffer (its checkpoint) as a Minari dataset in the local store, in time order, split into episodes."""

    run_dir: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
    """Run directory (or training checkpoint directory) whose replay buffer to export."""
    id: str
    """Dataset id, NAMESPACE/NAME-vN; refused if the store already holds it."""
    author: Optional[str] = None
    """Author recorded in the dataset's metadata (Minari's author field)."""
    author_email: Optional[str] = None
    """Contact recorded in the dataset's metadata (Minari's author_email field)."""
    code_permalink: Optional[str] = None
    """Link to the code that made the dataset (Minari's code_permalink field)."""
    trust_code: bool = False
    """Make the env the run names even when that imports a module (module:EnvName); only for runs you trust."""


@dataclasses.dataclass(frozen=True)
class DatasetListArgs:
    """List the Minari datasets in the local store: id, episodes, steps."""

    json: bool = False
    """Print the list as JSON."""


@dataclasses.dataclass(frozen=True)
class DatasetInfoArgs:
    """Describe a Minari dataset: episodes, steps, mean return, spaces and provenance (the command that made it)."""

    dataset: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="DATASET")]
    """Dataset id in the local store, or the path of a dataset directory."""
    json: bool = False
    """Print the description as JSON."""


DatasetArgs = Union[
    Annotated[DatasetCollectArgs, tyro.conf.subcommand("collect")],
    Annotated[DatasetFromRunArgs, tyro.conf.subcommand("from-run")],
    Annotated[DatasetListArgs, tyro.conf.subcommand("list")],
    Annotated[DatasetInfoArgs, tyro.conf.subcommand("info")],
]
"""``guidedrl dataset collect|from-run|list|info``."""
