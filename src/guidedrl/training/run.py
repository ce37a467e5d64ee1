"""A trained (or training) agent as users hold it: ``run.act(obs)``, ``run.save``, ``guidedrl.load``.

:class:`Run` is the agent with its guide; a checkpoint's bare contents, read without resolving
anything a file names, are a :class:`guidedrl.policy.Policy`, which :func:`load` starts from."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, List, Optional, Union

import gymnasium as gym
import numpy as np

from guidedrl import agent, checkpoint
from guidedrl.config import Config
from guidedrl.envs import check_env_id, make_env
from guidedrl.errors import GuidedRLError
from guidedrl.guidance import get_strategy
from guidedrl.names import resolve_guide
from guidedrl.policy import act_normalized, read_policy
from guidedrl.training.evaluate import evaluate_policy
from guidedrl.training.logging import read_metrics
from guidedrl.version import __version__


class Run:
    """The agent a user holds: its config, its agent state, the spaces it acts in, and
    (optionally) its guide — what :func:`guidedrl.train` returns (the loop updates it while it
    trains) and :func:`load` gives. A checkpoint's contents alone are a
    :class:`guidedrl.policy.Policy`.

    ``act`` takes a raw observation and returns an action in the environment's own
    units (the agent works in [-1, 1]; ``act`` maps back with the stored bounds).

    ``source`` is the metadata file a loaded run was read from (None for one trained in this
    process); ``trust_code`` says whether its ``config.env`` may be made when it names a module
    to import (``module:EnvName``): :func:`load` sets it, a run trained here is trusted.
    """

    def __init__(
        self,
        config: Config,
        state: agent.AgentState,
        obs_dim: int,
        action_low: List[float],
        action_high: List[float],
        guide: Any = None,
        directory: Optional[Union[str, os.PathLike]] = None,
        *,
        trust_code: bool = True,
        source: Optional[str] = None,
    ):
        self.config = config
        self._agent_config = config.agent
        self.state = state
        self.obs_dim = int(obs_dim)
        self.action_low = np.asarray(action_low, np.float32)
        self.action_high = np.asarray(action_high, np.float32)
        self.guide = guide
        self.directory = Path(directory) if directory is not None else None
        self.history: List[dict] = []  # the evaluation rows of the training call that made this run
        self.trust_code = bool(trust_code)
        self.source = source

    @property
    def state(self) -> agent.AgentState:
        """The agent state pytree (while training, unpacked from the loop's buffers when read)."""
        if self._state is None:
            from guidedrl.training.flat import unpack

            self._state = unpack(*self._packed)
        return self._state

    @state.setter
    def state(self, state: agent.AgentState) -> None:
        self._state, self._packed = state, None

    def set_packed(self, packing: Any, flat: Any) -> None:
        """Hold the state as the training loop's packed buffers (see :mod:`guidedrl.training.flat`)."""
        self._state, self._packed = None, (packing, flat)

    @property
    def action_dim(self) -> int:
        return int(self.action_low.shape[0])

    def act_normalized(self, obs: np.ndarray, guide_free: bool = False) -> np.ndarray:
        """The deterministic action in [-1, 1]^d (deployed policy, or the actor alone)."""
        return act_normalized(self._agent_config, self.state, obs, self.obs_dim, self.action_dim,
                              self.guide, guide_free)

    def act(self, obs: np.ndarray, guide_free: bool = False) -> np.ndarray:
        """The deterministic action in the environment's units.

        The affine map from [-1, 1] is computed in float64 and rounded once to float32, so it is
        exact where it can be (e.g. symmetric bounds: twice the normalised action on Pendulum);
        in float32, ``low + (a + 1) (high - low) / 2`` loses up to an ulp of ``high`` to
        cancellation on actions near the middle of the range."""
        normalized = self.act_normalized(obs, guide_free).astype(np.float64)
        low, high = self.action_low.astype(np.float64), self.action_high.astype(np.float64)
        return (0.5 * (high + low) + normalized * 0.5 * (high - low)).astype(np.float32)

    def meta(self) -> dict:
        """What a checkpoint records beside the state (never a trust: ``trust_code`` is written
        False, so a resumed or loaded run trusts only what its caller says)."""
        return {
            "guidedrl_version": __version__,
            "config": {**self.config.to_dict(), "trust_code": False},
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "action_low": self.action_low.tolist(),
            "action_high": self.action_high.tolist(),
            "guide": getattr(self.guide, "name", None),
        }

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write a policy checkpoint (no replay buffer) that :func:`load` reads."""
        return checkpoint.save_checkpoint(path, self.meta(), self.state)

    def export(self, path: Union[str, os.PathLike], format: str = "onnx", guide_free: bool = False,
               force: bool = False) -> Path:
        """Write the deployed policy for the target (docs/DEPLOY.md): ``format`` "onnx" (one graph,
        the ``export`` extra) or "numpy" (an ``.npz`` that :mod:`guidedrl.deploy` reads with NumPy
        alone); ``guide_free``: the actor alone. An existing ``path`` is refused unless ``force``."""
        from guidedrl.export import export

        return export(self, path, format, guide_free=guide_free, force=force)

    def evaluate(self, env: Union[str, gym.Env, None] = None, episodes: int = 10,
                 guide_free: bool = False, seed: Optional[int] = None) -> dict:
        """Same as :func:`evaluate` on this run."""
        return evaluate(self, env, episodes=episodes, guide_free=guide_free, seed=seed)

    @property
    def metrics(self) -> List[dict]:
        """The rows of this run's metrics.csv (empty when the run wrote no files)."""
        return read_metrics(self.directory) if self.directory is not None else []

    def __repr__(self) -> str:
        c = self.config
        return f"Run(env={c.env!r}, algo={c.algo!r}, guidance={c.guidance!r}, seed={c.seed})"


def load(path: Union[str, os.PathLike], guide: Any = None, trust_code: bool = False) -> Run:
    """A :class:`Run` from a checkpoint directory or a run directory holding ``checkpoint/``.

    ``guide`` is the run's guide: a :class:`~guidedrl.Guide`, or a spec as ``--guide`` takes
    (named by you, so trusted). Without it, the guide the checkpoint's ``meta.json`` names is
    resolved, and the env it names is made by :func:`evaluate` when no env is given; a file that
    names code to import there (a ``module:attr`` guide, a ``module:EnvName`` env id) is refused
    with :class:`~guidedrl.errors.ConfigError`, before anything is imported, unless
    ``trust_code`` (only for files you trust: importing runs code). The file's own
    ``trust_code`` is never read. Either way the guide gets the run's ``guide_region``, as in
    training.
    """
    policy = read_policy(path)
    config, source = policy.config.replace(trust_code=False), policy.meta_path
    if guide is not None:
        guide = resolve_guide(guide, config.env, region=config.guide_region)
    elif config.guide is not None:
        guide = resolve_guide(config.guide, config.env, region=config.guide_region, trust_code=trust_code,
                              source=source)
    if guide is not None:
        guide.bind(policy.obs_dim, policy.action_dim, config.env)
    elif get_strategy(config.guidance).uses_guide:
        warnings.warn(
            f"this policy was trained with guidance {config.guidance!r} and a guide given from Python "
            f"({policy.meta.get('guide')!r}); pass guide= to load() for the deployed policy. Without it the "
            "guide never acts."
        )
    return Run(config, policy.state, policy.obs_dim, policy.action_low, policy.action_high, guide=guide,
               directory=checkpoint.run_dir_of(policy.directory), trust_code=trust_code, source=source)


def evaluate(
    run: Run,
    env: Union[str, gym.Env, None] = None,
    episodes: int = 10,
    guide_free: bool = False,
    seed: Optional[int] = None,
) -> dict:
    """Deterministic episodes of ``run`` on ``env`` (default: the env it was trained on).

    Returns ``mean_return``, ``std_return``, ``returns``, ``lengths``, ``catastrophes``
    (steps flagged by the env) and ``guide_usage``. The default env of a loaded run is the id
    its file names, refused if making it would import a module, unless the run was loaded with
    ``trust_code`` (:func:`~guidedrl.envs.check_env_id`).
    """
    if not isinstance(episodes, int) or episodes <= 0:
        raise GuidedRLError(f"episodes must be a positive integer, got {episodes!r}")
    if env is None:
        check_env_id(run.config.env, run.trust_code, run.source)
    made = make_env(env if env is not None else run.config.env, copy_instance=False)
    obs_dim = int(np.prod(made.observation_space.shape))
    if obs_dim != run.obs_dim:
        raise GuidedRLError(
            f"environment observations have {obs_dim} values; this run was trained on {run.obs_dim}"
        )
    seed = run.config.seed if seed is None else seed
    return evaluate_policy(run.config.agent, run.state, made, episodes, seed, run.guide, guide_free)
