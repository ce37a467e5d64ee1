"""The benchmark's suites: which (task, strategy, backbone, seed) runs each one trains, and with
which settings (docs/BENCHMARK.md, "Protocol").

A :class:`Trial` is one run. Its ``strategy`` is the label results and reports group by: the
guidance's name, plus the settings that make it a variant in the ablation and sensitivity
suites (e.g. ``pag[phi=0.5,delta=0.9]``, ``sag[target=actor]``). Everything a trial trains with
is in :meth:`Trial.config`, so a trial can be re-created from its dict on any Ray worker.

Shared settings (``BENCH``): 64-64 networks and minibatches of 128 — what lets the whole grid
run on two cores (docs/PERFORMANCE.md) — one gradient step per environment step, evaluation
every 2,000 steps with 5 deterministic episodes (every 10% of the budget below 20,000 steps),
and schedules (PAG's β_t on repulsive tasks, PIG's β_t) that change every 10% of the budget,
the paper's 50 changes over 2M steps scaled to the budget.

The ``offline`` suite (docs/BENCHMARK.md, "Offline to online") trains each method with a Minari
dataset (:mod:`guidedrl.experiments.datasets` builds them): its trials carry the dataset id and
the offline phase in ``overrides``, its ``strategy`` labels name the method (``awac``,
``awac+sag``, ``awac+pag``, ``sac-preloaded``, ``sac-offline``, ``sac``) and its ``steps`` is the
online budget.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from guidedrl.config import ALGOS, GUIDANCES, Config
from guidedrl.errors import ConfigError

PAPER_TASKS = ("SafeCartpole-v0", "PointMass-v0", "BallInCup-v0", "PointCircle-v0", "PointReach-v0",
               "Pendulum-v1")
REPULSIVE = ("SafeCartpole-v0", "PointCircle-v0", "PointReach-v0")
"""Tasks whose guide is a reflex: PAG grows its perturbation with a schedule there (the paper's)."""
TD3_TASKS = ("PointMass-v0", "SafeCartpole-v0")
"""One attractive and one repulsive task for the backbone check."""
PAPER_GUIDANCES = ("none", "rg", "sag", "pig", "pag", "residual")
"""The paper suite's strategies (the RLLG paper's and residual RL)."""
CONFIDENCE_TASKS = ("PointMass-v0", "BallInCup-v0", "SafeCartpole-v0", "PointReach-v0")
"""Two attractive and two repulsive tasks for the confidence suite (docs/BENCHMARK.md, "Confidence")."""
STEPS = {"Pendulum-v1": 20_000}
"""Per-task budget of the paper suite where it differs from the default (100k)."""
DEFAULT_STEPS = 100_000

OFFLINE_TASKS = ("PointMass-v0", "BallInCup-v0", "SafeCartpole-v0", "Pendulum-v1", "HalfCheetah-v5")
"""Tasks of the offline suite, each with its dataset (``experiments.datasets.RECIPES``)."""
OFFLINE_STEPS = 25_000
"""Offline gradient steps of the offline suite's methods that have an offline phase."""
OFFLINE_EVAL_EVERY = 2_500
"""Offline gradient steps between evaluations (every 10% of a smaller offline budget)."""


@dataclasses.dataclass(frozen=True)
class Method:
    """One method of the offline suite: a backbone, a guidance, and how it uses the dataset."""

    backbone: str
    guidance: str
    dataset: bool
    """The dataset is loaded (kept beside the replay buffer, never evicted)."""
    offline: bool
    """Gradient steps on the dataset alone before the first environment step."""
    description: str


OFFLINE_METHODS: Dict[str, Method] = {
    "awac": Method("awac", "none", True, True, "AWAC: offline steps on the dataset, then online"),
    "awac+sag": Method("awac", "sag", True, True, "AWAC, then online with SAG and the task's default guide"),
    "awac+pag": Method("awac", "pag", True, True, "AWAC, then online with PAG and the task's default guide"),
    "sac-preloaded": Method("sac", "none", True, False, "SAC with the dataset in its buffer, no offline steps"),
    "sac-offline": Method("sac", "none", True, True, "SAC with the offline steps, then online (naive fine-tuning)"),
    "sac": Method("sac", "none", False, False, "SAC from scratch (the baseline)"),
}
"""Strategy label -> method (the labels results.csv and the report group by)."""
OFFLINE_BASELINE = "sac"
"""The offline suite's baseline: SAC from scratch (P(improvement) of online AUC over it)."""
OFFLINE_DIP_BASELINE = "sac-offline"
"""Whose dip the others' is compared with: SAC fine-tuned naively after the same offline steps."""

BENCH = dict(hidden_sizes=(64, 64), batch_size=128, eval_episodes=5, checkpoint_every=10_000,
             progress=False)
"""Settings every benchmark trial shares."""

PAG_PHI = (0.1, 0.5, 1.0, 1.5)
PAG_DELTA = (0.5, 0.7, 0.9)
PIG_BETA0 = (0.5, 1.0, 2.0, 5.0)
PIG_DELTA = (0.5, 0.8, 0.9)


@dataclasses.dataclass(frozen=True)
class Trial:
    """One run of a suite."""

    task: str
    strategy: str
    """Label in results (guidance name, plus the variant's settings)."""
    backbone: str
    seed: int
    steps: int
    guidance: str
    overrides: Tuple[Tuple[str, object], ...] = ()
    """Config fields beyond the shared ones (e.g. phi, delta, critic_target, guide)."""

    @property
    def id(self) -> str:
        """A stable, path-safe name: the run directory and the Ray trial's identity."""
        label = re.sub(r"[^A-Za-z0-9.=_-]+", "_", self.strategy).strip("_")
        return f"{self.task}__{self.backbone}__{label}__s{self.seed}"

    def config(self, out: Optional[str] = None) -> Config:
        """The training config of this trial (written to ``out``)."""
        eval_every = 2_000 if self.steps >= 20_000 else max(self.steps // 10, 1)
        guide = "default" if self.guidance != "none" else None
        fields = {**BENCH, "env": self.task, "algo": self.backbone, "guidance": self.guidance,
                  "guide": guide, "seed": self.seed, "steps": self.steps, "eval_every": eval_every,
                  "learning_starts": min(1_000, self.steps // 5),
                  "period": max(self.steps // 10, 1), "out": out}
        fields.update(dict(self.overrides))
        fields["hidden_sizes"] = tuple(fields["hidden_sizes"])
        return Config(**fields)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["overrides"] = [list(item) for item in self.overrides]
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "Trial":
        data = dict(data)
        data.pop("group_seeds", None)  # the grid's marker of seeds trained with this one (runner.py)
        data["overrides"] = tuple((str(k), v) for k, v in data.get("overrides", ()))
        return cls(**data)


def _trial(task, guidance, backbone, seed, steps, label=None, **overrides) -> Trial:
    if guidance == "pag" and task in REPULSIVE:
        overrides.setdefault("pag_schedule", True)
    return Trial(task, label or guidance, backbone, seed, steps, guidance, tuple(sorted(overrides.items())))


def _variant(guidance: str, **settings) -> str:
    return f"{guidance}[{','.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in settings.items())}]"


_LABEL = re.compile(r"(?P<base>[^\[\]]+)\[(?P<settings>[^\[\]]*)\]")


def parse_label(strategy: str) -> Tuple[str, Dict[str, str]]:
    """The inverse of :func:`_variant`: ``"pag[phi=0.5,delta=0.9]"`` -> ``("pag", {"phi": "0.5",
    "delta": "0.9"})``; a plain strategy name has no settings."""
    match = _LABEL.fullmatch(strategy)
    if match is None:
        return strategy, {}
    settings = {}
    for item in match["settings"].split(","):
        key, sep, value = item.partition("=")
        if not sep or not key:
            return strategy, {}
        settings[key] = value
    return match["base"], settings


# -- the suites ------------------------------------------------------------------------------


def paper(seeds, steps) -> List[Trial]:
    """SAC with none, rg, sag, pig, pag, residual on the six tasks; TD3 with none, sag, pag on
    PointMass and SafeCartpole."""
    trials = []
    for task in PAPER_TASKS:
        budget = steps or STEPS.get(task, DEFAULT_STEPS)
        for guidance in PAPER_GUIDANCES:
            trials += [_trial(task, guidance, "sac", s, budget) for s in seeds]
    for task in TD3_TASKS:
        budget = steps or STEPS.get(task, DEFAULT_STEPS)
        for guidance in ("none", "sag", "pag"):
            trials += [_trial(task, guidance, "td3", s, budget) for s in seeds]
    return trials


def quick(seeds, steps) -> List[Trial]:
    """A first look (and CI): SAC alone and PAG with the LQR guide on Pendulum, a small budget."""
    budget = steps or 2_000
    return [_trial("Pendulum-v1", guidance, "sac", s, budget, hidden_sizes=(32, 32), batch_size=64,
                   learning_starts=min(500, budget // 4))
            for guidance in ("none", "pag") for s in seeds]


def ablation_target(seeds, steps) -> List[Trial]:
    """SAG and PAG with the critic target under the switched policy (the paper's) and under
    the actor alone, on one repulsive and one attractive task."""
    trials = []
    for task in TD3_TASKS:
        budget = steps or 50_000
        for guidance in ("sag", "pag"):
            for target in ("switched", "actor"):
                trials += [_trial(task, guidance, "sac", s, budget, label=_variant(guidance, target=target),
                                  critic_target=target) for s in seeds]
    return trials


def sensitivity_pag(seeds, steps) -> List[Trial]:
    """PAG's Φ × δ grid (the paper's ranges) on SafeCartpole, with the β_t schedule."""
    budget = steps or 50_000
    return [_trial("SafeCartpole-v0", "pag", "sac", s, budget, label=_variant("pag", phi=phi, delta=delta),
                   phi=phi, delta=delta)
            for phi in PAG_PHI for delta in PAG_DELTA for s in seeds]


def sensitivity_pig(seeds, steps) -> List[Trial]:
    """PIG's β0 × δ grid (the paper's ranges) on PointMass."""
    budget = steps or 50_000
    return [_trial("PointMass-v0", "pig", "sac", s, budget, label=_variant("pig", beta0=beta0, delta=delta),
                   beta0=beta0, delta=delta)
            for beta0 in PIG_BETA0 for delta in PIG_DELTA for s in seeds]


def offline(seeds, steps, offline_steps=None) -> List[Trial]:
    """Per task of ``OFFLINE_TASKS``, each method of ``OFFLINE_METHODS`` (AWAC + SAG/PAG only
    where the task has a default guide): ``offline_steps`` (default 25k) gradient steps on the
    task's dataset evaluated every 2.5k, then ``steps`` online (default 100k, Pendulum 20k)."""
    from guidedrl.envs import TASKS
    from guidedrl.experiments.datasets import RECIPES

    offline_budget = OFFLINE_STEPS if offline_steps is None else offline_steps
    offline_eval_every = OFFLINE_EVAL_EVERY if offline_budget >= OFFLINE_STEPS else max(offline_budget // 10, 1)
    trials = []
    for task in OFFLINE_TASKS:
        budget = steps or STEPS.get(task, DEFAULT_STEPS)
        for label, method in OFFLINE_METHODS.items():
            if method.guidance != "none" and task not in TASKS:  # no default guide (HalfCheetah-v5)
                continue
            overrides = {}
            if method.dataset:  # the data are there from the first step: no uniform warm-up
                overrides.update(dataset=RECIPES[task].dataset_id, learning_starts=0)
            if method.offline:
                overrides.update(offline_steps=offline_budget, offline_eval_every=offline_eval_every)
            trials += [_trial(task, method.guidance, method.backbone, s, budget, label=label, **overrides)
                       for s in seeds]
    return trials


def confidence(seeds, steps) -> List[Trial]:
    """When λ(s) is not known well (docs/BENCHMARK.md, "Confidence"): on two attractive and two
    repulsive tasks, SAG and PAG with the guide's own region and with it trusted everywhere
    (``guide_region="always"``), each with the given λ and with the learned q-gap and risk
    confidences; JSRL
    with its curriculum and with random horizons (the guide's own region); SAC alone. The paper
    suite's budgets and protocol. ``sag``, ``pag`` and ``none`` are the paper suite's own trials
    (same ids, same configs): ``guidedrl bench --reuse`` carries their finished runs over."""
    trials = []
    for task in CONFIDENCE_TASKS:
        budget = steps or STEPS.get(task, DEFAULT_STEPS)
        trials += [_trial(task, "none", "sac", s, budget) for s in seeds]
        for guidance in ("sag", "pag"):
            for region in ("default", "always"):
                for rule in ("given", "q-gap", "risk"):
                    settings = {**({"region": region} if region != "default" else {}),
                                **({"confidence": rule} if rule != "given" else {})}
                    overrides = {**({"guide_region": region} if region != "default" else {}),
                                 **({"confidence": rule} if rule != "given" else {})}
                    label = _variant(guidance, **settings) if settings else guidance
                    trials += [_trial(task, guidance, "sac", s, budget, label=label, **overrides) for s in seeds]
        trials += [_trial(task, "jsrl", "sac", s, budget) for s in seeds]
        trials += [_trial(task, "jsrl", "sac", s, budget, label=_variant("jsrl", mode="random"), jsrl_mode="random")
                   for s in seeds]
    return trials


SUITES: Dict[str, Tuple[Callable[..., List[Trial]], int]] = {
    "paper": (paper, 5),
    "quick": (quick, 2),
    "ablation-target": (ablation_target, 5),
    "sensitivity-pag": (sensitivity_pag, 5),
    "sensitivity-pig": (sensitivity_pig, 5),
    "offline": (offline, 5),
    "confidence": (confidence, 5),
}
"""Suite name -> (builder, default number of seeds)."""
WITH_OFFLINE_PHASE = ("offline",)
"""Suites whose builder takes an offline budget (``--offline-steps``)."""


def _check(kind: str, given: Iterable[str], valid: Sequence[str]) -> None:
    unknown = [name for name in given if name not in valid]
    if unknown:
        raise ConfigError(f"unknown {kind} {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}")


def build_suite(name: str, seeds: Optional[int] = None, steps: Optional[int] = None,
                tasks: Sequence[str] = (), strategies: Sequence[str] = (),
                backbones: Sequence[str] = (), offline_steps: Optional[int] = None) -> List[Trial]:
    """The trials of suite ``name``: seeds 0..K-1, every task's default budget unless ``steps``
    (the online budget, for the offline suite; ``offline_steps`` its offline one), kept to the
    given tasks / strategies / backbones when those are given. A strategy is a guidance name
    (every trial with that guidance) or a suite's own label (``awac+pag``, ``sac-offline``,
    ``pag[phi=0.5,delta=0.9]``). Unknown names raise :class:`ConfigError` listing the valid ones."""
    _check("suite", [name], list(SUITES))
    _check("backbone", backbones, ALGOS)
    builder, default_seeds = SUITES[name]
    seeds = default_seeds if seeds is None else seeds
    if not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be a positive integer, got {seeds!r}")
    if steps is not None and (not isinstance(steps, int) or steps < 10):
        raise ConfigError(f"steps must be an integer of at least 10, got {steps!r}")
    if offline_steps is not None:
        if name not in WITH_OFFLINE_PHASE:
            raise ConfigError(f"offline_steps applies to the {', '.join(WITH_OFFLINE_PHASE)} suite, "
                              f"not to {name!r}")
        if not isinstance(offline_steps, int) or isinstance(offline_steps, bool) or offline_steps < 1:
            raise ConfigError(f"offline_steps must be a positive integer, got {offline_steps!r}")
        trials = builder(list(range(seeds)), steps, offline_steps)
    else:
        trials = builder(list(range(seeds)), steps)
    labels = [label for label in dict.fromkeys(t.strategy for t in trials) if label not in GUIDANCES]
    _check("strategy", strategies, list(GUIDANCES) + labels)
    _check("task", tasks, sorted({t.task for t in trials}))
    if strategies:
        in_suite = sorted({t.guidance for t in trials} | {t.strategy for t in trials})
        missing = [s for s in strategies if s not in in_suite]
        if missing:
            raise ConfigError(f"suite {name!r} has no strategy {', '.join(map(repr, missing))}; "
                              f"it has: {', '.join(in_suite)}")
    trials = [t for t in trials if (not tasks or t.task in tasks)
              and (not strategies or t.guidance in strategies or t.strategy in strategies)
              and (not backbones or t.backbone in backbones)]
    if not trials:
        raise ConfigError(f"suite {name!r} has no trial with tasks={list(tasks)}, "
                          f"strategies={list(strategies)}, backbones={list(backbones)}")
    return trials
