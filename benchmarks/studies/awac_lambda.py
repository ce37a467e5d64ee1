"""What AWAC's temperature λ does on Pendulum-v1: offline pre-training on a competent controller's
logs, then online fine-tuning, for λ in {1, 3, 10} and a few seeds.

    python -m benchmarks.studies.awac_lambda                 # λ 1, 3, 10; seeds 0-2; ~4 minutes on two cores
    python -m benchmarks.studies.awac_lambda --lambdas 0.3 1 --seeds 5

The dataset is the built-in swing-up controller's rollouts with N(0, 0.2²) noise on the
normalised action (30 episodes, 6,000 transitions; `guidedrl dataset collect --env Pendulum-v1
--policy guide --guide swing-up --noise 0.2 --episodes 30 --id guidedrl/pendulum-swingup-v0`),
made in benchmarks/out/minari if missing. Each run is the learning test's setting
(tests/backbones/test_awac_learning.py): 64-64, batch 256, 3,000 offline gradient steps then
1,000 online steps (here 2,000), evaluated with 10 deterministic episodes. Prints each run's
offline-end score, the lowest online evaluation and the final one, and writes
docs/results/awac_lambda.json.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from benchmarks.common import ROOT, command

DATASET = "guidedrl/pendulum-swingup-v0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lambdas", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--online-steps", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("MINARI_DATASETS_PATH", str(ROOT / "benchmarks" / "out" / "minari"))
    os.environ.setdefault("MUJOCO_GL", "disable")
    import guidedrl
    from guidedrl.offline import collect, dataset_info, list_datasets

    if DATASET not in [entry[0] for entry in list_datasets()]:
        collect("Pendulum-v1", "guide", 30, DATASET, noise=0.2, seed=0, guide="swing-up")
    info = dataset_info(DATASET)
    print(f"{DATASET}: {info['episodes']} episodes, {info['steps']} steps, mean return {info['mean_return']:.1f}")
    rows = []
    print("| λ | seed | offline end | lowest online | final |")
    print("|---|---|---|---|---|")
    for lam in args.lambdas:
        for seed in range(args.seeds):
            run = guidedrl.train("Pendulum-v1", algo="awac", dataset=DATASET, offline_steps=3000,
                                 offline_eval_every=1000, steps=args.online_steps, eval_every=250, awac_lambda=lam,
                                 hidden_sizes=(64, 64), batch_size=256, eval_episodes=10, seed=seed, progress=False)
            offline = [r["eval_return"] for r in run.history if r["phase"] == "offline"]
            online = [r["eval_return"] for r in run.history if r["phase"] == "online"]
            rows.append({"lambda": lam, "seed": seed, "offline": offline, "online": online})
            print(f"| {lam:g} | {seed} | {offline[-1]:.1f} | {min(online):.1f} | {online[-1]:.1f} |", flush=True)
    print("| λ | mean offline end | mean lowest online | mean final |")
    print("|---|---|---|---|")
    for lam in args.lambdas:
        mine = [r for r in rows if r["lambda"] == lam]
        print(f"| {lam:g} | {np.mean([r['offline'][-1] for r in mine]):.1f} | "
              f"{np.mean([min(r['online']) for r in mine]):.1f} | {np.mean([r['online'][-1] for r in mine]):.1f} |")
    target = ROOT / "docs" / "results" / "awac_lambda.json"
    target.write_text(json.dumps({"command": command(__spec__.name),
                                  "dataset": {"id": DATASET, "mean_return": info["mean_return"],
                                              "steps": info["steps"]},
                                  "runs": rows}, indent=1))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
