"""The package version, importable without the package's re-exports (``guidedrl/__init__``)."""

__version__ = "0.1.0"
