"""Keel: the control plane that takes AI systems from pilot to durable, governed production.

The public Python surface is re-exported here; everything else is internal.
"""

from keel.errors import KeelError
from keel.version import __version__

__all__ = ["KeelError", "__version__", "run"]


def run(system: str, pipeline: str, **options):
    """Record a pipeline run: `with keel.run(system=..., pipeline=...) as run: ...`.

    See `keel.pipeline.sdk` (imported only when a run starts, so `import keel` stays light).
    """
    from keel.pipeline.sdk import run as start

    return start(system, pipeline, **options)
