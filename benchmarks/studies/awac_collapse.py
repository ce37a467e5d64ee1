"""Why AWAC collapses offline at 64-64 / batch 128 / λ = 1 on a third-party Pendulum-v1 dataset
(issue 33, phase 1: diagnosis), and which single change removes the collapse.

The dataset is made as a user would make one: a noisy energy-pumping swing-up with a PD (LQR-like)
catch near the top, written here, recorded with Minari's own ``DataCollector`` (100 episodes,
seeds 0-99, torque noise N(0, 1.8²) before the clip; mean return about -200), into
``benchmarks/out/minari`` as ``thirdparty/pendulum-noisy-swingup-v0`` (built if missing).

Each run is the offline phase only (``guidedrl.train(..., steps=0, offline_steps=25_000)``),
evaluated every 5,000 gradient steps on 10 deterministic episodes, seeds 0-2. At every
evaluation the study also measures, with the agent's state at that point, what tells the
hypotheses apart:

- critic (a): on 100 dataset states, min_j Q_j at the data's action and at the policy's mean
  action, against the data's discounted return-to-go and the policy's own discounted return from
  those exact states (the Pendulum dynamics rolled out in numpy, 400 steps);
- weights (b): on 50 batches of the run's batch size, the advantage's spread and the batch
  weights' effective sample size (Σw)²/Σw² / N, their largest value and the largest one's share;
- std and mean (c): the policy's log σ, the fraction of dataset states whose mean |tanh μ| > 0.99,
  the data's log-likelihood.

    python -m benchmarks.studies.awac_collapse                       # every variant, seeds 0-2
    python -m benchmarks.studies.awac_collapse --variants base lambda-10 --seeds 1

Results are written to ``docs/results/awac_collapse.json`` after every run; run again with the
same settings, the runs it holds are kept. One XLA thread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks.common import OUT, ROOT, command, one_xla_thread, write_json
from benchmarks.common import random_return as common_random_return

one_xla_thread()

import numpy as np  # noqa: E402

DATASET = "thirdparty/pendulum-noisy-swingup-v0"
EPISODES = 100
NOISE = 1.8  # torque units (the env's ±2)
STORE = OUT / "minari"
JSON = ROOT / "docs" / "results" / "awac_collapse.json"
BASE = dict(hidden_sizes=(64, 64), batch_size=128, awac_lambda=1.0)
"""The offline suite's AWAC configuration, which collapses."""

VARIANTS = {
    "base": ("the offline suite's: 64-64, batch 128, λ 1, N·softmax weights", {}),
    "lambda-3": ("λ 3", dict(awac_lambda=3.0)),
    "lambda-10": ("λ 10", dict(awac_lambda=10.0)),
    "exp-clip": ("weights min(exp(A/λ), 100) instead of N·softmax_B(A/λ)", dict(awac_weights="exp-clip")),
    "batch-256": ("batch 256", dict(batch_size=256)),
    "batch-1024": ("batch 1024 (AWAC's default)", dict(batch_size=1024)),
    "net-256": ("256-256 networks", dict(hidden_sizes=(256, 256))),
    "critic-layer-norm": ("LayerNorm in the critics' hidden layers", dict(critic_layer_norm=True)),
    "actor-init-1e-3": ("policy output layer U(±1e-3) (rlkit)", dict(awac_actor_output_scale=1e-3)),
    "log-std-min--1": ("log σ in [-1, 0] instead of [-6, 0]", dict(awac_log_std_min=-1.0)),
    "obs-standardised": ("observations standardised with the dataset's mean and std (a wrapper, and the same "
                         "data recorded through it)", {}),
    # phase 2: critic LayerNorm combined with one more change each
    "ln-lambda-3": ("critic LayerNorm, λ 3", dict(critic_layer_norm=True, awac_lambda=3.0)),
    "ln-lambda-10": ("critic LayerNorm, λ 10", dict(critic_layer_norm=True, awac_lambda=10.0)),
    "ln-actor-init-1e-3": ("critic LayerNorm, policy output layer U(±1e-3)",
                           dict(critic_layer_norm=True, awac_actor_output_scale=1e-3)),
    "ln-batch-256": ("critic LayerNorm, batch 256", dict(critic_layer_norm=True, batch_size=256)),
    "ln-exp-clip": ("critic LayerNorm, weights min(exp(A/λ), 100)", dict(critic_layer_norm=True, awac_weights="exp-clip")),
    "ln-lambda-3-50k": ("critic LayerNorm, λ 3, 50k offline steps",
                        dict(critic_layer_norm=True, awac_lambda=3.0, offline_steps=50_000)),
}
STANDARDISED = {"obs-standardised"}
"""Variants trained on :data:`STANDARDISED_DATASET` in :func:`standardised_env`."""
STANDARDISED_DATASET = "thirdparty/pendulum-noisy-swingup-standardised-v0"


# -- the dataset ----------------------------------------------------------------------------------

def swing_up(obs: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A noisy swing-up: pump energy with full torque towards the upright's energy, catch with a
    PD law (12 θ + 2.5 θ') once cos θ > 0.85; N(0, noise²) added to the torque, clipped to ±2."""
    cos, sin, velocity = obs
    angle = np.arctan2(sin, cos)
    energy = velocity**2 / 6.0 + 5.0 * cos  # (m l²/3)/2 θ'² + m g l/2 cos θ with m = l = 1, g = 10
    if cos > 0.85:
        torque = -(12.0 * angle + 2.5 * velocity)
    else:
        torque = 2.0 * np.sign((5.0 - energy) * velocity + 1e-6)
    return np.clip(np.array([torque + noise * rng.normal()], np.float32), -2.0, 2.0)


def build_dataset() -> None:
    """Record :func:`swing_up` with ``minari.DataCollector`` (unless the store has the dataset)."""
    import gymnasium as gym
    import minari

    if DATASET in minari.list_local_datasets():
        return
    env = minari.DataCollector(gym.make("Pendulum-v1"))
    rng = np.random.default_rng(0)
    for episode in range(EPISODES):
        obs, _ = env.reset(seed=episode)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(swing_up(obs, rng, NOISE))
            done = terminated or truncated
    env.create_dataset(dataset_id=DATASET, algorithm_name="noisy energy-pumping swing-up + PD catch",
                       author="guidedrl benchmarks", description=__doc__.splitlines()[0])
    env.close()


def observation_stats() -> tuple:
    """Mean and std of the raw dataset's observations (float64)."""
    import gymnasium as gym

    from guidedrl.offline import load_transitions

    obs = load_transitions(DATASET, gym.make("Pendulum-v1")).obs.astype(np.float64)
    return obs.mean(0), obs.std(0)


def standardised_env(mean: np.ndarray, std: np.ndarray):
    """Pendulum-v1 whose observations are (obs - mean) / std."""
    import gymnasium as gym

    base = gym.make("Pendulum-v1")
    space = gym.spaces.Box(-np.inf, np.inf, base.observation_space.shape, np.float32)
    return gym.wrappers.TransformObservation(base, lambda obs: ((obs - mean) / std).astype(np.float32), space)


def build_standardised_dataset(mean: np.ndarray, std: np.ndarray) -> None:
    """The same episodes as :func:`build_dataset` (same seeds, same noise draws), recorded through
    :func:`standardised_env`: the controller sees the raw observation, the dataset the standardised one."""
    import minari

    if STANDARDISED_DATASET in minari.list_local_datasets():
        return
    env = minari.DataCollector(standardised_env(mean, std))
    rng = np.random.default_rng(0)
    for episode in range(EPISODES):
        obs, _ = env.reset(seed=episode)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(swing_up(obs * std + mean, rng, NOISE))
            done = terminated or truncated
    env.create_dataset(dataset_id=STANDARDISED_DATASET, algorithm_name="noisy energy-pumping swing-up + PD catch",
                       author="guidedrl benchmarks", description="the same, observations standardised")
    env.close()


def random_return(episodes: int = 100) -> float:
    """Mean return of the uniform-random policy (score 0), env seeds 0..episodes-1."""
    import gymnasium as gym

    return common_random_return(gym.make("Pendulum-v1"), episodes)


# -- the measurements -----------------------------------------------------------------------------

class Probe:
    """Fixed dataset states and batches on which each evaluation measures the agent."""

    def __init__(self, data, batch_size: int, gamma: float, seed: int = 0, standardise=None):
        rng = np.random.default_rng(seed)
        self.data = data
        self.standardise = standardise if standardise is not None else (lambda obs: obs)
        self.net_obs = self.standardise(data.obs).astype(np.float32)
        # discounted return-to-go of the data, per episode (episodes end on truncation only)
        returns = np.zeros(len(data.reward), np.float64)
        start_of = np.zeros(len(data.reward), np.int64)
        ends = np.flatnonzero(data.truncated + data.terminated)
        start = 0
        for end in ends:
            running = 0.0
            for i in range(end, start - 1, -1):
                running = data.reward[i] + gamma * running
                returns[i] = running
            start_of[start:end + 1] = np.arange(end + 1 - start)
            start = end + 1
        early = np.flatnonzero(start_of < 100)  # at least 100 steps of the data's return follow
        self.states = rng.choice(early, 100, replace=False)
        self.data_return = returns[self.states]
        self.batches = [rng.choice(len(data.reward), batch_size, replace=False) for _ in range(50)]
        self.gamma = gamma

    def policy_return(self, act, horizon: int = 400) -> np.ndarray:
        """Discounted return of the deterministic policy ``act`` (normalised actions) from the probe
        states, Pendulum-v1's dynamics in numpy (checked against the env in :func:`check_dynamics`)."""
        obs = self.data.obs[self.states].astype(np.float64)
        angle, velocity = np.arctan2(obs[:, 1], obs[:, 0]), obs[:, 2]
        total, discount = np.zeros(len(angle)), 1.0
        for _ in range(horizon):
            observation = self.standardise(np.stack([np.cos(angle), np.sin(angle), velocity], -1)).astype(np.float32)
            angle, velocity, reward = pendulum_step(angle, velocity, 2.0 * np.asarray(act(observation))[:, 0])
            total += discount * reward
            discount *= self.gamma
        return total


def pendulum_step(angle, velocity, torque):
    """One step of Pendulum-v1 (gymnasium 1.x): (angle, velocity, reward)."""
    torque = np.clip(torque, -2.0, 2.0)
    normalised = ((angle + np.pi) % (2 * np.pi)) - np.pi
    reward = -(normalised**2 + 0.1 * velocity**2 + 0.001 * torque**2)
    velocity = np.clip(velocity + (3 * 10.0 / 2 * np.sin(angle) + 3.0 * torque) * 0.05, -8.0, 8.0)
    return angle + velocity * 0.05, velocity, reward


def check_dynamics() -> None:
    """:func:`pendulum_step` against the env on a random episode."""
    import gymnasium as gym

    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=3)
    angle, velocity = env.unwrapped.state
    rng = np.random.default_rng(0)
    for _ in range(200):
        torque = rng.uniform(-2, 2)
        obs, reward, *_ = env.step(np.array([torque], np.float32))
        angle, velocity, mine = pendulum_step(angle, velocity, torque)
        assert abs(mine - reward) < 1e-4 and abs(np.cos(angle) - obs[0]) < 1e-4, (mine, reward)


def measure(config, backbone, probe: Probe, key) -> dict:
    """The critic, weight and policy quantities of ``backbone`` (an AWACState) on the probe."""
    import jax
    import jax.numpy as jnp

    from guidedrl.backbones.awac import actor_net, advantage_weights, gaussian_sample
    from guidedrl.backbones.critic import critic_net
    from guidedrl.networks import gaussian_log_prob

    actor = actor_net(config, 1)
    critic = critic_net(config)

    @jax.jit
    def policy(obs):
        return actor.apply(backbone.actor_params, obs)[0]

    data = probe.data
    obs, action = jnp.asarray(probe.net_obs[probe.states]), jnp.asarray(data.action[probe.states])
    mean, log_std = actor.apply(backbone.actor_params, obs)
    q_data = jnp.min(critic.apply(backbone.critic_params, obs, action), 0)
    q_policy = jnp.min(critic.apply(backbone.critic_params, obs, mean), 0)
    policy_return = probe.policy_return(policy)
    all_mean, all_log_std = actor.apply(backbone.actor_params, jnp.asarray(probe.net_obs))
    log_likelihood = gaussian_log_prob(all_mean, all_log_std, jnp.asarray(data.action))
    pre_tanh = jnp.arctanh(jnp.clip(all_mean, -1 + 1e-7, 1 - 1e-7))

    ess, top, top_share, spread = [], [], [], []
    for i, rows in enumerate(probe.batches):
        b_obs, b_action = jnp.asarray(probe.net_obs[rows]), jnp.asarray(data.action[rows])
        b_mean, b_log_std = actor.apply(backbone.actor_params, b_obs)
        sample = gaussian_sample(b_mean, b_log_std, jax.random.fold_in(key, i))
        adv = (jnp.min(critic.apply(backbone.critic_params, b_obs, b_action), 0)
               - jnp.min(critic.apply(backbone.critic_params, b_obs, sample), 0))
        weights = np.asarray(advantage_weights(adv, config.awac_lambda, config.awac_weights, config.awac_max_weight),
                             np.float64)
        ess.append(weights.sum() ** 2 / np.sum(weights**2) / len(weights))
        top.append(weights.max())
        top_share.append(weights.max() / weights.sum())
        spread.append(float(np.std(np.asarray(adv))) / config.awac_lambda)
    return {
        "q_data": float(jnp.mean(q_data)), "q_policy": float(jnp.mean(q_policy)),
        "return_data": float(np.mean(probe.data_return)), "return_policy": float(np.mean(policy_return)),
        "weights_ess": float(np.mean(ess)), "weights_ess_min": float(np.min(ess)), "weights_max": float(np.mean(top)),
        "weights_top_share": float(np.mean(top_share)), "advantage_std_over_lambda": float(np.mean(spread)),
        "log_std": float(jnp.mean(log_std)), "saturated": float(jnp.mean(jnp.abs(all_mean) > 0.99)),
        "pre_tanh_abs": float(jnp.mean(jnp.abs(pre_tanh))),
        "data_log_likelihood": float(jnp.mean(log_likelihood)),
    }


# -- runs -------------------------------------------------------------------------------------------

UPDATE_METRICS = ("critic_loss", "actor_loss", "q_mean", "advantage", "weight_max", "log_std", "log_prob")


def offline_run(variant: str, seed: int, args, probe_for) -> dict:
    """One offline-only AWAC run of ``variant``, measured at every evaluation."""
    import jax

    import guidedrl

    overrides = {**BASE, **VARIANTS[variant][1]}
    offline_steps = overrides.pop("offline_steps", args.offline_steps)  # a variant may run longer
    standardised = variant in STANDARDISED
    probe = probe_for(overrides["batch_size"], standardised)
    curve, diagnostics = [], []
    key = jax.random.key(1000 + seed)

    def on_evaluation(row, run):
        curve.append([int(row["offline_step"]), float(row["eval_return"])])
        point = {"offline_step": int(row["offline_step"]),
                 **{name: float(row[name]) for name in UPDATE_METRICS if name in row}}
        point.update(measure(run.config.agent, run.state.backbone, probe, key))
        diagnostics.append(point)

    started = time.perf_counter()
    env, dataset = "Pendulum-v1", DATASET
    if standardised:
        env, dataset = standardised_env(*observation_stats()), STANDARDISED_DATASET
    guidedrl.train(env, algo="awac", guidance="none", dataset=dataset, steps=0,
                   offline_steps=offline_steps, offline_eval_every=args.offline_eval_every,
                   eval_episodes=10, checkpoint_every=10**9, seed=seed, progress=False,
                   on_evaluation=on_evaluation, **overrides)
    return {"curve": curve, "diagnostics": diagnostics, "wall_seconds": time.perf_counter() - started}


def score(value: float, random: float, data: float) -> float:
    """0 for the uniform-random policy, 1 for the dataset's mean return."""
    return (value - random) / (data - random)


def table(results: dict, random: float, data: float) -> str:
    lines = ["| variant | change | offline curve, seed 0 | offline end, each seed | score at the end, each seed "
             "| lowest score |", "|---|---|---|---|---|--:|"]
    for variant, (text, _) in VARIANTS.items():
        runs = results.get(variant)
        if not runs:
            continue
        seeds = sorted(runs, key=int)
        ends = [runs[s]["curve"][-1][1] for s in seeds]
        scores = [score(v, random, data) for v in ends]
        first = runs[seeds[0]]["curve"]
        lines.append(f"| {variant} | {text} | {', '.join(f'{v:,.0f}' for _, v in first)} | "
                     f"{', '.join(f'{v:,.0f}' for v in ends)} | {', '.join(f'{v:.2f}' for v in scores)} | "
                     f"{min(scores):.2f} |")
    return "\n".join(lines)


DIAGNOSTICS = (("q_data", "Q(s, a_data)", "{:,.0f}"), ("q_policy", "Q(s, π(s))", "{:,.0f}"),
               ("return_policy", "π's true return", "{:,.0f}"), ("weights_ess", "weights' ESS / N", "{:.2f}"),
               ("weights_top_share", "top weight's share", "{:.2f}"),
               ("advantage_std_over_lambda", "std(A)/λ", "{:.1f}"), ("log_std", "log σ", "{:.2f}"),
               ("saturated", "share |tanh μ| > 0.99", "{:.2f}"))


def diagnostics_table(results: dict, step: int) -> str:
    """Each variant's measurements at offline step ``step``, the median over its seeds."""
    lines = ["| variant | " + " | ".join(label for _, label, _ in DIAGNOSTICS) + " |",
             "|---|" + "--:|" * len(DIAGNOSTICS)]
    for variant in VARIANTS:
        points = [p for run in results.get(variant, {}).values() for p in run["diagnostics"]
                  if p["offline_step"] == step]
        if points:
            lines.append(f"| {variant} | " + " | ".join(
                form.format(float(np.median([p[name] for p in points]))) for name, _, form in DIAGNOSTICS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--offline-steps", type=int, default=25_000)
    parser.add_argument("--offline-eval-every", type=int, default=5_000)
    parser.add_argument("--json", type=Path, default=JSON)
    parser.add_argument("--timeline", choices=list(VARIANTS), default=None,
                        help="instead: seed 0 of this variant measured every 1,000 steps (kept under 'timeline')")
    args = parser.parse_args()

    STORE.mkdir(parents=True, exist_ok=True)
    os.environ["MINARI_DATASETS_PATH"] = str(STORE)
    build_dataset()
    check_dynamics()
    import gymnasium as gym
    import jax

    from guidedrl.offline import dataset_info, load_transitions

    info = dataset_info(DATASET)
    data = load_transitions(DATASET, gym.make("Pendulum-v1"))
    probes: dict = {}

    mean, std = observation_stats()
    if STANDARDISED & set(args.variants):
        build_standardised_dataset(mean, std)

    def probe_for(batch_size: int, standardised: bool) -> Probe:
        if (batch_size, standardised) not in probes:
            probes[batch_size, standardised] = Probe(
                data, batch_size, 0.99, standardise=(lambda obs: (obs - mean) / std) if standardised else None)
        return probes[batch_size, standardised]

    settings = {"offline_steps": args.offline_steps, "offline_eval_every": args.offline_eval_every,
                "eval_episodes": 10, "base": {k: list(v) if isinstance(v, tuple) else v for k, v in BASE.items()}}
    results: dict = {}
    stored = json.loads(args.json.read_text()) if args.json.exists() else {}
    if stored.get("meta", {}).get("settings") == settings:
        results = stored["results"]
        random = stored["random_return"]
    else:
        random = random_return()
    meta = {"command": command(__spec__.name), "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
            "jax": jax.__version__, "settings": settings}
    dataset = {"id": DATASET, "episodes": info["episodes"], "steps": info["steps"], "mean_return": info["mean_return"],
               "noise": NOISE}
    timeline = stored.get("timeline", {}) if results else {}

    def save() -> None:
        write_json(args.json, {"meta": meta, "dataset": dataset, "random_return": random, "results": results,
                               "timeline": timeline})

    if args.timeline:
        if args.timeline not in timeline:
            fine = argparse.Namespace(offline_steps=args.offline_steps, offline_eval_every=1_000)
            timeline[args.timeline] = offline_run(args.timeline, 0, fine, probe_for)
            save()
        for point in timeline[args.timeline]["diagnostics"]:
            print({k: round(v, 3) for k, v in point.items()})
        return
    for variant in args.variants:
        runs = results.setdefault(variant, {})
        for seed in range(args.seeds):
            if str(seed) in runs:
                continue
            runs[str(seed)] = offline_run(variant, seed, args, probe_for)
            end = runs[str(seed)]["curve"][-1][1]
            print(f"{variant} seed {seed}: {[round(v) for _, v in runs[str(seed)]['curve']]} "
                  f"score {score(end, random, info['mean_return']):.2f} "
                  f"({runs[str(seed)]['wall_seconds']:.0f} s)", flush=True)
            save()
    print(f"{DATASET}: {info['episodes']} episodes, mean return {info['mean_return']:.1f}; random {random:.1f}")
    print(table(results, random, info["mean_return"]))
    for step in (5_000, 10_000, args.offline_steps, 50_000):
        print(f"\nat offline step {step:,} (medians over seeds; the probe's data return-to-go: "
              f"{Probe(data, 128, 0.99).data_return.mean():,.1f})")
        print(diagnostics_table(results, step))


if __name__ == "__main__":
    main()
