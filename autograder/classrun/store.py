"""Stored results of a class run: one JSON file per notebook, keyed by everything that decides its grade.

A job's key is a digest of the submission's files, the grader's version for its assignment (its code, limits,
that assignment's rubric and released notebook), the profile, the seed, the limit overrides, the sandbox mode
and the data folder: a rerun skips every notebook whose stored result has the same key, and an interrupted
class resumes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence

import autograder
from autograder import rubric as rubrics
from autograder.grading import GradingSettings, NotebookGrade
from autograder.paths import RELEASED_DIR
from autograder.results import CheckResult
from autograder.rubric import Rubric

RESULT_SUFFIX = ".result.json"  # out/STUDENT/NN_name.result.json


def _grader_files(in_use: Path) -> dict[str, Path]:
    """Everything that decides a grade, by label: the package's code and rubrics (those of ``in_use``, under the
    same labels, so an unedited copy changes nothing) and the released notebooks (``released/NN_name/...``)."""
    package = Path(autograder.__file__).resolve().parent
    files = {str(p.relative_to(package)): p for pattern in ("*.py", "*.toml") for p in package.rglob(pattern)
             if "__pycache__" not in p.parts}
    if in_use != rubrics.RUBRIC_DIR:
        files = {k: p for k, p in files.items() if p.parent != rubrics.RUBRIC_DIR or p.suffix != ".toml"
                 or p == rubrics.LIMITS_FILE and not (in_use / p.name).is_file()}
        files |= {f"{rubrics.RUBRIC_DIR.name}/{p.name}": p for p in in_use.glob("*.toml")}
    files |= {f"released/{p.relative_to(RELEASED_DIR)}": p for p in Path(RELEASED_DIR).rglob("*.ipynb")
              if ".ipynb_checkpoints" not in p.parts}
    return files


def _grades(label: str, assignment: str) -> bool:
    """Whether the file under ``label`` can change a grade of ``assignment``: code and the limits do; another
    assignment's rubric or released notebook does not."""
    head, _, rest = label.partition("/")
    if head == "released":
        return rest.split("/", 1)[0] == assignment
    if head == rubrics.RUBRIC_DIR.name and rest.endswith(".toml") and "/" not in rest:
        return rest in (f"{assignment}.toml", rubrics.LIMITS_FILE.name)
    return True


def _digest(files: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    for label, path in sorted(files.items()):
        digest.update(f"{label}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def grader_version() -> str:
    """The package version and a digest of everything that decides any grade, with the rubrics in use
    (``$AUTOGRADER_RUBRIC_DIR``'s where set): a class's workers must agree on it."""
    return _version(None, rubrics.rubric_dir())


def assignment_version(assignment: str) -> str:
    """The package version and a digest of what decides ``assignment``'s grades: the code, the limits, its
    rubric in use and its released notebook. An edit of another assignment's rubric leaves it, and its stored
    results, as they are."""
    return _version(assignment, rubrics.rubric_dir())


@functools.lru_cache(maxsize=None)
def _version(assignment: Optional[str], in_use: Path) -> str:
    files = {label: p for label, p in _grader_files(in_use).items()
             if assignment is None or _grades(label, assignment)}
    return f"{autograder.__version__}+{_digest(files)}"


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


def job_key(submission: Path, assignment: str, settings: GradingSettings) -> str:
    """What a stored result must match to be reused."""
    inputs = {"submission": folder_digest(submission / assignment), "grader": assignment_version(assignment),
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



def stored(out: Path, plan: Sequence[tuple[str, Rubric]], keys: dict[tuple[str, str], str]
           ) -> dict[tuple[str, str], NotebookGrade]:
    """The notebooks of ``plan`` (student, rubric) whose stored result is current."""
    found = {}
    for student, rubric in plan:
        result = load_result(out, student, rubric.name)
        if result is not None and result.get("key") == keys[student, rubric.name]:
            found[student, rubric.name] = NotebookGrade(rubric, results_of(result), result["timings"])
    return found
