"""SHA-256 digests, as hex strings: of a file, a folder, labelled files, a JSON-able value and a text.

Stored keys and manifests are made of these strings, so each function's bytes stay as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

BLOCK = 1 << 20  # bytes read at a time


def _feed(digest: Any, path: Path) -> None:
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            digest.update(block)


def file_sha256(path: Path) -> str:
    """The digest of a file's bytes."""
    digest = hashlib.sha256()
    _feed(digest, path)
    return digest.hexdigest()


def files_sha256(files: Mapping[str, Path]) -> str:
    """The digest of files by label: each label (sorted) on its line, then its file's bytes."""
    digest = hashlib.sha256()
    for label, path in sorted(files.items()):
        digest.update(f"{label}\n".encode())
        _feed(digest, path)
    return digest.hexdigest()


def folder_sha256(folder: Path) -> str:
    """The digest of every path below ``folder`` with its bytes (a symlink: its target; never followed);
    ``absent`` where nothing is there, ``symlink:TARGET`` where ``folder`` is a link."""
    if not os.path.lexists(folder):
        return "absent"
    if folder.is_symlink():
        return "symlink:" + os.readlink(folder)
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            digest.update(f"L {relative} -> {os.readlink(path)}\n".encode())
        elif path.is_file():
            digest.update(f"F {relative} {path.stat().st_size}\n".encode())
            _feed(digest, path)
        else:
            digest.update(f"D {relative}\n".encode())
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    """The digest of a text's UTF-8 bytes (a lone surrogate passes as its own bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def json_sha256(value: Any, **dumps: Any) -> str:
    """The digest of ``json.dumps(value, **dumps)``."""
    return text_sha256(json.dumps(value, **dumps))
