"""Errors raised to the user. Each message names the thing, the value seen and what was expected."""


class GuidedRLError(Exception):
    """Base class of every error guidedrl raises on purpose."""


class ConfigError(GuidedRLError, ValueError):
    """A configuration value, env id or output directory that cannot be used."""


class EnvError(GuidedRLError, ValueError):
    """An environment guidedrl cannot train on (unknown id, non-Box action space, ...)."""


class CheckpointError(GuidedRLError, ValueError):
    """A checkpoint that is missing, corrupt, or of another format version."""


class RunLockedError(ConfigError):
    """Another process owns the run directory (``run.lock`` is held)."""


class WriteError(GuidedRLError, OSError):
    """A run's file could not be written (a full disk, a read-only or vanished directory).

    ``path`` is the file, ``step`` the training step; the message says which checkpoint is
    still good."""

    def __init__(self, message: str, path: str = "", step: int = 0):
        super().__init__(message)
        self.path, self.step = path, step

    def __str__(self) -> str:  # OSError would format its args as (errno, strerror)
        return self.args[0]


class TrainingFailed(GuidedRLError):
    """User code (the guide, the env) or the update failed during training.

    ``source`` names it (``"the guide 'wall-reflex'"``, ``"the env 'SafeCartpole-v0'"``,
    ``"the update"``), ``step`` is the step the run was saved at (the last consistent state,
    before the failing transition), ``directory`` the run directory (None when the run writes
    no files) and ``__cause__`` the original exception."""

    def __init__(self, message: str, source: str, step: int, directory=None, saved: bool = False):
        super().__init__(message)
        self.source, self.step, self.directory, self.saved = source, step, directory, saved


class DatasetError(GuidedRLError, ValueError):
    """An offline dataset that cannot be used: missing, unreadable, empty, misaligned, with
    non-finite values or spaces that do not match the env. The message names the dataset, the
    episode and the value seen."""


class GuideCheckFailed(GuidedRLError):
    """The guide or the env failed while ``guidedrl guide check`` ran them: the message names
    which, the policy, the episode and the step, and ``__cause__`` is the original exception."""
