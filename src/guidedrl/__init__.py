"""guidedrl: reinforcement learning with local guides, on JAX.

Public API (docs/DESIGN.md, "Public contract")::

    import guidedrl
    run = guidedrl.train("Pendulum-v1", algo="sac", steps=20_000, seed=0, out="runs/sac")
    action = run.act(obs)
    run.save("runs/sac/policy"); run = guidedrl.load("runs/sac/policy")
    stats = guidedrl.evaluate(run, "Pendulum-v1", episodes=10)
    check = guidedrl.check_guide("SafeCartpole-v0", "default", episodes=5)   # before training

Only re-exports, each imported when first used (``guidedrl.deploy`` needs NumPy alone, so this
file imports no JAX; it imports ``guidedrl.envs``, which registers the built-in tasks with Gymnasium,
where Gymnasium is installed): no module of the package imports this one (``__version__`` is
``guidedrl.version``), so each module's imports run one way (tests/test_imports.py).
"""

from importlib import import_module

from guidedrl.version import __version__

_EXPORTS = {
    "train": "guidedrl.api", "load": "guidedrl.api", "evaluate": "guidedrl.api",
    "check_guide": "guidedrl.guide_check", "Run": "guidedrl.training.run", "Guide": "guidedrl.guides",
    "Config": "guidedrl.config", "GuidedRLError": "guidedrl.errors", "ConfigError": "guidedrl.errors",
    "EnvError": "guidedrl.errors", "CheckpointError": "guidedrl.errors",
    "TrainingInterrupted": "guidedrl.training.state",
}
"""Public name -> the module that defines it, imported on first use (PEP 562), so that
``from guidedrl import deploy`` needs NumPy alone and ``import guidedrl`` stays light."""
_SUBMODULES = ("envs", "guides", "names", "deploy")


try:  # the built-in tasks are registered with Gymnasium on import (gym.make("guidedrl/SafeCartpole-v0"))
    from guidedrl import envs
except ModuleNotFoundError as missing:  # a target with NumPy alone, for guidedrl.deploy
    if missing.name not in ("gymnasium", "scipy", "mujoco", "dm_control"):
        raise


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = import_module(f"guidedrl.{name}")
    else:
        raise AttributeError(f"module 'guidedrl' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))


__all__ = [
    "__version__",
    "train",
    "load",
    "evaluate",
    "check_guide",
    "Run",
    "Guide",
    "guides",
    "envs",
    "names",
    "deploy",
    "Config",
    "GuidedRLError",
    "ConfigError",
    "EnvError",
    "CheckpointError",
    "TrainingInterrupted",
]
