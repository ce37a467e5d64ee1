"""guidedrl: reinforcement learning with local guides, on JAX.

Public API (DESIGN.md, "Public contract")::

    import guidedrl
    run = guidedrl.train("Pendulum-v1", algo="sac", steps=20_000, seed=0, out="runs/sac")
    action = run.act(obs)
    run.save("runs/sac/policy"); run = guidedrl.load("runs/sac/policy")
    stats = guidedrl.evaluate(run, "Pendulum-v1", episodes=10)
    check = guidedrl.check_guide("SafeCartpole-v0", "default", episodes=5)   # before training

Only re-exports: no module of the package imports this one (``__version__`` is
``guidedrl.version``), so each module's imports run one way (tests/test_imports.py).
"""

from guidedrl.version import __version__
from guidedrl.api import evaluate, load, train
from guidedrl.config import Config
from guidedrl.errors import CheckpointError, ConfigError, EnvError, GuidedRLError
from guidedrl import envs, guides, names
from guidedrl.guide_check import check_guide
from guidedrl.guides import Guide
from guidedrl.training.loop import TrainingInterrupted
from guidedrl.training.run import Run

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
    "Config",
    "GuidedRLError",
    "ConfigError",
    "EnvError",
    "CheckpointError",
    "TrainingInterrupted",
]
