"""Make a "medium" guide: train SAC on a task, keep the policy whose evaluation return is
closest to a stated fraction of the best one seen, and export it as a guide file.

    python -m guidedrl.envs.make_guide --env PointMass-v0 --seed 0 --steps 60000 --fraction 0.5

writes ``<out>/<env>.msgpack`` (the actor's weights, no pickle) and ``<out>/<env>.json`` (the
command, the training curve's best return, the chosen step and its return, and the guide's
own return measured alone over ``--episodes`` fresh episodes). The built-in tasks' guide files
(``guidedrl/envs/guides/``) were made by this command with the arguments in their JSON.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import jax
import numpy as np


def measure_alone(guide, env_id: str, episodes: int = 20, seed: int = 10_000) -> dict:
    """The guide's own return and catastrophes: its policy acting at every step, deterministic,
    over ``episodes`` episodes seeded ``seed, seed + 1, ...``."""
    from guidedrl.envs import make_env
    from guidedrl.guides.base import run_alone

    env = make_env(env_id)
    guide.bind(int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape)), env_id)
    returns, lengths, catastrophes = run_alone(guide, env, episodes, seed)
    return {"episodes": episodes, "seed": seed, "mean_return": float(np.mean(returns)),
            "std_return": float(np.std(returns)), "catastrophes": int(catastrophes),
            "catastrophe_rate": catastrophes / episodes, "mean_length": float(np.mean(lengths)),
            "returns": [float(r) for r in returns]}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m guidedrl.envs.make_guide", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=60_000)
    parser.add_argument("--fraction", type=float, default=0.5, help="target return as a fraction of the best")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--eval-every", type=int, default=2000)
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=20, help="episodes of the final measurement")
    parser.add_argument("--env-kwargs", type=json.loads, default={},
                        help="JSON keyword arguments of the env trained on (e.g. an easier start); "
                             "the guide's own return is measured on the env as registered")
    parser.add_argument("--out", default=None, help="directory (default: the package's guide directory)")
    args = parser.parse_args(argv)

    import gymnasium as gym

    from guidedrl.api import train
    from guidedrl.envs import GUIDE_DIR, NAMESPACE, TASKS
    from guidedrl.guides.policy_file import export_policy, from_policy_file

    snapshots = []

    def keep(row, run):
        snapshots.append((row["step"], row["eval_return"], jax.device_get(run.state)))

    env = args.env
    if args.env_kwargs:
        env_id = NAMESPACE + args.env if args.env in TASKS else args.env
        env = gym.make(env_id, **args.env_kwargs)
    run = train(env, algo="sac", steps=args.steps, seed=args.seed,
                         hidden_sizes=tuple(args.hidden), eval_every=args.eval_every,
                         eval_episodes=args.eval_episodes, on_evaluation=keep)
    best = max(ret for _, ret, _ in snapshots)
    target = args.fraction * best
    step, chosen_return, state = min(snapshots, key=lambda s: (abs(s[1] - target), s[0]))
    run.state = state
    out = GUIDE_DIR if args.out is None else args.out
    name = args.env.split("/")[-1]
    run.config = run.config.replace(env=name)
    path = f"{out}/{name}"
    export_policy(run, path, command="python -m guidedrl.envs.make_guide " + shlex.join(argv or sys.argv[1:]),
                  seed=args.seed, steps=args.steps, env_kwargs=args.env_kwargs, fraction=args.fraction, best_eval_return=best,
                  chosen_step=step, chosen_eval_return=chosen_return,
                  curve=[[s, r] for s, r, _ in snapshots])
    alone = measure_alone(from_policy_file(path), args.env, episodes=args.episodes)
    meta_path = Path(f"{path}.json")  # the guide's own return goes beside it
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "alone": alone}, indent=2) + "\n")
    print(f"best eval return {best:.1f}; chose step {step} (eval return {chosen_return:.1f}, "
          f"target {target:.1f}); alone over {alone['episodes']} episodes: "
          f"{alone['mean_return']:.1f} ± {alone['std_return']:.1f} -> {path}.msgpack")
    return 0


if __name__ == "__main__":
    sys.exit(main())
