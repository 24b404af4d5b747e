"""A workspace: its settings, its store, and the transactions every command runs in.

`Workspace.write(actor)` is the only way to change anything: it refuses a local identity
when the workspace is in server mode, and hands out a write transaction in which service
functions make their change and append its events.
"""

from keel.workspace.core import EMBEDDED, SERVER, Workspace, init_workspace, open_workspace

__all__ = ["EMBEDDED", "SERVER", "Workspace", "init_workspace", "open_workspace"]
