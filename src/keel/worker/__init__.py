"""`keel worker`: the control plane's background work, one leader at a time.

registry.py   the jobs and reconcilers packages declare (imports no other Keel package)
"""
