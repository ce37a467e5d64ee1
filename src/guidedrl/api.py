"""The Python entry points: ``train``, ``load``, ``evaluate``."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import gymnasium as gym

from guidedrl.config import Config
from guidedrl.envs import env_id_of
from guidedrl.jaxenvs.base import JaxEnv
from guidedrl.training.loop import train as _train_loop
from guidedrl.training.run import Run, evaluate, load


def train(
    env: Union[str, gym.Env, Callable[[], gym.Env]] = "Pendulum-v1",
    algo: str = "sac",
    guidance: str = "none",
    guide: Any = None,
    steps: int = 20_000,
    seed: int = 0,
    out: Optional[str] = None,
    eval_env: Union[str, gym.Env, Callable[[], gym.Env], None] = None,
    on_evaluation: Optional[Callable[[dict, Run], None]] = None,
    **config: Any,
) -> Run:
    """Train an agent on ``env`` and return it as a :class:`~guidedrl.Run`.

    ``env`` is a Gymnasium id, an ``Env`` instance (any wrapper of yours: evaluations run on deep
    copies of it) or a zero-argument factory (called for the training env and each evaluation
    env); ``eval_env`` likewise, default: from ``env``.

    ``config`` takes every ``guidedrl train`` option in snake_case (``hidden_sizes``,
    ``batch_size``, ``learning_starts``, ``eval_every``, ...). With ``out`` None nothing
    is written to disk; with a directory you get config.json, metrics.csv, TensorBoard
    events and checkpoints there, as from the command line.

    ``env`` may also be a JAX environment (``"gymnax/Pendulum-v1"``, ``"jax/PointReach-v0"`` or a
    :class:`~guidedrl.jaxenvs.JaxEnv`), trained on the jitted path, its guide then a
    :class:`~guidedrl.jaxenvs.JaxGuide`; ``seeds=K`` trains K seeds side by side there.

    ``guide`` is a :class:`~guidedrl.Guide` or, as ``--guide`` takes, a name (``"default"``:
    the built-in task's own guide), ``module:attr`` or a checkpoint path.
    ``on_evaluation(row, run)`` is called after each evaluation.
    """
    settings = Config.from_dict(dict(
        config, env=env.name if isinstance(env, JaxEnv) else env_id_of(env), algo=algo, guidance=guidance, steps=steps, seed=seed, out=out,
    ))
    return _train_loop(settings, guide=guide, env=None if isinstance(env, str) else env,
                       eval_env=eval_env, on_evaluation=on_evaluation)


__all__ = ["train", "load", "evaluate", "Run"]
