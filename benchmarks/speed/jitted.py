"""The jitted path for JAX envs against the host loop and sbx, on gymnax's Pendulum-v1.

SAC, batch 256, one gradient step per env step, learning from step 1,000, no guide (the peers
have none); networks 64-64 and 256-256. Measured, alternated ``--repeats`` times in one invocation,
each after a warm-up (compilation, the first updates) of as many steps as it times:

- ``jitted K``: :mod:`guidedrl.training.scanned` training K seeds in one process (agent-steps/s:
  K × env steps/s), for each K of ``--seeds``, the seeds one after another in each interval
  (``jitted K``) or batched (``jitted K vmap``, with ``--lanes map vmap``);
- ``processes K``: K one-seed jitted runs in K processes at once on the same cores (their summed
  agent-steps/s): what ``--seeds K`` must beat;
- ``host``: guidedrl's host loop on the same env (stepped from the host, ``GymFromJax``);
- ``sbx``: sbx's SAC on the same env (the bench extra);
- ``bare``: the scanned update alone (``update_many`` over minibatches of a filled buffer, one
  ``lax.scan``): the jitted path's floor.

    python -m benchmarks.speed.jitted                          # writes docs/PERFORMANCE.md section
    python -m benchmarks.speed.jitted --repeats 1 --measure 2000 --sizes 64,64 --seeds 1   # a quick look
    python -m benchmarks.speed.jitted --from-json --seeds 1 5 10   # the table again from the JSON

The table sets each configuration's agent-steps/s against the one-seed baselines: the bare
update's rate (the time per agent-step against it), the host loop's and sbx's steps/s, and the
summed rate of K processes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import alternate, command, meta, write_json, write_section

LEARNING_STARTS = 1_000
TASK = "gymnax/Pendulum-v1"


def _config(hidden, measure, seed=0, seeds=1):
    from guidedrl.config import Config

    return Config(env=TASK, algo="sac", guidance="none", guide=None, steps=2 * measure, seed=seed, seeds=seeds,
                  hidden_sizes=hidden, batch_size=256, learning_starts=LEARNING_STARTS, eval_every=measure,
                  eval_episodes=1, checkpoint_every=10**9, progress=False)


def jitted_agent_steps(hidden, measure, seeds: int, repeat: int, lanes: str = "map") -> float:
    """Agent-steps/s of the jitted path with ``seeds`` seeds in this process (second interval);
    ``lanes``: the seeds one after another in each interval (map) or batched (vmap)."""
    from guidedrl.jaxenvs import make_jax_env
    from guidedrl.training.scanned import train_scanned

    config = _config(hidden, measure, seed=100 * repeat, seeds=seeds)
    run = train_scanned(config, make_jax_env(TASK), None, [config.seed + k for k in range(seeds)], lanes=lanes)
    return seeds * float(run.histories[0][-1]["steps_per_second"])


def processes_agent_steps(hidden, measure, seeds: int, repeat: int) -> float:
    """Summed agent-steps/s of ``seeds`` one-seed jitted runs in as many processes at once."""
    code = ("import sys; from benchmarks.speed.jitted import jitted_agent_steps; "
            f"print(jitted_agent_steps({tuple(hidden)!r}, {measure}, 1, int(sys.argv[1])))")
    workers = [subprocess.Popen([sys.executable, "-c", code, str(100 * repeat + k)], stdout=subprocess.PIPE, text=True)
               for k in range(seeds)]
    rates = [float(worker.communicate()[0].strip().splitlines()[-1]) for worker in workers]
    return sum(rates)


def host_steps(hidden, measure, repeat: int) -> float:
    """Steps/s of guidedrl's host loop on the same env, stepped from the host."""
    from guidedrl.jaxenvs import make_jax_env
    from guidedrl.jaxenvs.gym_wrapper import GymFromJax
    from guidedrl.training.loop import train

    config = _config(hidden, measure, seed=repeat).replace(env="Pendulum-v1")
    run = train(config, env=GymFromJax(make_jax_env(TASK)))
    return float(run.history[-1]["steps_per_second"])


def sbx_steps(hidden, measure, repeat: int) -> float:
    """Steps/s of sbx's SAC on the same env."""
    from sbx import SAC

    from guidedrl.jaxenvs import make_jax_env
    from guidedrl.jaxenvs.gym_wrapper import GymFromJax

    model = SAC("MlpPolicy", GymFromJax(make_jax_env(TASK)), policy_kwargs=dict(net_arch=list(hidden)), batch_size=256,
                learning_rate=3e-4, buffer_size=1_000_000, learning_starts=LEARNING_STARTS, train_freq=1,
                gradient_steps=1, ent_coef="auto", seed=repeat, verbose=0)
    model.learn(measure)
    started = time.perf_counter()
    model.learn(measure, reset_num_timesteps=False)
    return measure / (time.perf_counter() - started)


def bare_updates(hidden, measure, repeat: int) -> float:
    """Updates/s of ``update_many`` scanned over ``measure`` minibatches drawn inside the scan."""
    import jax
    import jax.numpy as jnp

    from guidedrl import agent
    from guidedrl.jaxenvs import make_jax_env
    from guidedrl.replay import unflatten
    from guidedrl.training import scan_program

    config = _config(hidden, measure)
    program = scan_program.program_of(config, make_jax_env(TASK), None)
    state = scan_program.initial_state(program, repeat)
    storage = jax.random.normal(jax.random.key(repeat), state.storage.shape)

    @jax.jit
    def run(agent_state, key):
        def body(agent_state, t):
            index = jax.random.randint(jax.random.fold_in(key, t), (1, 256), 0, storage.shape[0])
            return agent.update_many(config.agent, agent_state, unflatten(storage[index], program.layout),
                                     jax.random.fold_in(key, t), t)[0], None
        return jax.lax.scan(body, agent_state, jnp.arange(measure))[0]

    key = jax.random.key(1)
    jax.block_until_ready(run(state.agent, key))
    started = time.perf_counter()
    jax.block_until_ready(run(state.agent, key))
    return measure / (time.perf_counter() - started)


def jitted_configurations(seeds, lanes):
    """(K, lanes, measure name) of every jitted configuration measured: one seed has no lanes."""
    return [(k, lane, f"jitted {k}" + ("" if lane == "map" else f" {lane}"))
            for k in seeds for lane in (("map",) if k == 1 else lanes)]


def table_of(results, seeds, lanes) -> str:
    """The docs table: agent-steps/s of each configuration against the one-seed baselines."""
    lines = ["| network | seeds K | lanes | agent-steps/s | time per agent-step vs the bare update | vs host loop "
             "| vs sbx | vs K processes |", "|---|--:|---|--:|--:|--:|--:|--:|"]
    for size, r in results.items():
        for k, lane, name in jitted_configurations(seeds, lanes):
            if name not in r:
                continue
            jitted = r[name]["median"]
            sbx = f"{jitted / r['sbx']['median']:.2f}x" if "sbx" in r else "—"
            processes = f"{jitted / r[f'processes {k}']['median']:.2f}x" if f"processes {k}" in r else "—"
            lines.append(f"| {size.replace(',', '-')} | {k} | {lane if k > 1 else '—'} | {jitted:.0f} | "
                         f"{r['bare']['median'] / jitted:.2f}x | {jitted / r['host']['median']:.2f}x | {sbx} | "
                         f"{processes} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["64,64", "256,256"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 5, 10])
    parser.add_argument("--lanes", nargs="+", default=["map"], choices=["map", "vmap"],
                        help="how K > 1 seeds share the program (each measured)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", type=int, default=5_000, help="timed steps per measurement (> 1000)")
    parser.add_argument("--no-peer", action="store_true", help="skip sbx (no bench extra)")
    parser.add_argument("--json", default="docs/results/jitted_speed.json")
    parser.add_argument("--markdown", default="docs/PERFORMANCE.md")
    parser.add_argument("--section", default="jitted",
                        help="the docs section written (e.g. one per size when sizes run with different seeds)")
    parser.add_argument("--from-json", action="store_true",
                        help="measure nothing: write the table from --json's results (its own command and date)")
    args = parser.parse_args()

    if args.from_json:
        import json

        payload = json.loads(Path(args.json).read_text())
        info, results = payload["meta"], payload["results"]
        seeds = payload.get("seeds", args.seeds)
        lanes = payload.get("lanes", ["map"])
    else:
        results, seeds, lanes = {}, args.seeds, args.lanes
        for size in args.sizes:
            hidden = tuple(int(h) for h in size.split(","))
            measures = {"bare": lambda r, h=hidden: bare_updates(h, args.measure, r),
                        "host": lambda r, h=hidden: host_steps(h, args.measure, r)}
            if not args.no_peer:
                measures["sbx"] = lambda r, h=hidden: sbx_steps(h, args.measure, r)
            for k in seeds:
                for _, lane, name in jitted_configurations([k], lanes):
                    measures[name] = lambda r, h=hidden, k=k, lane=lane: jitted_agent_steps(h, args.measure, k, r, lane)
                if k > 1:
                    measures[f"processes {k}"] = lambda r, h=hidden, k=k: processes_agent_steps(h, args.measure, k, r)
            values = alternate(measures, args.repeats,
                               lambda r, name, v: print(f"{size} repeat {r}: {name} {v:.0f}/s", flush=True))
            results[size] = {name: {"values": v, "median": statistics.median(v)} for name, v in values.items()}
        info = meta(command(__spec__.name))
        write_json(Path(args.json), {"meta": info, "seeds": seeds, "lanes": lanes, "results": results})
    table = table_of(results, seeds, lanes)
    print(table)
    write_section(Path(args.markdown), args.section, table, info)


if __name__ == "__main__":
    main()
