"""The d3rlpy side of ``python -m benchmarks.speed.offline_speed``: offline AWAC gradient steps per second of
d3rlpy 2.8.1 on transitions written by the parent script, one thread; and of
``python -m benchmarks.studies.d3rlpy_awac``: d3rlpy's AWAC trained offline then online, acting
through the parent's env over a pipe (:func:`fit_offline_then_online`).

Runs in d3rlpy's own virtual environment (d3rlpy 2.8.1 pins gymnasium 1.0.0), so it imports
only numpy, torch and d3rlpy, never guidedrl:

    python3 -m venv .venv-d3rlpy && .venv-d3rlpy/bin/pip install torch==2.13.0 d3rlpy==2.8.1
    .venv-d3rlpy/bin/python -m benchmarks.studies._d3rlpy_awac --data benchmarks/out/offline_speed/pendulum.npz \
        --hidden 256,256 --batch 1024 --warmup 200 --measure 500

The ``.npz`` holds flat transitions in dataset order (``obs``, ``action`` in [-1, 1], ``reward``,
``next_obs``, ``terminated``, ``truncated``) and ``episode_lengths``. The episodes are given to
d3rlpy's ``MDPDataset`` in its own layout, where an episode is a run of observation rows with one
action each and transition i's next observation is row i + 1 of the same episode:

* an episode that ends in a termination: its T observations, actions and rewards, ``terminals``
  set on the last row (d3rlpy makes all T transitions, the last with a zero next observation
  and terminal 1);
* an episode cut by a time limit: its T observations plus the final next observation as row
  T + 1 (with a zero action and reward that no transition uses as its own), ``timeouts`` set on
  that row. d3rlpy drops the last row of a non-terminal episode as a transition's start, so this
  gives exactly the T transitions, the last one bootstrapping from the true final state; given
  only the T rows, d3rlpy would lose each truncated episode's last transition.

Before timing, the worker checks that d3rlpy built the expected episodes (count, lengths, the
first observation of every episode, episode 2's in particular) and that every transition d3rlpy's
transition picker returns equals the parent's (observation, action, reward, next observation,
terminal). It prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def episodes_for_d3rlpy(data) -> dict:
    """MDPDataset's flat arrays (observations, actions, rewards, terminals, timeouts) from the
    parent's flat transitions, one episode after the other (see the module docstring)."""
    rows = {name: [] for name in ("observations", "actions", "rewards", "terminals", "timeouts")}
    start = 0
    for length in data["episode_lengths"]:
        end = start + int(length)
        obs, action, reward = data["obs"][start:end], data["action"][start:end], data["reward"][start:end]
        terminated = bool(data["terminated"][end - 1])
        if not terminated and not data["truncated"][end - 1]:
            raise ValueError(f"episode ending at transition {end - 1} is neither terminated nor truncated")
        if terminated:
            ends = np.zeros(length, np.float32)
            ends[-1] = 1.0
            rows["observations"].append(obs)
            rows["actions"].append(action)
            rows["rewards"].append(reward)
            rows["terminals"].append(ends)
            rows["timeouts"].append(np.zeros(length, np.float32))
        else:
            ends = np.zeros(length + 1, np.float32)
            ends[-1] = 1.0
            rows["observations"].append(np.concatenate([obs, data["next_obs"][end - 1:end]]))
            rows["actions"].append(np.concatenate([action, np.zeros_like(action[:1])]))
            rows["rewards"].append(np.concatenate([reward, np.zeros(1, reward.dtype)]))
            rows["terminals"].append(np.zeros(length + 1, np.float32))
            rows["timeouts"].append(ends)
        start = end
    arrays = {name: np.concatenate(parts).astype(np.float32) for name, parts in rows.items()}
    arrays["rewards"] = arrays["rewards"].reshape(-1, 1)
    return arrays


def check_alignment(dataset, data) -> dict:
    """Raise if d3rlpy's episodes or transitions differ from the parent's; return what was checked."""
    from d3rlpy.dataset import BasicTransitionPicker

    lengths = [int(n) for n in data["episode_lengths"]]
    episodes = dataset.episodes
    if len(episodes) != len(lengths):
        raise AssertionError(f"d3rlpy built {len(episodes)} episodes, expected {len(lengths)}")
    built = [int(e.transition_count) for e in episodes]
    if built != lengths:
        wrong = next(i for i, (a, b) in enumerate(zip(built, lengths)) if a != b)
        raise AssertionError(f"episode {wrong} has {built[wrong]} transitions in d3rlpy, expected {lengths[wrong]}")
    if dataset.transition_count != sum(lengths):
        raise AssertionError(f"d3rlpy holds {dataset.transition_count} transitions, expected {sum(lengths)}")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for index, (episode, start) in enumerate(zip(episodes, starts)):
        if not np.array_equal(episode.observations[0], data["obs"][start]):
            raise AssertionError(f"episode {index}'s first observation differs from transition {start}'s")
    picker = BasicTransitionPicker()
    for index, (episode, start) in enumerate(zip(episodes, starts)):
        for step in range(lengths[index]):
            row = start + step
            picked = picker(episode, step)
            terminal = bool(data["terminated"][row])
            expected_next = np.zeros_like(data["next_obs"][row]) if terminal else data["next_obs"][row]
            same = (np.array_equal(picked.observation, data["obs"][row])
                    and np.array_equal(picked.action, data["action"][row])
                    and np.isclose(float(picked.reward[0]), float(data["reward"][row]))
                    and np.array_equal(picked.next_observation, expected_next)
                    and float(picked.terminal) == float(terminal))
            if not same:
                raise AssertionError(f"d3rlpy's transition {step} of episode {index} differs from transition {row}")
    second = episodes[1].observations[0].tolist() if len(episodes) > 1 else None
    return {"episodes": len(episodes), "transitions": int(dataset.transition_count),
            "episode_lengths_match": True, "first_observations_match": True, "transitions_match": True,
            "episode_2_first_obs": second}


def load_checked(path):
    """The transitions in the ``.npz`` at ``path``, the MDPDataset d3rlpy builds from them, and
    :func:`check_alignment`'s report (which raises if d3rlpy's episodes are not the data's)."""
    import d3rlpy
    from d3rlpy.dataset import MDPDataset

    with np.load(path) as file:
        data = {name: file[name] for name in file.files}
    arrays = episodes_for_d3rlpy(data)
    dataset = MDPDataset(arrays["observations"], arrays["actions"], arrays["rewards"], arrays["terminals"],
                         arrays["timeouts"], action_space=d3rlpy.ActionSpace.CONTINUOUS)
    return data, dataset, check_alignment(dataset, data)


def build_awac(hidden: tuple, batch: int, seed: int):
    """d3rlpy's AWAC with the shared settings (``benchmarks.speed.offline_speed``'s docstring lists them)."""
    import d3rlpy
    from d3rlpy.models.encoders import VectorEncoderFactory
    from d3rlpy.optimizers import AdamFactory

    d3rlpy.seed(seed)
    config = d3rlpy.algos.AWACConfig(
        actor_learning_rate=3e-4,
        critic_learning_rate=3e-4,
        actor_optim_factory=AdamFactory(weight_decay=1e-4),  # the default has none
        critic_optim_factory=AdamFactory(),
        actor_encoder_factory=VectorEncoderFactory(hidden_units=list(hidden)),
        critic_encoder_factory=VectorEncoderFactory(hidden_units=list(hidden)),
        batch_size=batch,
        gamma=0.99,
        tau=0.005,
        lam=1.0,
        n_action_samples=1,
        n_critics=2,
        compile_graph=False,
    )
    return config.create(device="cpu:0")


# -- offline then online, acting through the parent's env (benchmarks.studies.d3rlpy_awac) ------


class _Pipe:
    """JSON lines to and from the parent over two inherited file descriptors."""

    def __init__(self, read_fd: int, write_fd: int):
        self.reader = os.fdopen(read_fd, "r")
        self.writer = os.fdopen(write_fd, "w")

    def ask(self, message: dict) -> dict:
        self.writer.write(json.dumps(message) + "\n")
        self.writer.flush()
        line = self.reader.readline()
        if not line:
            raise EOFError("the parent closed the env pipe")
        return json.loads(line)


def _remote_env_class():
    import gymnasium as gym

    class RemoteEnv(gym.Env):
        """The parent's env (guidedrl.envs.make_env) seen from the worker: actions in [-1, 1]."""

        def __init__(self, pipe: _Pipe, name: str, obs_dim: int, action_dim: int):
            self.pipe, self.name = pipe, name
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
            self.action_space = gym.spaces.Box(-1.0, 1.0, (action_dim,), np.float32)

        def reset(self, *, seed=None, options=None):
            reply = self.pipe.ask({"op": "reset", "env": self.name, "seed": seed})
            return np.asarray(reply["obs"], np.float32), {}

        def step(self, action):
            reply = self.pipe.ask({"op": "step", "env": self.name,
                                   "action": np.asarray(action, np.float64).reshape(-1).tolist()})
            return (np.asarray(reply["obs"], np.float32), float(reply["reward"]), bool(reply["terminated"]),
                    bool(reply["truncated"]), {})

    return RemoteEnv


def fit_offline_then_online(args) -> None:
    """d3rlpy's AWAC offline then online on ``args`` (``benchmarks.studies.d3rlpy_awac``'s worker options),
    evaluating through the parent's env; print one JSON line."""
    import logging

    import structlog
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    import d3rlpy
    from d3rlpy.logging import NoopAdapterFactory

    pipe = _Pipe(args.fd_in, args.fd_out)
    data, dataset, alignment = load_checked(args.data)
    RemoteEnv = _remote_env_class()
    obs_dim, action_dim = int(data["obs"].shape[1]), int(data["action"].shape[1])
    train_env = RemoteEnv(pipe, "train", obs_dim, action_dim)
    eval_env = RemoteEnv(pipe, "eval", obs_dim, action_dim)

    awac = build_awac(tuple(int(h) for h in args.hidden.split(",")), args.batch, args.seed)
    awac.build_with_dataset(dataset)
    if args.d3rlpy_entropy_off:  # diagnostic: its critic target without the fixed entropy term
        from d3rlpy.models.torch import get_parameter

        with torch.no_grad():  # AWAC's dummy log-temperature, 0 (temperature 1) and never trained
            get_parameter(awac.impl._modules.log_temp).fill_(-100.0)  # exp(-100) is 0 in float32
    rows, clock = [], {"eval": 0.0}

    def evaluate(phase: str, offline_step: int, step: int) -> None:
        started = time.perf_counter()
        returns = []
        for episode in range(args.eval_episodes):
            obs, _ = eval_env.reset(seed=args.seed + args.eval_seed_offset + episode)
            total, done = 0.0, False
            while not done:
                action = awac.predict(obs[None])[0]
                obs, reward, terminated, truncated, _ = eval_env.step(action)
                total += reward
                done = terminated or truncated
            returns.append(total)
        clock["eval"] += time.perf_counter() - started
        rows.append({"phase": phase, "offline_step": offline_step, "step": step,
                     "eval_return": float(np.mean(returns)), "eval_return_std": float(np.std(returns))})

    quiet = dict(logger_adapter=NoopAdapterFactory(), show_progress=False, with_timestamp=False)
    started = time.perf_counter()
    evaluate("offline", 0, 0)
    if args.offline_steps:
        awac.fit(dataset, n_steps=args.offline_steps, n_steps_per_epoch=args.offline_eval_every,
                 save_interval=10**9, evaluators=None,
                 epoch_callback=lambda algo, epoch, total: evaluate("offline", total, 0), **quiet)
        if rows[-1]["offline_step"] != args.offline_steps:  # a budget that is not a whole number of epochs
            evaluate("offline", args.offline_steps, 0)
    offline_seconds = time.perf_counter() - started
    offline_eval = clock["eval"]
    online_seconds = 0.0
    if args.online_steps:
        started = time.perf_counter()

        def online_callback(algo, epoch, total_step):
            if total_step % args.eval_every == 0 or total_step == args.online_steps:
                evaluate("online", args.offline_steps, total_step)

        awac.fit_online(train_env, buffer=dataset, explorer=None, n_steps=args.online_steps,
                        n_steps_per_epoch=args.eval_every, update_start_step=0, random_steps=0, eval_env=None,
                        save_interval=10**9, callback=online_callback, **quiet)
        online_seconds = time.perf_counter() - started
    pipe.ask({"op": "done"})
    print(json.dumps({
        "rows": rows, "alignment": alignment, "d3rlpy": d3rlpy.__version__, "torch": torch.__version__,
        "offline_seconds": offline_seconds, "offline_train_seconds": offline_seconds - offline_eval,
        "online_seconds": online_seconds, "online_train_seconds": online_seconds - (clock["eval"] - offline_eval),
    }), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--warmup", type=int, default=200, help="gradient steps before the timed ones")
    parser.add_argument("--measure", type=int, default=500, help="timed gradient steps of fit()")
    parser.add_argument("--update-only", type=int, default=0,
                        help="also time this many update(batch) calls on batches sampled beforehand")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    import d3rlpy
    from d3rlpy.logging import NoopAdapterFactory

    import logging

    import structlog  # d3rlpy's logger: keep its info lines off stdout, which carries the result

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    data, dataset, alignment = load_checked(args.data)

    hidden = tuple(int(h) for h in args.hidden.split(","))
    awac = build_awac(hidden, args.batch, args.seed)
    fit = dict(logger_adapter=NoopAdapterFactory(), show_progress=False, save_interval=10**9,
               with_timestamp=False, evaluators=None)
    # warm-up: builds the networks and runs the first updates (allocations, caches)
    awac.fit(dataset, n_steps=args.warmup, n_steps_per_epoch=args.warmup, **fit)
    started = time.perf_counter()
    awac.fit(dataset, n_steps=args.measure, n_steps_per_epoch=args.measure, **fit)
    fit_rate = args.measure / (time.perf_counter() - started)

    result = {"fit_steps_per_second": fit_rate, "alignment": alignment, "torch": torch.__version__,
              "d3rlpy": d3rlpy.__version__, "threads": torch.get_num_threads()}
    if args.update_only:
        batches = [dataset.sample_transition_batch(args.batch) for _ in range(args.update_only)]
        started = time.perf_counter()
        for batch in batches:
            awac.update(batch)
        result["update_steps_per_second"] = args.update_only / (time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(min(args.update_only, 50)):
            dataset.sample_transition_batch(args.batch)
        result["sample_ms"] = 1e3 * (time.perf_counter() - started) / min(args.update_only, 50)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
