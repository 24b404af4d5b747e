"""The one artifact digest of Keel: a file, or a directory hashed as a whole.

A file's digest is `sha256:<hex>` of its bytes, read in chunks. A directory's digest is the
digest of its manifest: the canonical JSON of `{"files": [[relative path, file digest], ...]}`
with POSIX paths sorted by their UTF-8 bytes, every regular file below it included, symlinks
refused (they could point anywhere). The same tree gives the same digest on any machine;
renaming, adding, removing or changing any file changes it. (The manifest idea follows the
OpenSSF model-signing serialisation: per-file hashes bound to their paths.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from keel.audit.canonical import digest
from keel.errors import UsageError

CHUNK = 1024 * 1024


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return "sha256:" + h.hexdigest()


def manifest(root: Path) -> list[list[str]]:
    """[relative POSIX path, file digest] for every file below `root`, in byte order of paths."""
    entries = []
    for path in root.rglob("*"):
        if path.is_symlink():
            raise UsageError(f"{path}: a symlink inside an artifact is refused")
        if path.is_file():
            entries.append([path.relative_to(root).as_posix(), file_digest(path)])
    entries.sort(key=lambda e: e[0].encode())
    return entries


def artifact_digest(path: str | Path) -> str:
    """`sha256:<hex>` of a file or a whole directory (see the module docstring)."""
    path = Path(path)
    if path.is_symlink():
        raise UsageError(f"{path}: a symlink is not an artifact; name its target")
    if path.is_file():
        return file_digest(path)
    if path.is_dir():
        return digest({"files": manifest(path)})
    raise UsageError(f"{path}: no such file or folder")
