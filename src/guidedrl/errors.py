"""Errors raised to the user. Each message names the thing, the value seen and what was expected."""


class GuidedRLError(Exception):
    """Base class of every error guidedrl raises on purpose."""


class ConfigError(GuidedRLError, ValueError):
    """A configuration value, env id or output directory that cannot be used."""


class EnvError(GuidedRLError, ValueError):
    """An environment guidedrl cannot train on (unknown id, non-Box action space, ...)."""


class CheckpointError(GuidedRLError, ValueError):
    """A checkpoint that is missing, corrupt, or of another format version."""
