"""Safe readers of what a notebook wrote: a size-capped regular file never read through a symlink, and a
``.keras`` zip whose directory, config and weight headers are checked against the caps before anything expands it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from autograder.errors import ArtifactError
from autograder.rubric import Limits

def read_bounded(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of a regular file, never through a symlink (even one swapped in after a check)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ArtifactError(f"{path.name} is not a readable regular file: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArtifactError(f"{path.name} is not a regular file")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ArtifactError(f"{path.name} is larger than the {max_bytes:,} bytes allowed")
    return data


def check_zip(path: Path, limits: Limits) -> None:
    """Refuse a ``.keras`` zip whose central directory promises too much, before anything expands it.

    The end record gives the member count before the directory is parsed; then each JSON member is checked
    against ``json_bytes`` and all members together against ``model_expanded_bytes``. Python's ``zipfile``
    (which Keras reads through) never expands a member past the size its directory entry declares.
    """
    import zipfile

    label = path.name
    try:
        with open(path, "rb") as fh:
            end = zipfile._EndRecData(fh)  # the end-of-central-directory record (zip64 aware), parsed alone
        if end is None:
            raise zipfile.BadZipFile("no end of central directory")
        if end[zipfile._ECD_ENTRIES_TOTAL] > limits.model_members:
            raise ArtifactError(f"{label} has more than {limits.model_members:,} members "
                                f"({end[zipfile._ECD_ENTRIES_TOTAL]:,}); the limit is model_members")
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ArtifactError(f"{label} cannot be loaded safely: it is not a readable zip archive ({exc})") from exc
    if len(members) > limits.model_members:
        raise ArtifactError(f"{label} has more than {limits.model_members:,} members ({len(members):,}); "
                            "the limit is model_members")
    for member in members:
        if member.filename.endswith(".json") and member.file_size > limits.json_bytes:
            raise ArtifactError(f"{label}: {member.filename} expands to {member.file_size:,} bytes; "
                                f"the limit is {limits.json_bytes:,} bytes (json_bytes)")
    total = sum(m.file_size for m in members)
    if total > limits.model_expanded_bytes:
        raise ArtifactError(f"{label} expands to {total:,} bytes; the limit is {limits.model_expanded_bytes:,} "
                            "bytes (model_expanded_bytes)")
    check_declared_size(path, limits)


def check_declared_size(path: Path, limits: Limits) -> None:
    """Refuse a ``.keras`` whose config declares more than ``model_parameters`` variables, or whose weights
    member declares arrays of more than ``model_expanded_bytes`` together (a tiny gzip-chunked HDF5 dataset can
    declare gigabytes), counted from headers alone: see :mod:`autograder.scoring.declared_size`."""
    import zipfile

    from autograder.scoring.declared_size import declared_array_bytes, declared_parameters

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError) as exc:
        raise ArtifactError(f"{path.name} holds no readable config: {exc}") from exc
    try:
        declared_parameters(config, cap=limits.model_parameters)
        with zipfile.ZipFile(path) as archive:
            for kind in ("h5", "npz"):
                if f"model.weights.{kind}" in archive.namelist():
                    with archive.open(f"model.weights.{kind}") as weights:
                        declared_array_bytes(weights, kind, limits.model_expanded_bytes)
    except ArtifactError as exc:
        raise ArtifactError(f"{path.name}: {exc}") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArtifactError(f"{path.name}: its weights cannot be read: {exc}") from exc
