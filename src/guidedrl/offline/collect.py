"""Writing Minari datasets: a policy's rollouts (:func:`collect`) and a training run's replay
buffer (:func:`from_run`).

A dataset records what the env saw: its own observations (a Dict observation stays a Dict) and
the actions executed, in the env's own units, so that any Minari reader sees the env's real
spaces; guidedrl's reader (:func:`guidedrl.offline.datasets.load_transitions`) flattens and
normalises them again. The env spec is recorded (built-in tasks in the ``guidedrl/`` namespace,
which ``import guidedrl.envs`` registers), with Minari's provenance fields and, under extra
metadata keys Minari keeps, the command that made the dataset and the guidedrl version.

Datasets are written with Minari's ``create_dataset_from_buffers``, once every episode has
been collected: an interrupted collection leaves no dataset behind.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import gymnasium as gym
import numpy as np

from guidedrl.config import DEFAULT_GUIDE
from guidedrl.envs import action_bounds, check_env_id, make_env, stored_alone, task_of
from guidedrl.errors import CheckpointError, ConfigError, DatasetError, EnvError, GuidedRLError
from guidedrl.names import resolve_guide
from guidedrl.offline.datasets import (
    COMMAND_KEY,
    GUIDE_RETURN_KEY,
    VERSION_KEY,
    denormalize_actions,
    import_minari,
    normalize_actions,
    parse_id,
)
from guidedrl import checkpoint
from guidedrl.version import __version__

POLICY_KINDS = "guide, random, a run directory or checkpoint path, or module:attr"
_NOISE_STREAM = 0x6E6F6973
"""Mixed into the seed of the generator behind noise, epsilon and the random policy, so that it
is a stream of its own beside the episodes' reset seeds."""


def episode_seed(seed: int, episode: int) -> int:
    """The reset seed of episode ``episode`` of a collection seeded ``seed``: the derivation of
    the training loop's ``episode_seed`` (not imported from it: the loop imports this package)."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


def check_new_id(dataset_id: str) -> Path:
    """The store directory a new dataset ``dataset_id`` will be written to; refuses an id that
    is not ``NAMESPACE/NAME-vN`` or that the local store already holds."""
    namespace, _, version = parse_id(dataset_id)
    if namespace is None or version is None:
        raise DatasetError(
            f"dataset id {dataset_id!r} needs a namespace and a version: NAMESPACE/NAME-vN, e.g. "
            f"guidedrl/{dataset_id.split('/')[-1].rsplit('-v', 1)[0] or 'name'}-v0"
        )
    from minari.storage.datasets_root_dir import get_dataset_path

    path = Path(get_dataset_path(dataset_id))
    if path.exists():
        raise DatasetError(
            f"dataset {dataset_id!r} already exists at {str(path)!r}; choose another name or version "
            f"(-v{version + 1}), or delete it with `minari delete {dataset_id}`"
        )
    return path


# -- policies ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Behaviour:
    """What acts during a collection."""

    normalized: Callable[[Any, np.ndarray], np.ndarray]
    """``normalized(obs, flat_obs)``: the action in [-1, 1]^d at the env's own observation ``obs``
    (``flat_obs``: flattened, float32, as the agent and guides see it)."""
    name: str
    """What acts, for the dataset's ``algorithm_name`` and messages."""
    reference_return: Optional[float] = None
    """The built-in guide's own stored mean return (full episodes), when it is what acts."""


def _behaviour(policy: Union[str, Callable], env_id: str, guide: str, obs_dim: int, low: np.ndarray,
               high: np.ndarray, seed: int, rng: np.random.Generator, trust_code: bool) -> _Behaviour:
    action_dim = int(low.shape[0])
    if guide != DEFAULT_GUIDE and policy != "guide":
        raise ConfigError(f"a guide ({guide!r}) is used only with the policy 'guide', not with {policy!r}")
    if callable(policy):
        return _env_unit_behaviour(policy, getattr(policy, "__name__", type(policy).__name__), low, high)
    if not isinstance(policy, str):
        raise ConfigError(f"policy must be a string ({POLICY_KINDS}) or a callable, got {type(policy).__name__}")
    if policy == "guide":
        made = resolve_guide(guide, env_id)
        made.bind(obs_dim, action_dim, env_id)
        made.seed(seed)
        reference = None
        if guide == DEFAULT_GUIDE:
            stored = stored_alone().get(task_of(env_id).id) or {}
            reference = stored.get("mean_return")
        return _Behaviour(lambda raw, flat: np.asarray(made(flat)[0], np.float64), f"guidedrl guide {made.name}",
                          reference)
    if policy == "random":
        return _Behaviour(lambda raw, flat: rng.uniform(-1.0, 1.0, action_dim), "uniform random")
    if os.path.exists(policy):
        from guidedrl.training.run import load

        run = load(policy, trust_code=trust_code)
        if (run.obs_dim, run.action_dim) != (obs_dim, action_dim):
            raise ConfigError(
                f"the policy {policy!r} acts on observations of shape ({run.obs_dim},) with actions of shape "
                f"({run.action_dim},); {env_id!r} has ({obs_dim},) and ({action_dim},)"
            )
        name = f"guidedrl {run.config.algo}/{run.config.guidance} policy {os.path.abspath(policy)}"
        return _Behaviour(lambda raw, flat: np.asarray(run.act_normalized(flat), np.float64), name)
    if ":" in policy:
        return _env_unit_behaviour(_import_policy(policy), policy, low, high)
    raise ConfigError(f"unknown policy {policy!r}: expected {POLICY_KINDS} (no such path exists)")


def _import_policy(spec: str) -> Callable:
    """The callable ``module:attr`` names: ``attr`` itself when it takes an observation, or what
    calling it with no argument returns (a factory)."""
    module_name, _, attr = spec.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot load policy {spec!r}: {type(error).__name__}: {error}") from None
    if not callable(target):
        raise ConfigError(f"policy {spec!r} is a {type(target).__name__}, expected a callable obs -> action")
    if _takes_no_argument(target):
        target = target()
        if not callable(target):
            raise ConfigError(
                f"policy {spec!r} is a factory that returned a {type(target).__name__}; expected a callable obs -> action"
            )
    return target


def _takes_no_argument(fn: Callable) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   for p in parameters)


class _BadAction(Exception):
    """A user's policy returned something that is not an action of the env (the message says what)."""


def _env_unit_behaviour(fn: Callable, name: str, low: np.ndarray, high: np.ndarray) -> _Behaviour:
    """A user's ``policy(obs) -> action`` in the env's units, given the env's own observation."""

    def normalized(raw: Any, flat: np.ndarray) -> np.ndarray:
        action = fn(raw)
        try:
            values = np.asarray(action, np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise _BadAction(f"returned {action!r}, expected {low.shape[0]} numbers (env units)") from None
        if values.shape != low.shape:
            raise _BadAction(f"returned an action of shape {np.shape(action)}, expected {tuple(low.shape)} (env units)")
        if not np.all(np.isfinite(values)):
            raise _BadAction(f"returned a non-finite action {values.tolist()}")
        return normalize_actions(values, low, high)

    return _Behaviour(normalized, name)


# -- collecting -------------------------------------------------------------------------------


def collect(
    env_id: str,
    policy: Union[str, Callable],
    episodes: int,
    dataset_id: str,
    noise: float = 0.0,
    epsilon: float = 0.0,
    seed: int = 0,
    command: Optional[str] = None,
    *,
    guide: str = DEFAULT_GUIDE,
    max_episode_steps: Optional[int] = None,
    author: Optional[str] = None,
    author_email: Optional[str] = None,
    code_permalink: Optional[str] = None,
    trust_code: bool = False,
    progress: bool = False,
) -> Path:
    """Roll out ``policy`` on ``env_id`` for ``episodes`` episodes and write them as the Minari
    dataset ``dataset_id`` (``NAMESPACE/NAME-vN``) in the local store; returns its directory.

    ``policy`` is ``"guide"`` (the guide ``guide`` names, by default the built-in task's own, as
    ``--guide`` takes it: its action a_g(s) everywhere, its confidence ignored), ``"random"``
    (uniform over the action bounds), the path of a run directory or checkpoint (its deployed
    policy, deterministic; a file naming code to import needs ``trust_code``), ``module:attr``
    (a callable ``obs -> action`` in the env's units, given the env's own observation, or a
    factory of one; importing runs that module's code), or such a callable itself.

    ``noise`` σ adds Gaussian noise in the normalised [-1, 1] action space, then clips;
    ``epsilon`` p replaces the action by a uniform random one with probability p. The actions
    written are those executed, in the env's units. Same ``seed``, same dataset: episode k
    resets with a seed derived from (seed, k) and noise draws from a generator seeded by
    ``seed``. ``max_episode_steps`` truncates longer episodes (an env without a time limit needs
    it). ``command`` (the command line, recorded in the metadata) defaults to the Python call."""
    minari = import_minari()
    if command is None:
        command = (f"guidedrl.offline.collect({env_id!r}, {policy!r}, {episodes!r}, {dataset_id!r}, noise={noise!r}, "
                   f"epsilon={epsilon!r}, seed={seed!r}, guide={guide!r}, max_episode_steps={max_episode_steps!r})")
    _check_positive_int(episodes, "episodes")
    if max_episode_steps is not None:
        _check_positive_int(max_episode_steps, "max_episode_steps")
    if not (isinstance(noise, (int, float)) and np.isfinite(noise) and noise >= 0.0):
        raise ConfigError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    if not (isinstance(epsilon, (int, float)) and 0.0 <= epsilon <= 1.0):
        raise ConfigError(f"epsilon must be a probability in [0, 1], got {epsilon!r}")
    if not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    path = check_new_id(dataset_id)

    made = make_env(env_id)
    raw = _below_guidedrl_wrappers(made)
    low, high = (np.asarray(bound, np.float64) for bound in action_bounds(made))
    obs_dim = int(gym.spaces.flatdim(made.observation_space))
    rng = np.random.default_rng(np.random.SeedSequence([seed, _NOISE_STREAM]))
    behaviour = _behaviour(policy, env_id, guide, obs_dim, low, high, seed, rng, trust_code)
    name = behaviour.name + (f", noise {noise:g}" if noise else "") + (f", epsilon {epsilon:g}" if epsilon else "")

    buffers = []
    try:
        for episode in _progress(range(episodes), progress, f"collecting {episodes} episodes of {env_id}"):
            buffers.append(_rollout(raw, env_id, behaviour, episode, seed, noise, epsilon, rng, low, high,
                                    max_episode_steps))
    finally:
        made.close()

    env_name = raw.spec.id if raw.spec is not None else env_id
    description = (f"{episodes} episodes of {env_name} collected by guidedrl {__version__} with {name} "
                   f"(seed {seed}; episode k resets with a seed derived from (seed, k); actions in the env's units). "
                   f"Command: {command}")
    extra = {COMMAND_KEY: command, VERSION_KEY: __version__}
    if behaviour.reference_return is not None and max_episode_steps is None:  # comparable: full episodes
        extra[GUIDE_RETURN_KEY] = float(behaviour.reference_return)
    env_spec = raw.spec
    if env_spec is not None and max_episode_steps is not None:  # the env the episodes came from
        env_spec = dataclasses.replace(env_spec, max_episode_steps=max_episode_steps)
    _write(minari, dataset_id, path, buffers, raw, env_spec, name, description, extra, author, author_email,
           code_permalink)
    return path


def _rollout(raw: gym.Env, env_id: str, behaviour: _Behaviour, episode: int, seed: int, noise: float,
             epsilon: float, rng: np.random.Generator, low: np.ndarray, high: np.ndarray,
             max_episode_steps: Optional[int]):
    """One episode as a Minari ``EpisodeBuffer`` (observations T+1, the rest T)."""
    from minari.data_collector import EpisodeBuffer

    reset_seed = episode_seed(seed, episode)
    obs, _ = _env_call(lambda: raw.reset(seed=reset_seed), env_id, episode, "at its reset")
    observations, actions, rewards, terminations, truncations = [obs], [], [], [], []
    catastrophes: List[Optional[bool]] = [False]  # one per observation (Minari's infos): the reset's first
    action_space = raw.action_space
    while True:
        step = len(actions)
        flat = _flat(raw.observation_space, obs)
        if not np.all(np.isfinite(flat)):
            raise EnvError(f"the env {env_id!r} gave a non-finite observation {flat.tolist()} at episode {episode}, "
                           f"step {step}")
        try:
            normalized = np.asarray(behaviour.normalized(obs, flat), np.float64).reshape(-1)
        except _BadAction as bad:
            raise DatasetError(f"the policy {behaviour.name!r} {bad} at episode {episode}, step {step}") from None
        except GuidedRLError:
            raise
        except Exception as error:
            raise DatasetError(
                f"the policy {behaviour.name!r} failed at episode {episode}, step {step}: "
                f"{type(error).__name__}: {' '.join(str(error).split())}"
            ) from error
        if normalized.shape != low.shape or not np.all(np.isfinite(normalized)):
            raise DatasetError(
                f"the policy {behaviour.name!r} gave the action {normalized.tolist()} (in [-1, 1]) at episode "
                f"{episode}, step {step}; expected {low.shape[0]} finite values"
            )
        if epsilon and rng.random() < epsilon:
            normalized = rng.uniform(-1.0, 1.0, low.shape[0])
        elif noise:
            normalized = normalized + noise * rng.standard_normal(low.shape[0])
        normalized = np.clip(normalized, -1.0, 1.0)
        action = denormalize_actions(normalized, low, high).astype(action_space.dtype).reshape(action_space.shape)
        action = np.clip(action, action_space.low, action_space.high)
        obs, reward, terminated, truncated, info = _env_call(lambda: raw.step(action), env_id, episode,
                                                             f"at step {step}")
        catastrophes.append(bool(info["catastrophe"]) if isinstance(info, dict) and "catastrophe" in info else None)
        if not np.isfinite(reward):
            raise EnvError(f"the env {env_id!r} gave a non-finite reward {reward} at episode {episode}, step {step}")
        truncated = bool(truncated) or (max_episode_steps is not None and step + 1 >= max_episode_steps)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        terminations.append(bool(terminated))
        truncations.append(truncated)
        if terminated or truncated:
            break
    # the catastrophe labels the risk confidence learns from, where the env reports them at every step
    infos = {"catastrophe": np.asarray(catastrophes, bool)} if None not in catastrophes[1:] else None
    return EpisodeBuffer(id=episode, seed=reset_seed, observations=_stack(observations), actions=np.stack(actions),
                         rewards=rewards, terminations=terminations, truncations=truncations, infos=infos)


def _env_call(call: Callable[[], Any], env_id: str, episode: int, when: str) -> Any:
    """The env's reset or step; its failure is an :class:`EnvError` naming the env, episode and step."""
    try:
        return call()
    except GuidedRLError:
        raise
    except Exception as error:
        raise EnvError(f"the env {env_id!r} failed in episode {episode} {when}: {type(error).__name__}: "
                       f"{' '.join(str(error).split())}") from error


# -- a run's replay buffer --------------------------------------------------------------------


def from_run(
    run_dir: Union[str, os.PathLike],
    dataset_id: str,
    command: Optional[str] = None,
    *,
    author: Optional[str] = None,
    author_email: Optional[str] = None,
    code_permalink: Optional[str] = None,
    trust_code: bool = False,
) -> Path:
    """Export the replay buffer of a training run (its ``checkpoint/``) as the Minari dataset
    ``dataset_id``; returns its directory.

    The stored rows are written in time order (once the ring buffer has wrapped, the oldest row
    is at its ``position``), actions converted from [-1, 1] to the env's units with the run's
    bounds, split into episodes where a row is terminated or truncated (and where a row's s' is
    not the next row's s, which the loop never writes). The first episode, when the wrap cut
    its start, and the last, unfinished one are exported as they are, the last marked truncated
    at its last step. A preloaded dataset kept beside the ring buffer is not exported. The env
    the run names is made for its spaces and spec; one that would import a module
    (``module:EnvName``) needs ``trust_code``."""
    minari = import_minari()
    if command is None:
        command = f"guidedrl.offline.from_run({str(run_dir)!r}, {dataset_id!r})"
    meta = checkpoint.read_meta(run_dir)
    state = checkpoint.load_replay_state(meta)
    path = check_new_id(dataset_id)
    config = meta.get("config") or {}
    try:
        low = np.asarray(meta["action_low"], np.float64)
        high = np.asarray(meta["action_high"], np.float64)
        env_id = str(config["env"])
        capacity, position, size = int(state["capacity"]), int(state["position"]), int(state["size"])
        data = {name: np.asarray(state["data"][name], np.float32) for name in
                ("obs", "action", "reward", "next_obs", "terminated", "truncated")}
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"corrupt checkpoint {meta['directory']!r}: {type(error).__name__}: {error}"
        ) from None
    if size == 0:
        raise DatasetError(f"the replay buffer of {str(run_dir)!r} is empty: nothing to export")
    order = (position + np.arange(size)) % capacity if size == capacity else np.arange(size)
    rows = {name: array[order] for name, array in data.items()}

    raw = _env_for_export(env_id, meta, trust_code)
    try:
        buffers = _replay_episodes(rows, raw, low, high, str(run_dir), env_id)
    finally:
        raw.close()

    algo, guidance = config.get("algo", "?"), config.get("guidance", "?")
    guide_name = meta.get("guide") or config.get("guide")
    name = f"guidedrl {algo}/{guidance} replay buffer" + (f" (guide {guide_name})" if guidance != "none" else "")
    step = meta.get("step")
    description = (f"The replay buffer of the guidedrl {__version__} run {os.path.abspath(str(run_dir))} "
                   f"({algo}/{guidance} on {env_id}, seed {config.get('seed')}"
                   + (f", saved at step {step}" if step is not None else "")
                   + f"): {size} transitions in time order, in {len(buffers)} episodes; actions in the env's units. "
                   f"Command: {command}")
    extra = {COMMAND_KEY: command, VERSION_KEY: __version__}
    _write(minari, dataset_id, path, buffers, raw, raw.spec, name, description, extra, author, author_email,
           code_permalink)
    return path


def _replay_episodes(rows: Dict[str, np.ndarray], raw: gym.Env, low: np.ndarray, high: np.ndarray, run_dir: str,
                     env_id: str) -> list:
    """Time-ordered replay rows as Minari ``EpisodeBuffer`` s, in the env's own spaces and units."""
    from minari.data_collector import EpisodeBuffer

    obs_space, action_space = raw.observation_space, raw.action_space
    if gym.spaces.flatdim(obs_space) != rows["obs"].shape[1]:
        raise DatasetError(
            f"the replay buffer of {run_dir!r} holds observations of shape ({rows['obs'].shape[1]},); the env "
            f"{env_id!r} has {obs_space}"
        )
    if action_space.shape != low.shape:
        raise DatasetError(
            f"the replay buffer of {run_dir!r} holds actions of shape {low.shape}; the env {env_id!r} has {action_space}"
        )
    actions = denormalize_actions(rows["action"], low, high).astype(action_space.dtype)
    actions = np.clip(actions, action_space.low, action_space.high)
    buffers = []
    for episode, (start, stop) in enumerate(_episode_bounds(rows)):
        observations = np.concatenate([rows["obs"][start:stop], rows["next_obs"][stop - 1:stop]])
        terminations = rows["terminated"][start:stop] > 0.5
        truncations = rows["truncated"][start:stop] > 0.5
        if not (terminations[-1] or truncations[-1]):
            truncations[-1] = True  # the unfinished last episode (or one cut where s' is not the next s)
        cost = rows["cost"][start:stop] if "cost" in rows else np.full(stop - start, -1.0)
        known = bool(np.all(cost >= 0.0))  # the run's catastrophe labels, where its env reported them
        buffers.append(EpisodeBuffer(
            id=episode, observations=_unflatten_rows(obs_space, observations), actions=actions[start:stop],
            rewards=rows["reward"][start:stop].astype(np.float64).tolist(),
            terminations=terminations.tolist(), truncations=truncations.tolist(),
            infos={"catastrophe": np.concatenate([[False], cost >= 1.0])} if known else None))
    return buffers


def _episode_bounds(rows: Dict[str, np.ndarray]) -> List[Tuple[int, int]]:
    """(start, stop) of each episode in time-ordered rows: a row ends one when it is terminated
    or truncated, or when its s' is not the next row's s."""
    count = len(rows["reward"])
    ends = (rows["terminated"] > 0.5) | (rows["truncated"] > 0.5)
    ends[:-1] |= np.any(rows["next_obs"][:-1] != rows["obs"][1:], axis=1)
    ends[-1] = True
    stops = np.flatnonzero(ends) + 1
    starts = np.concatenate([[0], stops[:-1]])
    assert stops[-1] == count
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def _env_for_export(env_id: str, meta: dict, trust_code: bool) -> gym.Env:
    """The env a run was trained on (below guidedrl's wrappers), for its spaces and spec."""
    check_env_id(env_id, trust_code, os.path.join(meta["directory"], checkpoint.META))
    try:
        return _below_guidedrl_wrappers(make_env(env_id))
    except EnvError as error:
        raise DatasetError(
            f"cannot make the env {env_id!r} the run was trained on, whose spaces and spec the dataset records: {error}"
        ) from None


# -- writing ----------------------------------------------------------------------------------


_NONE_WARNINGS = r"`(code_permalink|author|author_email|description|eval_env)` is set to None"


def _write(minari: Any, dataset_id: str, path: Path, buffers: list, raw: gym.Env, env_spec: Any,
           algorithm_name: str, description: str, extra: Dict[str, Any], author: Optional[str],
           author_email: Optional[str], code_permalink: Optional[str]) -> None:
    """Create the dataset from its episodes (spaces: the raw env's; env spec: ``env_spec``, or
    none when the env has no spec), then add guidedrl's own metadata keys and the per-episode
    statistics Minari's DataCollector writes (rewards_sum, ...); a failure removes what was
    written."""
    try:
        with warnings.catch_warnings():
            # Minari warns for each provenance field left None (which we leave None unless given)
            warnings.filterwarnings("ignore", message=_NONE_WARNINGS, category=UserWarning)
            dataset = minari.create_dataset_from_buffers(
                dataset_id, buffers, env=env_spec, algorithm_name=algorithm_name, author=author,
                author_email=author_email, code_permalink=code_permalink,
                observation_space=raw.observation_space, action_space=raw.action_space, description=description,
            )
        dataset.storage.update_metadata(extra)
        statistics = minari.EpisodeMetadataCallback()
        dataset.storage.update_episode_metadata(dataset.storage.apply(statistics))
    except BaseException as error:
        shutil.rmtree(path, ignore_errors=True)
        if isinstance(error, (GuidedRLError, KeyboardInterrupt)) or not isinstance(error, Exception):
            raise
        raise DatasetError(
            f"cannot write dataset {dataset_id!r} at {str(path)!r}: {type(error).__name__}: "
            f"{' '.join(str(error).split())}"
        ) from error


# -- helpers ----------------------------------------------------------------------------------


def _below_guidedrl_wrappers(env: gym.Env) -> gym.Env:
    """The env under the wrappers :func:`~guidedrl.envs.make_env` adds (action rescaling,
    observation flattening): what a dataset records, in the env's own units and spaces."""
    while isinstance(env, (gym.wrappers.RescaleAction, gym.wrappers.FlattenObservation)):
        env = env.env
    return env


def _flat(space: gym.Space, obs: Any) -> np.ndarray:
    """The observation as the agent sees it (``FlattenObservation``, then float32)."""
    return np.asarray(gym.spaces.flatten(space, obs), np.float32).reshape(-1)


def _stack(rows: List[Any]) -> Any:
    """Per-step observations stacked along a first axis, through dicts and tuples."""
    first = rows[0]
    if isinstance(first, dict):
        return {key: _stack([row[key] for row in rows]) for key in first}
    if isinstance(first, tuple):
        return tuple(_stack([row[i] for row in rows]) for i in range(len(first)))
    return np.stack([np.asarray(row) for row in rows])


def _unflatten_rows(space: gym.Space, flat: np.ndarray) -> Any:
    """Flattened float32 observations back into the env's space (``gymnasium.spaces.unflatten``)."""
    if isinstance(space, gym.spaces.Box):
        return flat.reshape((flat.shape[0],) + space.shape).astype(space.dtype)
    return _stack([gym.spaces.unflatten(space, row) for row in flat])


def _progress(items: range, show: bool, description: str):
    if not show:
        return items
    from rich.progress import track

    return track(items, description=description, transient=True)


def _check_positive_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


__all__ = ["collect", "from_run", "episode_seed", "check_new_id"]
