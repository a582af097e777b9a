"""One notebook is one job: stage, execute in a sandbox, score; its result stored at once, keyed by its inputs.

A job's key is a digest of the submission's files, the grader's version (its
code, rubrics and released notebooks), the profile, the seed and the limit
overrides: a rerun skips every job whose stored result has the same key.
:func:`run_job` is what a worker runs, in a local process or on a Ray node: it
grades into a private folder and returns the files (executed notebook, its
log, feedback page) with the results, so that the driver alone writes the
output folder.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import hashlib
import io
import json
import multiprocessing.util
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import autograder
from autograder import rubric as rubrics
from autograder.paths import RELEASED_DIR
from autograder.results import CheckResult

RESULT_SUFFIX = ".result.json"  # out/STUDENT/NN_name.result.json
PACK_LIMIT_BYTES = 512_000_000  # what a packed submission may hold, whatever the profile's copy limit


@dataclass(frozen=True)
class Job:
    student: str
    assignment: str  # the rubric's name, NN_name
    submission: str  # the student's folder (as the driver sees it)
    key: str
    payload: Optional[bytes] = None  # the assignment folder as a tar, for a worker that cannot see ``submission``


@functools.lru_cache(maxsize=1)
def grader_version() -> str:
    """The package version and a digest of everything that decides a grade: code, rubrics, released notebooks."""
    package = Path(autograder.__file__).resolve().parent
    digest = hashlib.sha256()
    files = [(package, p) for pattern in ("*.py", "*.toml") for p in package.rglob(pattern)]
    files += [(Path(RELEASED_DIR), p) for p in Path(RELEASED_DIR).rglob("*.ipynb")]
    for base, path in sorted(files):
        if "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
            digest.update(f"{path.relative_to(base)}\n".encode())
            digest.update(path.read_bytes())
    return f"{autograder.__version__}+{digest.hexdigest()[:12]}"


def folder_digest(folder: Path) -> str:
    """sha256 over every path below ``folder`` with its bytes (a symlink: its target; never followed)."""
    digest = hashlib.sha256()
    if not os.path.lexists(folder):
        return "absent"
    if folder.is_symlink():
        return "symlink:" + os.readlink(folder)
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            digest.update(f"L {relative} -> {os.readlink(path)}\n".encode())
        elif path.is_file():
            digest.update(f"F {relative} {path.stat().st_size}\n".encode())
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        else:
            digest.update(f"D {relative}\n".encode())
    return digest.hexdigest()


def job_key(submission: Path, assignment: str, settings: Any) -> str:
    """What a stored result must match to be reused."""
    inputs = {"submission": folder_digest(submission / assignment), "grader": grader_version(),
              "profile": settings.profile, "seed": settings.seed, "limits": sorted(settings.limits.items()),
              "sandbox": settings.sandbox, "data_dir": settings.data_dir}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def result_path(out: Path, student: str, assignment: str) -> Path:
    return out / student / f"{assignment}{RESULT_SUFFIX}"


def load_result(out: Path, student: str, assignment: str) -> Optional[dict[str, Any]]:
    """The stored result of one job, or None when there is none readable."""
    try:
        return json.loads(result_path(out, student, assignment).read_text())
    except (OSError, ValueError):
        return None


def store_result(out: Path, done: dict[str, Any]) -> None:
    """Write a finished job's files and its result (atomically, the result last) under ``out/STUDENT/``."""
    folder = out / done["student"]
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in done.pop("files", {}).items():
        write_atomic(folder / name, data)
    write_atomic(result_path(out, done["student"], done["assignment"]), json.dumps(done, indent=1).encode())


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def results_of(done: dict[str, Any]) -> list[CheckResult]:
    return [CheckResult(**r) for r in done["results"]]


def seconds(done: dict[str, Any]) -> float:
    """The wall time of a finished job: staging, execution, scoring and feedback."""
    return sum(v for k, v in done["timings"].items() if k != "cells_s")


def pack(folder: Path) -> bytes:
    """``folder`` as a tar: folders, regular files and symlinks (as links), up to PACK_LIMIT_BYTES of files."""
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if not os.path.lexists(folder):
            return buffer.getvalue()
        for path in [folder, *sorted(folder.rglob("*"))]:
            if not (path.is_symlink() or path.is_dir() or path.is_file()):
                continue  # sockets, fifos, devices: staging skips them too
            tar.add(path, arcname=str(path.relative_to(folder.parent)), recursive=False)
            total += path.lstat().st_size if path.is_file() and not path.is_symlink() else 0
            if total > PACK_LIMIT_BYTES:  # staging refuses it as too large all the same
                break
    return buffer.getvalue()


def unpack(payload: bytes, target: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        tar.extractall(target, filter="tar")  # no absolute paths or escapes; symlinks kept for staging to judge


# ---- the worker side ----

_pool = None  # this worker process's scoring pool (TensorFlow imported once per worker)


def _scoring_pool():
    global _pool
    if _pool is None:
        from autograder.pipeline.score import ScoringPool

        _pool = ScoringPool()
        _pool.warm_up()
        # A process-pool worker joins its children before atexit runs, and no job is in flight when a worker
        # ends: end the scoring process in a finalizer that runs first.
        multiprocessing.util.Finalize(_pool, _pool.kill, exitpriority=10)
        atexit.register(_pool.kill)
    return _pool


def run_job(job: Job, settings: Any, gpus: Optional[list[str]] = None) -> dict[str, Any]:
    """Grade one notebook in this worker process; return its results, timings and files."""
    from autograder.pipeline.grade import grade_notebook
    from autograder.pipeline.resources import claim_slot, pin_gpu

    slot = claim_slot()
    if gpus is not None:
        pin_gpu(slot, gpus)
    rubric = next(r for r in _rubrics() if r.name == job.assignment)
    if not Path(settings.released_dir).is_dir():  # a node with the grader elsewhere (its version was checked)
        settings = dataclasses.replace(settings, released_dir=RELEASED_DIR)
    with tempfile.TemporaryDirectory(prefix="autograder-job-") as tmp:
        tmp = Path(tmp)
        submission = Path(job.submission)
        if job.payload is not None:
            submission = tmp / "submission"
            submission.mkdir()
            unpack(job.payload, submission)
        out = tmp / "out"
        out.mkdir()
        (tmp / "work").mkdir()
        graded = grade_notebook(rubric, submission, out, tmp / "work", _scoring_pool(),
                                dataclasses.replace(settings, slot=slot))
        files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and not p.is_symlink()}
    return {"student": job.student, "assignment": job.assignment, "key": job.key, "grader": grader_version(),
            "profile": settings.profile, "seed": settings.seed, "results": [r.to_dict() for r in graded.results],
            "timings": graded.timings, "files": files}


@functools.lru_cache(maxsize=1)
def _rubrics() -> tuple[rubrics.Rubric, ...]:
    return tuple(rubrics.all_rubrics().values())
