"""What the benchmark scripts share: the command line that ran them, the marked sections they
write into the docs, XLA's threads, alternated timings, resumable runs, the bare update's time,
the offline datasets' transitions and the claims scripts' command line.

Imports nothing but the standard library at the top (guidedrl, jax and numpy where used): the
d3rlpy worker, which runs in a virtual environment without guidedrl, imports this module too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
"""The repository's root, where the scripts run from (``python -m benchmarks.<group>.<script>``)."""
OUT = ROOT / "benchmarks" / "out"
"""Where the scripts keep their runs and scratch files (git-ignored)."""
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
"""XLA_FLAGS of a process that computes on one thread, as the suite's trials do."""


# -- what ran, and where its numbers go ---------------------------------------------------------

def command(module: str, argv: Optional[Sequence[str]] = None) -> str:
    """The command line that ran ``module`` (a script's ``__spec__.name``) with ``argv``
    (default: this process's arguments): ``python -m benchmarks.<group>.<script> ...``."""
    return shlex.join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])


def meta(command_line: str) -> Dict[str, object]:
    """When, on how many cores and with which command a measurement was made."""
    return {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "command": command_line}


def write_section(path: Path, name: str, table: str, meta: Mapping[str, object],
                  note: str = "medians over repeats; ratio of medians") -> None:
    """Replace (or append) the section between the markers ``<!-- name:begin -->`` and
    ``<!-- name:end -->`` in ``path``: a line naming the date, the cores and the command
    (``meta``) and ``note``, then ``table``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    body = (f"{begin}\nMeasured {meta['date']} on {meta['cpus']} CPU cores with "
            f"`{meta['command']}` ({note}).\n\n{table}\n{end}")
    text = path.read_text() if path.exists() else "# Performance\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + body + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.write_text(text)


def write_json(path: Path, payload, **dumps) -> None:
    """``payload`` as JSON at ``path`` (parents made), through a temporary file: an interrupted
    script never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, **{"indent": 1, **dumps}))
    tmp.replace(path)


# -- XLA's threads ------------------------------------------------------------------------------

def one_xla_thread() -> None:
    """One XLA thread for this process (and MuJoCo without a display), unless the environment
    says otherwise: call it before anything imports jax."""
    os.environ.setdefault("XLA_FLAGS", XLA_ONE_THREAD)
    os.environ.setdefault("MUJOCO_GL", "disable")


def add_pool_option(parser: argparse.ArgumentParser) -> None:
    """``--default-pool``: keep XLA's default thread pool instead of the trials' one thread."""
    parser.add_argument("--default-pool", action="store_true",
                        help="keep XLA's default thread pool (one thread per core) instead of one thread")


def set_pool(default_pool: bool) -> bool:
    """Give XLA's pool one thread as the suite's trials do (``runner.train_trial``), unless
    ``default_pool``; False when the pool stays the default (also for a build without it)."""
    if default_pool:
        return False
    try:
        from guidedrl.training.threads import one_worker_thread
    except ImportError:  # an older build (PYTHONPATH=<checkout>/src): its default pool
        return False
    return one_worker_thread()


# -- timings ------------------------------------------------------------------------------------

def alternate(measures: Mapping[object, Callable[[int], float]], repeats: int,
              report: Optional[Callable[[int, object, float], None]] = None) -> Dict[object, List[float]]:
    """Each of ``measures`` ``repeats`` times, alternated (a, b, a, b, ...) so that a noisy
    neighbour on a shared machine hits every one alike; each is called with the repeat's index
    and ``report(repeat, name, value)`` after it. Returns name -> values in order."""
    values: Dict[object, List[float]] = {name: [] for name in measures}
    for repeat in range(repeats):
        for name, measure in measures.items():
            values[name].append(measure(repeat))
            if report is not None:
                report(repeat, name, values[name][-1])
    return values


def in_process(module: str, function: str, *args, env: Optional[Mapping[str, str]] = None):
    """``module.function(*args)`` evaluated in a fresh Python process (its own JAX client, thread
    pools and XLA_FLAGS: ``env`` is added to this process's environment) and its JSON-able value
    returned. ``args`` go through JSON (tuples arrive as lists)."""
    import subprocess

    code = ("import importlib, json, sys; args = json.loads(sys.argv[1]); "
            f"value = getattr(importlib.import_module({module!r}), {function!r})(*args); "
            "print('\\n' + json.dumps(value))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(list(args))], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{module}.{function}{tuple(args)} failed in its process:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def medians(values: Mapping[object, Sequence[float]]) -> Dict[object, float]:
    """The median of each name's values."""
    return {name: statistics.median(samples) for name, samples in values.items()}


def matmul_gflops(size: int = 256, repeats: int = 2000) -> float:
    """The machine's float32 throughput on a jitted (size × size) @ (size × size) product."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((size, size), jnp.float32)
    product = jax.jit(lambda x, y: x @ y)
    product(a, a).block_until_ready()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeats):
            out = product(a, a)
        out.block_until_ready()
        best = min(best, (time.perf_counter() - started) / repeats)
    return 2 * size**3 / best / 1e9


def task_dims(task: str) -> tuple:
    """(observation size, action size) of a task's env."""
    import numpy as np

    from guidedrl.envs import make_env

    env = make_env(task)
    return int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape))


def random_buffer(obs_dim: int, action_dim: int, rng, rows: int = 5000):
    """A replay buffer of ``rows`` random transitions (guide actions and λ drawn too): data for
    timing or fingerprinting an update, not for learning."""
    from guidedrl.replay import ReplayBuffer

    buffer = ReplayBuffer(rows, obs_dim, action_dim)
    for _ in range(rows):
        buffer.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, action_dim), rng.normal(), rng.normal(size=obs_dim),
                   False, False, rng.uniform(-1, 1, action_dim), float(rng.uniform() < 0.2),
                   rng.uniform(-1, 1, action_dim), float(rng.uniform() < 0.2))
    return buffer


def bare_update_seconds(config, obs_dim: int, action_dim: int, repeats: int = 3, batches: int = 1000) -> float:
    """Seconds per gradient step of ``update_many`` over ``batches`` minibatches in one
    ``lax.scan`` for ``config`` (best of ``repeats``): the floor a training step cannot go below."""
    import jax
    import numpy as np

    from guidedrl import agent
    from guidedrl.training.jitted import PRNG_IMPL, init_agent

    agent_config = config.agent
    rng = np.random.default_rng(0)
    buffer = random_buffer(obs_dim, action_dim, rng)
    key = jax.random.key(0, impl=PRNG_IMPL)
    state = init_agent(agent_config, key, obs_dim, action_dim)
    update = jax.jit(agent.update_many, static_argnums=0, donate_argnums=1)
    best = float("inf")
    for repeat in range(repeats + 1):  # the first compiles
        batch = jax.device_put(buffer.sample(rng, batches, config.minibatch_size))
        jax.block_until_ready(batch)
        started = time.perf_counter()
        state, metrics = update(agent_config, state, batch, key, 10**6)
        jax.block_until_ready(metrics)
        if repeat:
            best = min(best, (time.perf_counter() - started) / batches)
    return best


PAPER_STEP = dict(env="SafeCartpole-v0", algo="sac", hidden_sizes=(64, 64), batch_size=128,
                  learning_starts=1000, updates_per_step=1, train_every=1, eval_episodes=1,
                  checkpoint_every=10**9, progress=False)
"""The paper suite's training step (SafeCartpole-v0, SAC, 64-64, batch 128, one gradient step
per environment step), without checkpoints and with one evaluation episode."""


def loop_step_ms(settings: dict, measure: int = 4000) -> float:
    """Milliseconds per training step, from the loop's own steps/s over ``measure`` steps after as
    many of warm-up (the interval's steps/s excludes its evaluation)."""
    from guidedrl.config import Config
    from guidedrl.training.loop import train

    run = train(Config(**settings, steps=2 * measure, eval_every=measure))
    return 1e3 / float(run.history[-1]["steps_per_second"])


# -- runs ---------------------------------------------------------------------------------------

def run_or_resume(run_dir: Path, steps: int, **train_kwargs) -> list:
    """Train into ``run_dir`` unless it already holds a finished run; an interrupted one is
    resumed from its checkpoint. Returns the metrics rows."""
    import guidedrl
    from guidedrl.training.logging import read_metrics

    rows = read_metrics(run_dir)
    if (run_dir / "checkpoint").exists() and rows and int(rows[-1]["step"]) >= steps:
        return rows
    started = time.perf_counter()
    if (run_dir / "checkpoint").exists():
        guidedrl.train(train_kwargs.get("env", "Pendulum-v1"), resume=str(run_dir), progress=False,
                       guide=train_kwargs.get("guide"))
    else:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        guidedrl.train(steps=steps, out=str(run_dir), progress=False, **train_kwargs)
    print(f"{run_dir.name}: {time.perf_counter() - started:.0f} s", flush=True)
    return read_metrics(run_dir)


# -- offline datasets -----------------------------------------------------------------------------

TRANSITION_FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


def random_return(env, episodes: int) -> float:
    """Mean return of the uniform-random policy on ``env`` (env seeds 0..episodes-1, actions from
    the action space seeded 0): the 0 of an offline score. Closes ``env``."""
    import numpy as np

    env.action_space.seed(0)
    returns = []
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def read_transitions(dataset_id: str) -> dict:
    """A Minari dataset's transitions, episode after episode, read from its file (not through
    guidedrl): s = obs[:-1], s' = obs[1:], actions rescaled from the env's box to [-1, 1] (the
    units of guidedrl's and d3rlpy's tanh policies), and the episodes' lengths."""
    import minari
    import numpy as np

    dataset = minari.load_dataset(dataset_id)
    space = dataset.action_space
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    fields = {name: [] for name in TRANSITION_FIELDS}
    lengths = []
    for episode in dataset.iterate_episodes():
        count = len(episode.actions)
        fields["obs"].append(episode.observations[:-1])
        fields["next_obs"].append(episode.observations[1:])
        fields["action"].append(2.0 * (episode.actions - low) / (high - low) - 1.0)
        fields["reward"].append(episode.rewards)
        fields["terminated"].append(episode.terminations)
        fields["truncated"].append(episode.truncations)
        lengths.append(count)
    data = {name: np.concatenate(parts).astype(np.float32) for name, parts in fields.items()}
    data["episode_lengths"] = np.asarray(lengths, np.int64)
    return data


def loader_differs(dataset_id: str, env, data: dict) -> Optional[str]:
    """The first field in which guidedrl's own loader (``guidedrl.offline.load_transitions``, what
    the loop reads) differs from :func:`read_transitions`'s ``data``, or None when they agree."""
    import numpy as np

    from guidedrl.offline import load_transitions

    loaded = load_transitions(dataset_id, env)
    for name in TRANSITION_FIELDS:
        theirs = np.asarray(getattr(loaded, name), np.float32).reshape(data[name].shape)
        if not np.allclose(theirs, data[name], atol=1e-6):
            return name
    return None


def add_offline_options(parser: argparse.ArgumentParser) -> None:
    """The options of a study of the offline suite's AWAC: ``--tasks`` (default: the suite's),
    ``--seeds``, and the offline phase's budget and evaluation interval (the suite's)."""
    parser.add_argument("--tasks", nargs="+", default=None, help="default: the offline suite's tasks")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--offline-steps", type=int, default=25_000)
    parser.add_argument("--offline-eval-every", type=int, default=2_500)


def improvement_text(x, y) -> str:
    """rliable's probability that a run of ``x`` scores higher than a run of ``y`` (ties count
    half), with its 95% bootstrap interval; "—" with fewer than 2 runs a side."""
    import numpy as np

    from guidedrl.experiments import stats

    if min(len(x), len(y)) < 2:
        return "—"
    p, low, high = stats.probability_of_improvement(np.asarray(x), np.asarray(y), reps=10_000)
    return f"{p:.2f} [{low:.2f}, {high:.2f}]"


# -- the claims scripts ---------------------------------------------------------------------------

def run_claims(module: str, doc: str, header: str, table_rows: Callable[[list, int], Iterable[str]],
               note: str, against: Optional[Callable[[list, list, int], str]] = None) -> None:
    """The command line of a claims script (``module``, described by ``doc``): read ``results``
    (a results.csv), print the table of ``table_rows(rows, reps)`` (markdown table rows) under
    ``header``, and with ``--section`` write it into docs/RESULTS.md between that section's
    markers; with ``against``, ``--against OTHER`` prints ``against(rows, other_rows, reps)``."""
    from guidedrl.experiments import results

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--section", default=None, help="write the table into docs/RESULTS.md between these markers")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "RESULTS.md")
    if against:
        parser.add_argument("--against", type=Path, default=None,
                            help="another results.csv of the same suite: set each verdict beside its verdict there")
    args = parser.parse_args()
    rows = results.read_results(args.results)
    if against and args.against:
        text = against(rows, results.read_results(args.against), args.reps)
    else:
        text = "\n".join([header] + list(table_rows(rows, args.reps)))
    print(text)
    if args.section:
        write_section(args.doc, args.section, text, meta(command(module)), note=note.format(reps=args.reps))
