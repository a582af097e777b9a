"""The course data as a graded notebook sees it: the training splits only.

The grader scores on the test splits (MNIST's and CIFAR-10's ``x_test``,
dogs-vs-cats ``test/``, scikit-learn's held-apart 360 digits), so a notebook
must never see them. :func:`student_view` materializes, once per data source,
a folder holding only what the course gives a notebook:

- ``mnist.npz`` and ``cifar10.npz`` with ``x_train``/``y_train`` alone
  (uncompressed: a notebook loads them in a fraction of a second);
- ``cats_and_dogs_small/train/`` and ``validation/`` (no ``test/``);
- ``digits.csv.gz``: scikit-learn's digits file without the test digits, which
  the sandbox binds over scikit-learn's own (:func:`overlays`).

The folder is keyed by its sources (path, size, modification time) and a format
version, built in a temporary folder and renamed into place (graders running side
by side never see half of one), and checked against the SHA-256 manifest written
with it before each use in a process. It is the only course data the sandbox
binds; the grader's own caches (subsets, Keras's) are not bound at all.
"""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from autograder.digests import file_sha256, json_sha256
from coursework import datasets

FORMAT = 1  # bump when the view's content changes
MANIFEST = "MANIFEST.sha256"
DIGITS_FILE = "digits.csv.gz"


def student_view(data_dir: Optional[str] = None) -> Path:
    """The training-only copy of the course data found from ``data_dir`` (as the loaders search),
    built on first use. Resolved: the kernel is given the path the sandbox binds."""
    sources = _sources(data_dir)
    key = json_sha256([FORMAT, sources], sort_keys=True)[:16]
    view = (datasets.subset_cache_dir().parent / "student-view" / key).resolve()
    if not view.is_dir():
        _build(view, sources)
    _verify(view)
    return view


def overlays(view: Path) -> dict[Path, Path]:
    """Files the sandbox binds over the environment's own: scikit-learn's digits, training split only."""
    sklearn_digits = _sklearn_digits()
    if sklearn_digits is None or not (view / DIGITS_FILE).is_file():
        return {}
    return {sklearn_digits: view / DIGITS_FILE}


def _sklearn_digits() -> Optional[Path]:
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / DIGITS_FILE
    return path.resolve() if path.is_file() else None


def _sources(data_dir: Optional[str]) -> dict[str, list]:
    """Where each data set is found, with its size and modification time (what the view is keyed by)."""
    found: dict[str, Optional[Path]] = {}
    for name in ("mnist", "cifar10"):
        found[name], _ = datasets._find(f"{name}.npz", data_dir)
    try:
        found["cats_and_dogs"] = datasets.cats_and_dogs_small(data_dir, check=False)
    except datasets.DatasetNotFoundError:
        found["cats_and_dogs"] = None
    found["digits"] = _sklearn_digits()
    sources = {}
    for name, path in found.items():
        if path is not None:
            stat = path.resolve().stat()
            sources[name] = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    return sources


def _build(view: Path, sources: dict[str, list]) -> None:
    view.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{view.name}-", dir=view.parent))
    try:
        for name in ("mnist", "cifar10"):
            if name in sources:
                x, y = datasets.load_split(name, "train", Path(sources[name][0]).parent, download=False)
                np.savez(tmp / f"{name}.npz", x_train=x, y_train=y.reshape(-1))
        if "cats_and_dogs" in sources:
            source = Path(sources["cats_and_dogs"][0])
            for split in ("train", "validation"):
                shutil.copytree(source / split, tmp / datasets.CATS_AND_DOGS / split, copy_function=_link_or_copy)
        if "digits" in sources:
            _training_digits(Path(sources["digits"][0]), tmp / DIGITS_FILE)
        (tmp / MANIFEST).write_text(_manifest(tmp))
        for path in [tmp, *tmp.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the sandbox's unprivileged user
        try:
            tmp.rename(view)
        except OSError:  # another grader finished first: keep its copy
            if not view.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _training_digits(source: Path, target: Path) -> None:
    """scikit-learn's digits file without the test digits: the same lines, the test ones dropped."""
    with gzip.open(source, "rt") as fh:
        lines = [line for line in fh if line.strip()]
    labels = np.array([int(float(line.rsplit(",", 1)[1])) for line in lines])
    if len(labels) != datasets.DIGITS_IMAGES:
        raise datasets.DatasetNotFoundError(f"{source} holds {len(labels)} digits, not {datasets.DIGITS_IMAGES}")
    test = datasets.digits_test_mask(labels)
    with gzip.open(target, "wt") as fh:
        fh.writelines(line for line, held in zip(lines, test) if not held)


def _manifest(root: Path) -> str:
    return "".join(f"{file_sha256(p)}  {p.relative_to(root).as_posix()}\n"
                   for p in sorted(root.rglob("*")) if p.is_file() and p.name != MANIFEST)


@functools.lru_cache(maxsize=8)
def _verify(view: Path) -> None:
    """The view matches the manifest written with it (once per process)."""
    try:
        intact = (view / MANIFEST).read_text() == _manifest(view)
    except OSError:
        intact = False
    if not intact:
        raise datasets.DatasetNotFoundError(f"the training-only copy of the course data at {view} was changed; "
                                            "delete that folder and grade again")
