"""The artifact digest: files by their bytes, directories as a whole, stable and sensitive."""

from __future__ import annotations

import hashlib
import os

import pytest

from keel.audit.artifacts import artifact_digest
from keel.errors import UsageError


def test_a_file_is_the_sha256_of_its_bytes(tmp_path):
    f = tmp_path / "model.skops"
    f.write_bytes(b"x" * 3_000_000)
    assert artifact_digest(f) == "sha256:" + hashlib.sha256(b"x" * 3_000_000).hexdigest()


def tree(root, files):
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def test_a_directory_is_stable_and_sensitive_to_every_change(tmp_path):
    files = {"a.txt": b"1", "sub/b.bin": b"2", "sub/deeper/c": b"3"}
    first = artifact_digest(tree(tmp_path / "one", files))
    assert artifact_digest(tree(tmp_path / "two", dict(reversed(files.items())))) == first
    for change in ({"a.txt": b"9"}, {"new": b""}, {"sub/b.bin": b"2 "}):
        assert (
            artifact_digest(tree(tmp_path / f"x{len(os.listdir(tmp_path))}", {**files, **change}))
            != first
        )
    renamed = {"A.txt": b"1", "sub/b.bin": b"2", "sub/deeper/c": b"3"}
    assert artifact_digest(tree(tmp_path / "renamed", renamed)) != first


def test_symlinks_and_missing_paths_are_refused(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "link").symlink_to("/etc/passwd")
    with pytest.raises(UsageError, match="symlink"):
        artifact_digest(tmp_path / "d")
    with pytest.raises(UsageError, match="no such"):
        artifact_digest(tmp_path / "nothing")
