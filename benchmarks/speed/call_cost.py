"""What a jitted call costs beyond its arithmetic, on this CPU: the figures behind "where the
rest goes" in docs/PERFORMANCE.md ("A training step against its update").

    python -m benchmarks.speed.call_cost

One XLA thread, the paper suite's settings (SafeCartpole-v0 sizes: 5 observations, 1 action;
SAC, 64-64, batch 128), minibatches sampled beforehand. Prints, in ms per call (best of 3 runs
of a few hundred to a few thousand calls):

* a call returning 11 small arrays (a state-sized vector, a dict of 8 scalars, ...) against the
  same values as one vector (what the loop's per-step call now returns);
* ``agent.update_many`` jitted on its own with K = 1, 2, 4, 16 gradient steps a call, and per
  step inside a scan of 1,000 (the "bare update" of ``benchmarks.speed.step_cost``);
* a call that only passes the SAC state pytree (49 leaves) in and out.

Timings, not assertions; machines here differ by up to 3x, so compare rows of one run.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import one_xla_thread

one_xla_thread()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def per_call_ms(fn, calls: int, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e3


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    from guidedrl import agent
    from guidedrl.config import Config
    from guidedrl.replay import ReplayBuffer, unflatten
    from guidedrl.training.jitted import PRNG_IMPL, init_agent

    vector = jnp.ones(20_000)
    obs = np.ones(5, np.float32)

    @jax.jit
    def many_outputs(x, o):
        y = x * 1.0001
        return y, {f"m{i}": y[i] for i in range(8)}, o * 2, o[0] > 0, jnp.all(y > 0)

    @jax.jit
    def one_vector(x, o):
        y = x * 1.0001
        return y, jnp.concatenate([y[:8], o * 2, (o[:1] > 0).astype(jnp.float32), jnp.all(y > 0)[None]])

    print(f"11 small outputs: {per_call_ms(lambda: np.asarray(many_outputs(vector, obs)[-1]), 3000):.3f} ms/call; "
          f"one vector: {per_call_ms(lambda: np.asarray(one_vector(vector, obs)[-1]), 3000):.3f} ms/call")

    config = Config(env="SafeCartpole-v0", algo="sac", guidance="none", hidden_sizes=(64, 64), batch_size=128)
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(5000, 5, 1)
    for _ in range(5000):
        buffer.add(rng.normal(size=5), rng.uniform(-1, 1, 1), rng.normal(), rng.normal(size=5), False, False)
    key = jax.random.key(0, impl=PRNG_IMPL)
    holder = {"state": init_agent(config.agent, key, 5, 1)}
    update = jax.jit(agent.update_many, static_argnums=0, donate_argnums=1)

    def updating(batches):
        def call():
            holder["state"], metrics = update(config.agent, holder["state"], batches, key, 5)
            np.asarray(metrics["critic_loss"])
        return call

    for k in (1, 2, 4, 16):
        batches = jax.device_put(unflatten(buffer.sample_flat(rng, k, 128), buffer.layout))
        ms = per_call_ms(updating(batches), 400)
        print(f"update_many, K = {k:>4}: {ms:.3f} ms/call, {ms / k:.3f} ms per gradient step")
    batches = jax.device_put(unflatten(buffer.sample_flat(rng, 1000, 128), buffer.layout))
    print(f"update_many, K = 1000: {per_call_ms(updating(batches), 3) / 1000:.3f} ms per gradient step")

    passthrough = jax.jit(lambda state, b: (jax.tree_util.tree_map(lambda x: x, state), b.reward.sum()),
                          donate_argnums=0)
    one = jax.device_put(unflatten(buffer.sample_flat(rng, 1, 128), buffer.layout))

    def passing():
        holder["state"], total = passthrough(holder["state"], one)
        np.asarray(total)

    leaves = len(jax.tree_util.tree_leaves(holder["state"]))
    print(f"state pytree ({leaves} leaves) in and out of a call that does nothing: {per_call_ms(passing, 2000):.3f} ms/call")


if __name__ == "__main__":
    main()
