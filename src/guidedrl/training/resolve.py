"""The one resolution path: what a user asked for (CLI options or Python arguments) turned into
the run to train — its final config, its envs and its bound guide.

Every rewrite of a run's config happens here, in this order, and nowhere else:

1. a ``--resume``: the checkpoint's saved config, with this call's ``progress``, ``debug`` and
   ``trust_code`` (and the guide, if it is named again);
2. the guide arrives through one channel, ``guide: str | Guide``: a name (``"default"``,
   ``module:attr``, a checkpoint path) is recorded in ``config.guide``; a Python object is not
   something a file can name, so ``config.guide`` is cleared for it;
3. the implicit default guide is dropped when the strategy uses none; and where the user chose
   neither a strategy nor a guide and the task has no built-in guide (``chosen`` names what they
   chose; the CLI passes its typed options), the run trains the backbone alone, and says so;
4. the CLI's run directory when ``--out`` is not given (``default_out``);
5. the env id of an ``Env`` instance or factory;
6. ``--confidence risk`` on an env that reports neither ``info["catastrophe"]`` nor
   ``info["cost"]`` runs as q-gap, and says so once (a ``RuntimeWarning``).

A JAX environment (``gymnax/<task>``, ``jax/<task>``: the jitted path,
:mod:`guidedrl.training.scanned`) takes the same path; its envs are one
:class:`~guidedrl.jaxenvs.JaxEnv` and its guide a :class:`~guidedrl.jaxenvs.JaxGuide`
(a built-in one by name, or one given from Python). ``--seeds K`` above 1 needs one.

``guidedrl train`` and ``guidedrl.train()`` both arrive here (through
:func:`guidedrl.training.loop.train`); their defaults differ only where docs/DESIGN.md says why.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, List, Optional, Tuple, Union

import gymnasium as gym
import numpy as np

from guidedrl.config import DEFAULT_GUIDE, Config
from guidedrl.envs import check_env_id, env_id_of, is_factory, make_env, task_of
from guidedrl.errors import CheckpointError, ConfigError, EnvError
from guidedrl.guidance import get_strategy
from guidedrl.guides.registry import DEFAULT, find_guide
from guidedrl.jaxenvs import JaxEnv, JaxGuide, find_jax_guide, is_jax_env, jax_guide_names, make_jax_env
from guidedrl.names import resolve_guide
from guidedrl import checkpoint
from guidedrl.training.evaluate import EVAL_SEED_OFFSET
from guidedrl.training.state import default_out as default_out_dir
from guidedrl.training.state import describe

SEEDS_FILE = "seeds.json"
"""Seeds trained side by side (``--seeds K``) write their directories in this file of ``--out``."""

EnvSource = Union[str, gym.Env, Callable[[], gym.Env], None]


@dataclass
class Resolved:
    """The run to train: the final config, its strategy, the bound guide, the envs and, when
    resuming, the checkpoint's metadata."""

    config: Config
    strategy: Any
    guide: Any
    train_env: gym.Env
    eval_envs: List[gym.Env]
    resume_meta: Optional[dict]


def resolve(config: Config, guide: Any = None, env: EnvSource = None, eval_env: EnvSource = None, *,
            chosen: Optional[Collection[str]] = None, default_out: bool = False,
            say: Optional[Callable[[str], None]] = None) -> Resolved:
    """Resolve a request into the run to train (the module's docstring lists every rewrite).

    ``chosen``: the config fields the user named (None: all of them, as from Python);
    ``default_out``: give the run a directory under ``runs/`` when ``config.out`` is None (the
    CLI; from Python no ``out`` means nothing is written); ``say``: where notes go (default:
    nowhere but the returned config)."""
    config, resume_meta = resolve_config(config)
    if isinstance(guide, str):
        config, guide = config.replace(guide=guide), None
    strategy = get_strategy(config.guidance)
    if not strategy.uses_guide and config.guide == DEFAULT_GUIDE:
        config = config.replace(guide=None)  # the implicit default guide means nothing without guidance
    if (resume_meta is None and guide is None and chosen is not None and not {"guidance", "guide"} & set(chosen)
            and config.guide == DEFAULT_GUIDE and isinstance(env, (str, type(None)))
            and not _has_default_guide(env if env is not None else config.env)):
        if say is not None:
            say(f"{config.env} has no default guide: training {config.algo} alone (--guidance none); "
                "--guide NAME|module:attr|PATH gives it one")
        config, strategy = config.replace(guidance="none", guide=None), get_strategy("none")
    if default_out and config.out is None and config.resume is None:
        config = config.replace(out=default_out_dir(config))
    if env is None and resume_meta is not None:  # the env id came from the checkpoint's files
        check_env_id(config.env, config.trust_code, os.path.join(resume_meta["directory"], checkpoint.META))
    source = env if env is not None else config.env
    if is_jax_env(source):
        return _resolve_jax(config, strategy, guide, source, resume_meta)
    if config.seeds > 1:
        raise ConfigError(f"--seeds {config.seeds} trains seeds side by side on the jitted path, for JAX envs "
                          f"(gymnax/<task>, jax/<task>); {config.env!r} is a Gymnasium env: one seed per run")
    modes = 2 if strategy.uses_guide else 1  # the deployed policy, and the actor alone beside it
    train_env, eval_envs = build_envs(source, eval_env, modes * config.eval_episodes)
    if env is not None:  # an id, an instance or a factory: the id of the env it made
        config = config.replace(env=env_id_of(train_env.unwrapped if is_factory(env) else env))
    if config.confidence == "risk" and not reports_catastrophes(eval_envs[0], config.seed):
        warnings.warn(f"the env {config.env!r} reports no info['catastrophe'] or info['cost']: the risk "
                      "confidence has nothing to learn its risk from and runs as q-gap", RuntimeWarning)
        config = config.replace(confidence="q-gap")
    if guide is not None and config.guide is not None:
        config = config.replace(guide=None)  # a guide object from Python: nothing a file can name
    guide = bind_guide(config, strategy, guide, train_env, resume_meta)
    return Resolved(config, strategy, guide, train_env, eval_envs, resume_meta)


def _resolve_jax(config: Config, strategy: Any, guide: Any, source: Any, resume_meta: Optional[dict]) -> Resolved:
    """Steps 5-6 and the guide for a JAX environment: the env object, its id, its guide."""
    env = source if isinstance(source, JaxEnv) else make_jax_env(source)
    config = config.replace(env=env.name)
    if config.confidence == "risk" and not env.reports_catastrophes:
        warnings.warn(f"the env {config.env!r} reports no catastrophes: the risk confidence has nothing to learn "
                      "its risk from and runs as q-gap", RuntimeWarning)
        config = config.replace(confidence="q-gap")
    if guide is not None and not isinstance(guide, JaxGuide):
        raise ConfigError(f"a JAX env's guide is a guidedrl.jaxenvs.JaxGuide (a traceable function); got "
                          f"{type(guide).__name__}")
    if guide is not None:
        config = config.replace(guide=None)
    elif config.guide is not None:
        guide = find_jax_guide(config.guide, env.name)
        if guide is None:
            known = ", ".join(jax_guide_names(env.name)) or "none"
            raise ConfigError(f"{env.name!r} has no built-in JAX guide {config.guide!r} (it has: {known}); give a "
                              "guidedrl.jaxenvs.JaxGuide from Python")
    if strategy.uses_guide and guide is None:
        raise ConfigError(f"guidance {config.guidance!r} needs a guide: pass --guide (CLI) or guide= (Python)")
    if guide is not None and config.guide_region != "default":
        guide = _jax_region(guide, config.guide_region)
    return Resolved(config, strategy, guide, env, [], resume_meta)


def _jax_region(guide: JaxGuide, region: str) -> JaxGuide:
    """``--guide-region`` on a traceable guide: ``always`` (λ = 1) or ``none-region`` (λ = 0)."""
    import jax.numpy as jnp

    if region not in ("always", "none-region"):
        raise ConfigError(f"--guide-region {region} is not available for a JAX guide (always, none-region are)")
    value = 1.0 if region == "always" else 0.0
    return JaxGuide(lambda obs: (guide.fn(obs)[0], jnp.full((), value, jnp.float32)),
                    name=f"{guide.name}[{region}]", made_for=guide.made_for)


def _has_default_guide(env_id: str) -> bool:
    """Whether ``env_id`` is a built-in task with a default guide in the guide registry."""
    if is_jax_env(env_id):
        return find_jax_guide(DEFAULT, env_id) is not None
    try:
        task = task_of(env_id)
    except EnvError:
        return False
    return find_guide(DEFAULT, task.id) is not None


def resolve_config(config: Config) -> Tuple[Config, Optional[dict]]:
    """The config to run: ``config`` itself, or the resumed run's saved one (with this call's
    ``progress``, ``debug`` and ``trust_code``, and the guide if it is named again)."""
    if config.resume is None:
        return config, None
    group = Path(config.resume) / SEEDS_FILE  # seeds trained side by side: each in its own directory
    first = json.loads(group.read_text())["directories"][0] if group.is_file() else config.resume
    meta = checkpoint.read_meta(first)
    if meta.get("kind") != "training":
        raise CheckpointError(
            f"checkpoint {meta['directory']!r} is a policy checkpoint; resuming needs a run's training checkpoint"
        )
    saved = Config.from_dict(meta["config"])
    named = config.guide if config.guide not in (None, DEFAULT_GUIDE) else None
    out = config.resume if group.is_file() else str(Path(meta["directory"]).parent)
    resumed = saved.replace(resume=config.resume, out=out, seed=int(meta.get("seeds", [saved.seed])[0]),
                            progress=config.progress, debug=config.debug, trust_code=config.trust_code,
                            **({"guide": named} if named is not None else {}))
    meta["guide_named_again"] = named is not None
    return resumed, meta


def build_envs(source: EnvSource, eval_source: EnvSource, episodes: int) -> Tuple[gym.Env, List[gym.Env]]:
    """The training env and one evaluation env per evaluation episode (run side by side)."""
    train_env = make_env(source)
    eval_source = eval_source if eval_source is not None else source
    return train_env, [make_env(eval_source, copy_instance=True) for _ in range(episodes)]


def reports_catastrophes(env: gym.Env, seed: int) -> bool:
    """Whether ``env`` (an evaluation env: every evaluation resets it with its own seed) puts a
    catastrophe flag or a cost in its infos, read from a reset and one step of the middle action."""
    try:
        _, info = env.reset(seed=seed + EVAL_SEED_OFFSET)
        if isinstance(info, dict) and ("catastrophe" in info or "cost" in info):
            return True
        *_, info = env.step(np.zeros(env.action_space.shape, env.action_space.dtype))
    except Exception as error:
        raise EnvError(f"the env {env_id_of(env)!r} failed at a reset and one step before training (to read "
                       f"whether it reports catastrophes): {describe(error)}") from error
    return isinstance(info, dict) and ("catastrophe" in info or "cost" in info)


def bind_guide(config: Config, strategy: Any, guide: Any, train_env: gym.Env, resume_meta: Optional[dict]):
    """The run's guide (given, or resolved from ``config.guide``), bound to the env's sizes and seeded."""
    obs_dim = int(np.prod(train_env.observation_space.shape))
    action_dim = int(np.prod(train_env.action_space.shape))
    if guide is not None:
        guide = resolve_guide(guide, config.env, region=config.guide_region)
    elif config.guide is not None:
        from_file = resume_meta is not None and not resume_meta.get("guide_named_again")
        guide = resolve_guide(config.guide, config.env, region=config.guide_region,
                              trust_code=not from_file or config.trust_code,
                              source=os.path.join(resume_meta["directory"], checkpoint.META) if from_file else None)
    if strategy.uses_guide and guide is None:
        raise ConfigError(
            f"guidance {config.guidance!r} needs a guide: pass --guide (CLI) or guide= (Python)"
            + ("; this run's guide was given from Python, so resume it from Python with guide="
               if resume_meta is not None else "")
        )
    if guide is not None:
        guide.bind(obs_dim, action_dim, config.env)
        guide.seed(int(np.random.SeedSequence([config.seed, 2]).generate_state(1)[0]))
    return guide
