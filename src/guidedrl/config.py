"""The one typed configuration of a training run.

Every field's docstring is its ``--help`` line (tyro reads them), and the same
names in snake_case are the keyword arguments of :func:`guidedrl.train`.
Derived values are properties; nothing is written back.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Literal, Optional, Tuple

from guidedrl.errors import ConfigError

Algo = Literal["sac", "td3", "awac"]
Guidance = Literal["none", "rg", "sag", "pig", "pag", "residual", "jsrl"]
Confidence = Literal["given", "q-gap", "q-gap-soft", "risk"]
JSRLMode = Literal["curriculum", "random"]
CriticTarget = Literal["switched", "actor"]
RiskBootstrap = Literal["actor", "switched"]
AWACWeights = Literal["softmax", "exp-clip"]
GuideRegion = Literal["default", "always", "narrow", "none-region"]

ALGOS: Tuple[str, ...] = ("sac", "td3", "awac")
LOOP_FIELDS: Tuple[str, ...] = (
    "env", "guide", "steps", "seed", "seeds", "out", "resume", "batch_size", "buffer_size",
    "learning_starts", "updates_per_step", "train_every", "eval_every", "eval_episodes",
    "checkpoint_every", "progress", "trust_code", "debug", "dataset", "offline_steps", "offline_ratio",
    "offline_eval_every", "offline_chunk", "guide_region", "jsrl_mode", "jsrl_stages", "jsrl_window",
    "jsrl_tolerance", "jsrl_guide_episodes",
)
"""Fields only the host loop reads; the jitted agent functions never see them."""
GUIDANCES: Tuple[str, ...] = ("none", "rg", "sag", "pig", "pag", "residual", "jsrl")
GUIDE_REGIONS: Tuple[str, ...] = ("default", "always", "narrow", "none-region")
"""``--guide-region``: where the guide is trusted, its own λ or a mis-specified one (guidedrl.guides.regions)."""
CONFIDENCES: Tuple[str, ...] = ("given", "q-gap", "q-gap-soft", "risk")
SWITCHING: Tuple[str, ...] = ("sag", "pag")
"""The strategies that switch between the guide's action and the actor's: a learned confidence narrows that switch."""


DEFAULT_GUIDE = "default"
"""``--guide default``: the built-in task's own guide (``guidedrl.envs.default_guide``)."""


@functools.lru_cache(maxsize=1)
def _defaults() -> "Config":
    return Config()


@dataclasses.dataclass(frozen=True)
class Config:
    """Train an off-policy actor-critic agent, optionally with a local guide."""

    env: str = "SafeCartpole-v0"
    """Gymnasium environment id: a built-in task (guidedrl envs) or any registered id with a Box action space; or a JAX env, gymnax/<task> or jax/<task>, trained on the jitted path (docs/ENVS.md)."""
    algo: Algo = "sac"
    """Backbone: sac, td3 or awac (offline pre-training then online fine-tuning; docs/OFFLINE.md)."""
    guidance: Guidance = "pag"
    """How the guide is used: none, rg (reward), sag (strict action), pig (policy improvement), pag (perturbed action), residual, jsrl (jump-start: the guide for the first h steps of each episode)."""
    guide: Optional[str] = DEFAULT_GUIDE
    """Guide: default (the built-in task's own), a built-in NAME (e.g. lqr), module:attr naming a factory returning a Guide, a checkpoint PATH or a policy file (.msgpack). Unused with guidance none."""
    guide_region: GuideRegion = "default"
    """Replace the guide's λ(s) to test a mis-specified region: default (its own), always (λ = 1 everywhere), narrow (its region halved, docs/GUIDES.md), none-region (λ = 0: the guide never acts)."""
    steps: int = 10_000
    """Environment steps to train for (the default run, PAG on SafeCartpole-v0, takes about two minutes on two cores); 0 with --offline-steps trains offline only."""
    seed: int = 0
    """Seed for the environment, network initialisation and sampling."""
    seeds: int = 1
    """Seeds trained in one process: seed, seed+1 and so on, each into OUT/seed<k>, each with the
    numbers of its one-seed run (JAX envs only: gymnax/<task>, jax/<task>)."""
    out: Optional[str] = None
    """Run directory (default: runs/<env>-<algo>-<guidance>-s<seed>-<time>)."""
    resume: Optional[str] = None
    """Continue the interrupted run in this directory from its last checkpoint."""

    # network and optimisation
    hidden_sizes: Tuple[int, ...] = (256, 256)
    """Hidden layer sizes of actor and critics."""
    batch_size: Optional[int] = None
    """Minibatch size of each gradient step (default: 256; awac: 1024, its reference batch)."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in online transitions (a --dataset is kept apart and never evicted)."""
    learning_starts: Optional[int] = None
    """Environment steps of uniform-random warm-up before learning starts (default: 1000; 0 for awac or with a --dataset, whose data the first updates learn from)."""
    updates_per_step: int = 1
    """Gradient steps per environment step."""
    train_every: int = 1
    """Environment steps between update calls; each call runs train_every*updates_per_step gradient steps in one lax.scan."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak coefficient of the target networks."""
    critic_layer_norm: bool = False
    """A LayerNorm before each hidden ReLU of the critics (keeps offline Q-values from diverging off the data's actions; docs/results/awac_collapse.md)."""

    # SAC
    learn_temperature: bool = True
    """SAC: tune the temperature alpha towards the target entropy."""
    init_temperature: float = 1.0
    """SAC: initial (or fixed) temperature alpha."""
    temperature_lr: float = 3e-4
    """SAC: Adam learning rate of log(alpha)."""
    target_entropy: Optional[float] = None
    """SAC: target entropy (default: -action_dim)."""

    # TD3
    policy_noise: float = 0.2
    """TD3: std of the target policy smoothing noise."""
    noise_clip: float = 0.5
    """TD3: clip of the target policy smoothing noise."""
    policy_delay: int = 2
    """TD3: critic updates per actor and target update."""
    exploration_noise: float = 0.1
    """TD3: std of the Gaussian exploration noise."""

    # AWAC (docs/ALGORITHMS.md, "AWAC")
    awac_lambda: float = 1.0
    """AWAC: temperature λ of the advantage weights exp(A/λ): small λ follows the critic greedily, large λ imitates the data (behaviour cloning as λ grows)."""
    awac_weights: AWACWeights = "softmax"
    """AWAC: weights w = N·softmax_batch(A/λ) (rlkit, d3rlpy, jaxrl) or exp-clip, min(exp(A/λ), awac_max_weight) (CORL)."""
    awac_max_weight: float = 100.0
    """AWAC: clip of the exp-clip weights."""
    awac_advantage_samples: int = 1
    """AWAC: actions sampled from π(·|s) to estimate V(s) in the advantage A = Q(s,a) - V(s)."""
    awac_actor_weight_decay: float = 1e-4
    """AWAC: L2 weight decay of the actor's Adam (coupled, as torch's Adam in rlkit and d3rlpy)."""
    awac_log_std_min: float = -6.0
    """AWAC: lower bound of the policy's state-independent log-std."""
    awac_log_std_max: float = 0.0
    """AWAC: upper bound of the policy's state-independent log-std."""
    awac_actor_output_scale: Optional[float] = None
    """AWAC: draw the policy's output layer (kernel and bias) from U(±scale), as rlkit does with 1e-3; default: Flax's (lecun normal kernel, zero bias)."""

    # offline data (docs/OFFLINE.md)
    dataset: Optional[str] = None
    """Minari dataset (an id in the local store, MINARI_DATASETS_PATH, or a path) kept beside the replay buffer and never evicted; guidedrl dataset list shows the local ones."""
    offline_steps: int = 0
    """Gradient steps on the dataset alone before any environment step (the offline phase)."""
    offline_ratio: Optional[float] = None
    """Fraction of each minibatch drawn from the dataset once online data exist (e.g. 0.5 as in RLPD); default: uniform over dataset and online data together."""
    offline_eval_every: Optional[int] = None
    """Offline gradient steps between evaluations in the offline phase (default: eval_every)."""
    offline_chunk: int = 1_000
    """Offline gradient steps fused in one jitted lax.scan call."""

    # guidance strategies (docs/ALGORITHMS.md, "Strategies")
    critic_target: CriticTarget = "switched"
    """SAG/PAG: critic target under the switched policy (the paper's) or under the actor alone."""
    phi: float = 0.5
    """PAG: bound Φ of the perturbation (normalised action units); residual: bound of the correction."""
    pag_schedule: bool = False
    """PAG: grow β_t = 1 - delta^floor(t/period) from 0 (the paper's repulsive tasks); off: β_t = 1."""
    delta: float = 0.9
    """PAG/PIG: decay of the step schedule (see pag_schedule, beta0)."""
    beta0: float = 1.0
    """PIG: initial weight of the guide term, β_t = beta0 * delta^floor(t/period)."""
    period: int = 50_000
    """PAG/PIG: environment steps between schedule changes."""
    rg_coef: float = 1.0
    """RG: c in the shaped reward r - c·λ(s)·‖a - a_g(s)‖²."""

    # when λ(s) is not known well (docs/ALGORITHMS.md, "Learned confidence" and "JSRL"; docs/GUIDES.md)
    confidence: Confidence = "given"
    """SAG/PAG: where the guide acts: given (the guide's λ(s)), q-gap (λ(s) only where the critic rates the guide's action at least as high as the actor's, less a margin), q-gap-soft (λ(s)·σ(β(ΔQ + margin))), risk (as q-gap, but the guide also stays wherever a risk critic learned from info["catastrophe"] rates the actor's action risky: for a safety reflex, or when you do not know what your guide does)."""
    confidence_margin: float = 0.0
    """q-gap: margin m in Q(s, a_guide) >= Q(s, π(s)) - m (in the critic's units)."""
    confidence_beta: float = 10.0
    """q-gap-soft: slope β of σ(β(ΔQ + m))."""
    risk_gamma: float = 0.95
    """risk: discount γ_risk of the risk critic (its horizon: about 1/(1 - γ_risk) steps before a catastrophe)."""
    risk_threshold: float = 0.1
    """risk: the actor's action is risky (the guide keeps the state) where the risk critic's bound exceeds this."""
    risk_catastrophe_weight: float = 30.0
    """risk: weight of a catastrophe's step in the risk critic's loss (1: as any step; larger learns the few catastrophes faster)."""
    risk_bootstrap: RiskBootstrap = "actor"
    """risk: whose risk at s' the risk critic's target reads: actor (the actor acting from s' on, Recovery RL's: the cautious one) or switched (the guide where it keeps s' for risk)."""
    risk_conservatism: float = 0.0
    """risk: weight of the term that keeps the actor's own actions riskier than the data's at the same states until the data show them safe (Conservative Safety Critics; 0: off)."""
    risk_spread: float = 0.0
    """risk: scale of each risk head's fixed random function (randomised priors): where no data pinned the heads down they disagree and their bound stays high (0: off)."""
    risk_prior: float = 0.5
    """risk: the risk critic's initial risk everywhere (above risk_threshold: the guide keeps its region until the critic learns where the actor is safe)."""
    jsrl_mode: JSRLMode = "curriculum"
    """JSRL: curriculum (the horizon h steps down a stage when evaluations reach the best so far) or random (h drawn per episode from the stages)."""
    jsrl_stages: int = 10
    """JSRL: n, the stages of h from H1 (the guide's mean episode length) down to 0."""
    jsrl_window: int = 3
    """JSRL: evaluations in the moving average that decides a stage change."""
    jsrl_tolerance: float = 0.05
    """JSRL: a stage ends when the moving average is within this fraction of |best so far| of it."""
    jsrl_guide_episodes: int = 5
    """JSRL: episodes of the guide alone that measure H1 before training."""

    # evaluation, logging, checkpoints
    eval_every: int = 2_000
    """Environment steps between evaluations (one metrics.csv row each)."""
    eval_episodes: int = 5
    """Deterministic episodes per evaluation."""
    checkpoint_every: int = 10_000
    """Environment steps between checkpoints (in the offline phase: gradient steps); a final one is always written."""
    progress: bool = True
    """Show a progress bar."""
    trust_code: bool = False
    """Resume (or load) a run whose files name code to import (a module:attr guide, a module: env id) without naming it again: only for runs you trust, as importing runs code."""
    debug: bool = False
    """Show the full traceback when the guide, the env or the update fails (also: GUIDEDRL_DEBUG=1)."""

    def __post_init__(self) -> None:
        self.validate()

    # -- derived values -----------------------------------------------------------------
    @property
    def gradient_steps_per_call(self) -> int:
        """Gradient steps fused in one jitted update call."""
        return self.train_every * self.updates_per_step

    @functools.cached_property
    def agent(self) -> "Config":
        """This config with every loop-only field at its default: the static argument of the
        jitted agent functions, so runs that differ only in seed, budget, output or schedule
        of evaluations share compiled programs. Made once per config (the loop asks for it at
        every step, and making it validates two configs: 68 µs)."""
        defaults = _defaults()
        return dataclasses.replace(self, **{name: getattr(defaults, name) for name in LOOP_FIELDS})

    def __hash__(self) -> int:
        """The fields' hash, computed once: a jitted call hashes its static config at every step."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)))
            self.__dict__["_hash"] = cached
        return cached

    @property
    def minibatch_size(self) -> int:
        """The batch size in use: the configured one, or the backbone's default (awac 1024, else 256)."""
        if self.batch_size is not None:
            return self.batch_size
        return 1024 if self.algo == "awac" else 256

    @property
    def warmup_steps(self) -> int:
        """Uniform-random warm-up steps: the configured learning_starts, or 0 for awac and with a
        dataset (there is data to learn from at once), else 1000."""
        if self.learning_starts is not None:
            return self.learning_starts
        return 0 if self.algo == "awac" or self.dataset is not None else 1_000

    @property
    def offline_evaluation_interval(self) -> int:
        """Offline gradient steps between evaluations."""
        return self.offline_eval_every if self.offline_eval_every is not None else self.eval_every

    def resolved_target_entropy(self, action_dim: int) -> float:
        """SAC's target entropy: the configured one or -|A|."""
        return float(-action_dim) if self.target_entropy is None else float(self.target_entropy)

    # -- checks -------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad value."""
        if self.algo not in ALGOS:
            raise ConfigError(f"unknown algo {self.algo!r}; expected one of {', '.join(ALGOS)}")
        if self.seeds < 1:
            raise ConfigError(f"seeds must be at least 1, got {self.seeds!r}")
        if self.guidance not in GUIDANCES:
            raise ConfigError(
                f"unknown guidance {self.guidance!r}; expected one of {', '.join(GUIDANCES)}"
            )
        if self.confidence not in CONFIDENCES:
            raise ConfigError(f"unknown confidence {self.confidence!r}; expected one of {', '.join(CONFIDENCES)}")
        if self.confidence != "given" and self.guidance not in SWITCHING:
            raise ConfigError(
                f"confidence {self.confidence!r} narrows where the guide's action is executed instead of the "
                f"actor's; guidance {self.guidance!r} has no such switch: use sag or pag (or confidence given)")
        if not 0.0 <= self.risk_gamma < 1.0:
            raise ConfigError(f"risk_gamma must be in [0, 1), got {self.risk_gamma!r}")
        if not 0.0 < self.risk_threshold < 1.0:
            raise ConfigError(f"risk_threshold must be in (0, 1), got {self.risk_threshold!r}")
        if not self.risk_catastrophe_weight >= 1.0:
            raise ConfigError(f"risk_catastrophe_weight must be >= 1, got {self.risk_catastrophe_weight!r}")
        if self.risk_bootstrap not in ("actor", "switched"):
            raise ConfigError(f"risk_bootstrap must be actor or switched, got {self.risk_bootstrap!r}")
        if not self.risk_conservatism >= 0.0:
            raise ConfigError(f"risk_conservatism must be >= 0, got {self.risk_conservatism!r}")
        if not self.risk_spread >= 0.0:
            raise ConfigError(f"risk_spread must be >= 0, got {self.risk_spread!r}")
        if not 0.0 < self.risk_prior < 1.0:
            raise ConfigError(f"risk_prior must be in (0, 1), got {self.risk_prior!r}")
        if not self.confidence_beta > 0:
            raise ConfigError(f"confidence_beta must be > 0, got {self.confidence_beta!r}")
        if not math.isfinite(self.confidence_margin):
            raise ConfigError(f"confidence_margin must be finite, got {self.confidence_margin!r}")
        if self.jsrl_mode not in ("curriculum", "random"):
            raise ConfigError(f"jsrl_mode must be curriculum or random, got {self.jsrl_mode!r}")
        if not 0.0 <= self.jsrl_tolerance < 1.0:
            raise ConfigError(f"jsrl_tolerance must be in [0, 1), got {self.jsrl_tolerance!r}")
        if self.guide_region not in GUIDE_REGIONS:
            raise ConfigError(
                f"unknown guide_region {self.guide_region!r}; expected one of {', '.join(GUIDE_REGIONS)}"
            )
        positive = {
            "jsrl_stages": self.jsrl_stages,
            "jsrl_window": self.jsrl_window,
            "jsrl_guide_episodes": self.jsrl_guide_episodes,
            "batch_size": self.minibatch_size,
            "offline_eval_every": self.offline_evaluation_interval,
            "offline_chunk": self.offline_chunk,
            "awac_advantage_samples": self.awac_advantage_samples,
            "buffer_size": self.buffer_size,
            "updates_per_step": self.updates_per_step,
            "train_every": self.train_every,
            "eval_every": self.eval_every,
            "eval_episodes": self.eval_episodes,
            "checkpoint_every": self.checkpoint_every,
            "policy_delay": self.policy_delay,
            "period": self.period,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.offline_steps, int) or isinstance(self.offline_steps, bool) or self.offline_steps < 0:
            raise ConfigError(f"offline_steps must be an integer >= 0, got {self.offline_steps!r}")
        if (not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 0
                or (self.steps == 0 and self.offline_steps == 0)):
            zero = " (steps 0 trains offline only: give --dataset and --offline-steps N)" if self.steps == 0 else ""
            raise ConfigError(f"steps must be a positive integer, got {self.steps!r}{zero}")
        if self.offline_steps > 0 and self.dataset is None:
            raise ConfigError(f"offline_steps {self.offline_steps} needs a dataset to learn from: give --dataset ID")
        if self.offline_ratio is not None and not 0.0 <= self.offline_ratio <= 1.0:
            raise ConfigError(f"offline_ratio must be in [0, 1], got {self.offline_ratio!r}")
        if self.offline_ratio is not None and self.dataset is None:
            raise ConfigError("offline_ratio is the dataset's share of each minibatch: give --dataset ID")
        if self.warmup_steps < 0:
            raise ConfigError(f"learning_starts must be >= 0, got {self.learning_starts!r}")
        if self.algo == "awac" and self.guidance == "residual":
            raise ConfigError(
                "guidance residual does not run on awac: AWAC fits log π(a|s) to the executed actions, and "
                "residual RL executes a_g(s) + Φ·a, not the actor's action; use none, rg, sag, pig or pag")
        if not self.awac_lambda > 0:
            raise ConfigError(f"awac_lambda must be > 0, got {self.awac_lambda!r}")
        if not self.awac_max_weight > 0:
            raise ConfigError(f"awac_max_weight must be > 0, got {self.awac_max_weight!r}")
        if self.awac_weights not in ("softmax", "exp-clip"):
            raise ConfigError(f"awac_weights must be softmax or exp-clip, got {self.awac_weights!r}")
        if not self.awac_actor_weight_decay >= 0:
            raise ConfigError(f"awac_actor_weight_decay must be >= 0, got {self.awac_actor_weight_decay!r}")
        if self.awac_actor_output_scale is not None and not self.awac_actor_output_scale > 0:
            raise ConfigError(f"awac_actor_output_scale must be > 0, got {self.awac_actor_output_scale!r}")
        if not self.awac_log_std_min < self.awac_log_std_max:
            raise ConfigError(f"awac_log_std_min ({self.awac_log_std_min}) must be below awac_log_std_max "
                              f"({self.awac_log_std_max})")
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise ConfigError(f"hidden_sizes must be positive integers, got {self.hidden_sizes!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"gamma must be in [0, 1], got {self.gamma!r}")
        if not 0.0 < self.tau <= 1.0:
            raise ConfigError(f"tau must be in (0, 1], got {self.tau!r}")
        if self.critic_target not in ("switched", "actor"):
            raise ConfigError(f"critic_target must be switched or actor, got {self.critic_target!r}")
        if self.phi < 0:
            raise ConfigError(f"phi must be >= 0, got {self.phi!r}")
        if not 0.0 <= self.delta <= 1.0:
            raise ConfigError(f"delta must be in [0, 1], got {self.delta!r}")
        if self.init_temperature <= 0:
            raise ConfigError(f"init_temperature must be > 0, got {self.init_temperature!r}")
        for name in ("policy_noise", "noise_clip", "exploration_noise", "rg_coef", "beta0"):
            if not getattr(self, name) >= 0:  # also refuses NaN
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("actor_lr", "critic_lr", "temperature_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        # constraints between fields
        if self.buffer_size < self.minibatch_size:
            raise ConfigError(
                f"buffer_size ({self.buffer_size}) is smaller than batch_size ({self.minibatch_size}): a "
                "minibatch would repeat the few stored transitions; use buffer_size >= batch_size"
            )

    # -- (de)serialisation --------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        data = dataclasses.asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Config":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(names - {'env'}))}"
            )
        data = dict(data)
        if "hidden_sizes" in data:
            data["hidden_sizes"] = tuple(int(h) for h in data["hidden_sizes"])
        return cls(**data)

    def replace(self, **changes) -> "Config":
        """A copy with ``changes`` applied (checked like any config)."""
        return Config.from_dict({**self.to_dict(), **changes})
