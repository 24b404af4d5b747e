"""The demo workspace: a bank with two real AI systems, built fresh from `examples/demo`.

`build.py` makes the workspace and applies the catalog; `credit.py` trains the credit
models on the German Credit data; `support.py` builds the support assistant's retrieval
index over the shipped knowledge base. What they produce is recorded on the catalog's
nodes (artifact digests, metrics), as the ML engineer would.
"""

from keel.demo.build import Demo, build_demo, examples_dir

__all__ = ["Demo", "build_demo", "examples_dir"]
