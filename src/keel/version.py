"""Keel's version, in a module of its own so that any module can read it without `import keel`."""

__version__ = "0.1.0"
