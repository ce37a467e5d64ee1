"""A guided agent beats the unguided one early on a task built for it (slow)."""

import numpy as np
import pytest

import guidedrl

SEEDS = (0, 1, 2, 3, 4)


def mean_return_at(guidance, steps=3_000):
    returns = []
    for seed in SEEDS:
        guide = guidedrl.names.resolve_guide("lqr", "Pendulum-v1") if guidance != "none" else None
        run = guidedrl.train("Pendulum-v1", guidance=guidance, guide=guide, steps=steps, seed=seed,
                             hidden_sizes=(64, 64), eval_every=steps, eval_episodes=10, progress=False)
        returns.append(run.history[-1]["eval_return"])
    return float(np.mean(returns))


@pytest.mark.slow
def test_sag_and_pag_beat_sac_at_3k_steps_on_pendulum_with_the_lqr_guide():
    sac = mean_return_at("none")
    sag = mean_return_at("sag")
    pag = mean_return_at("pag")
    print(f"mean eval return at 3k steps over seeds {SEEDS}: sac {sac:.0f}, sag {sag:.0f}, pag {pag:.0f}")
    assert sag > sac and pag > sac
