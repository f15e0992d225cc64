"""Layerlab's engine: experiment specs, registries, shape inference, training, diagnosis.

It imports torch, numpy and pydantic, never the web: the server and the CLI build on it.
"""

__version__ = "0.1.0"

from . import builtins  # noqa: E402,F401  (registers the built-in datasets and families)
