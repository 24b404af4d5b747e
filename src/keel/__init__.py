"""Keel: the control plane that takes AI systems from pilot to durable, governed production.

The public Python surface is re-exported here; everything else is internal.
"""

from keel.errors import KeelError

__version__ = "0.1.0"

__all__ = ["KeelError", "__version__"]
