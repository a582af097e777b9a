"""One notebook is one job: stage, execute in a sandbox, score; its result stored at once (:mod:`.store`).

:func:`run_job` is what a worker runs, in a local process or on a Ray node: it
grades into a private folder and returns the files (executed notebook, its
log, feedback page) with the results, so that the driver alone writes the
output folder.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import io
import multiprocessing.util
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from autograder.classrun.resources import pin_gpu
from autograder.classrun.store import grader_version
from autograder.grading import GradingSettings, load_rubrics
from autograder.paths import RELEASED_DIR
from autograder.preflight import preflight
from autograder.pipeline.grade import grade_notebook
from autograder.similarity.seeds import student_seed
from autograder.pipeline.score import ScoringPool
from autograder.rubric import Rubric
from autograder.sandbox import claim_slot


@dataclass(frozen=True)
class Job:
    student: str
    assignment: str  # the rubric's name, NN_name
    submission: str  # the student's folder (as the driver sees it)
    key: str
    payload: Optional[bytes] = None  # the assignment folder as a tar, for a worker that cannot see ``submission``


def pack(folder: Path, limit_bytes: int) -> bytes:
    """``folder`` as a tar: folders, regular files and symlinks (as links), up to ``limit_bytes`` of files
    (staging refuses a larger submission all the same)."""
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
            if total > limit_bytes:
                break
    return buffer.getvalue()


def unpack(payload: bytes, target: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        tar.extractall(target, filter="tar")  # no absolute paths or escapes; symlinks kept for staging to judge


def shipped(job: Job, settings: GradingSettings) -> Job:
    """``job`` carrying its submission as a tar, for a worker on another machine."""
    rubric = rubric_named(job.assignment)
    payload = pack(Path(job.submission) / job.assignment, settings.limits_for(rubric).copy_bytes)
    return dataclasses.replace(job, payload=payload)


# ---- the worker side ----

_pool: Optional[ScoringPool] = None  # this worker's scoring pool (a fresh scoring process per notebook)


def _scoring_pool() -> ScoringPool:
    global _pool
    if _pool is None:
        _pool = ScoringPool()
        _pool.warm_up()
        # A process-pool worker joins its children before atexit runs, and no job is in flight when a worker
        # ends: end the scoring process in a finalizer that runs first.
        multiprocessing.util.Finalize(_pool, _pool.kill, exitpriority=10)
        atexit.register(_pool.kill)
    return _pool


def run_job(job: Job, settings: GradingSettings, gpus: Optional[list[str]] = None) -> dict[str, Any]:
    """Grade one notebook in this worker process; return its results, timings and files."""
    slot = claim_slot()
    if gpus is not None:
        pin_gpu(slot, gpus)
    rubric = rubric_named(job.assignment)
    if not Path(settings.released_dir).is_dir():  # a node with the grader elsewhere (its version was checked)
        settings = dataclasses.replace(settings, released_dir=RELEASED_DIR)
    # This worker has the data sets, weights and sandbox the notebook needs (a Ray node may lack what the driver
    # has): otherwise the grader's failure, raised before any student code runs; the driver retries the notebook.
    settings = preflight([rubric], settings)
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
        seed = student_seed(settings.seed, job.student)  # honest students of one architecture differ
        graded = grade_notebook(rubric, submission, out, tmp / "work", _scoring_pool(),
                                dataclasses.replace(settings, slot=slot, seed=seed))
        files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and not p.is_symlink()}
    return {"student": job.student, "assignment": job.assignment, "key": job.key, "grader": grader_version(),
            "profile": settings.profile, "seed": settings.seed, "notebook_seed": seed, "results": [r.to_dict() for r in graded.results],
            "timings": graded.timings, "files": files}


@functools.lru_cache(maxsize=None)
def rubric_named(name: str) -> Rubric:
    return next(r for r in load_rubrics() if r.name == name)
