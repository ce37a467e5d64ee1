"""A policy's rollouts as a Minari dataset (:func:`collect`): a built-in or named guide, a
random policy, a trained run, or a user's own ``policy(obs) -> action``.

What a dataset records and how it is written (the env's own spaces and units, its spec, the
command that made it; nothing left behind when interrupted) is :mod:`guidedrl.offline.write`.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
from pathlib import Path
from typing import Any, Callable, List, Optional, Union

import gymnasium as gym
import numpy as np

from guidedrl.config import DEFAULT_GUIDE
from guidedrl.envs import action_bounds, make_env, stored_alone, task_of
from guidedrl.errors import ConfigError, DatasetError, EnvError, GuidedRLError
from guidedrl.names import resolve_guide
from guidedrl.offline.datasets import denormalize_actions, normalize_actions
from guidedrl.offline.store import COMMAND_KEY, GUIDE_RETURN_KEY, VERSION_KEY, import_minari
from guidedrl.offline.write import below_guidedrl_wrappers, check_new_id, stack_rows, write_dataset
from guidedrl.version import __version__

POLICY_KINDS = "guide, random, a run directory or checkpoint path, or module:attr"
_NOISE_STREAM = 0x6E6F6973
"""Mixed into the seed of the generator behind noise, epsilon and the random policy, so that it
is a stream of its own beside the episodes' reset seeds."""


def episode_seed(seed: int, episode: int) -> int:
    """The reset seed of episode ``episode`` of a collection seeded ``seed``: the derivation of
    the training loop's ``episode_seed`` (not imported from it: the loop imports this package)."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


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
    raw = below_guidedrl_wrappers(made)
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
    write_dataset(minari, dataset_id, path, buffers, raw, env_spec, name, description, extra, author, author_email,
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
    return EpisodeBuffer(id=episode, seed=reset_seed, observations=stack_rows(observations), actions=np.stack(actions),
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


# -- helpers ----------------------------------------------------------------------------------


def _flat(space: gym.Space, obs: Any) -> np.ndarray:
    """The observation as the agent sees it (``FlattenObservation``, then float32)."""
    return np.asarray(gym.spaces.flatten(space, obs), np.float32).reshape(-1)


def _progress(items: range, show: bool, description: str):
    if not show:
        return items
    from rich.progress import track

    return track(items, description=description, transient=True)


def _check_positive_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


__all__ = ["collect", "episode_seed"]
