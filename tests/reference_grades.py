"""The reference notebooks graded once per test run, each when a test first needs it. xdist's workers share the
gradings through one folder, with a file lock per assignment; a worker that would wait on another's grading
grades meanwhile a reference the run still needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from filelock import FileLock, Timeout

from autograder.paths import ROOT

GRADING_TIMEOUT_S = 1800


class Graded(NamedTuple):
    """One reference graded (smoke): its output folder (the executed notebook) and its results.json."""

    out: Path
    results: dict[str, Any]


class ReferenceGrades:
    """``grades(assignment)``: that reference graded by whichever worker of the run got to it first.

    ``folder`` is shared by the run's workers; ``needed``, the assignments the run's selected tests read, are
    those a waiting worker may grade ahead."""

    def __init__(self, folder: Path, needed: Iterable[str]):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.needed = sorted(needed)

    def __call__(self, assignment: str) -> Graded:
        lock = self._lock(assignment)
        while not _acquired(lock):
            if not self._grade_ahead():
                lock.acquire()
                break
        try:
            if not self._outcome(assignment).exists():
                self._grade(assignment)
            outcome = json.loads(self._outcome(assignment).read_text())
        finally:
            lock.release()
        assert outcome["returncode"] == 0, outcome["stderr"]
        out = self.folder / assignment
        return Graded(out, json.loads((out / "results.json").read_text()))

    def _grade_ahead(self) -> bool:
        """Grade one needed reference that no worker has started; False when none is left."""
        for assignment in self.needed:
            if self._outcome(assignment).exists():
                continue
            lock = self._lock(assignment)
            if _acquired(lock):
                try:
                    if not self._outcome(assignment).exists():
                        self._grade(assignment)
                        return True
                finally:
                    lock.release()
        return False

    def _grade(self, assignment: str) -> None:
        """Grade ``assignment``'s reference into its folder and record how the grader exited (under its lock)."""
        command = [sys.executable, "-m", "autograder", "grade", "reference_solutions",
                   "--out", str(self.folder / assignment), "--assignment", assignment]
        try:
            proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=GRADING_TIMEOUT_S)
            outcome = {"returncode": proc.returncode, "stderr": proc.stderr[-3000:]}
        except subprocess.TimeoutExpired:
            outcome = {"returncode": None, "stderr": f"grading {assignment} took over {GRADING_TIMEOUT_S} s"}
        self._outcome(assignment).write_text(json.dumps(outcome))

    def _lock(self, assignment: str) -> FileLock:
        return FileLock(self.folder / f"{assignment}.lock")

    def _outcome(self, assignment: str) -> Path:
        return self.folder / f"{assignment}.exit.json"


def _acquired(lock: FileLock) -> bool:
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return False
    return True
