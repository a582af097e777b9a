"""Stored results of a class run: one JSON file per notebook, keyed by everything that decides its grade.

A job's key is a digest of the submission's files, the grader's version for its assignment (its code, limits,
that assignment's rubric and released notebook), the profile, the seed, the limit overrides, the sandbox mode
and the data folder: a rerun skips every notebook whose stored result has the same key, and an interrupted
class resumes.

Beside a result, ``NN_name.retry.json`` records that the last grading of the notebook failed for the grader's own
reasons (:func:`autograder.classrun.run.grader_failure`): no grade was stored for it, the result stored before
(if any) stays as it was, and the next run grades the notebook again. Storing a result removes the record.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from pathlib import Path
from typing import Any, Optional

import autograder
from autograder import rubric as rubrics
from autograder.digests import files_sha256, folder_sha256, json_sha256
from autograder.grading import GradingSettings
from autograder.paths import RELEASED_DIR
from autograder.results import CheckResult

RESULT_SUFFIX = ".result.json"  # out/STUDENT/NN_name.result.json
RETRY_SUFFIX = ".retry.json"  # out/STUDENT/NN_name.retry.json: the grader failed on it; graded again next run


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
    return f"{autograder.__version__}+{files_sha256(files)[:12]}"


def job_key(submission: Path, assignment: str, settings: GradingSettings) -> str:
    """What a stored result must match to be reused."""
    inputs = {"submission": folder_sha256(submission / assignment), "grader": assignment_version(assignment),
              "profile": settings.profile, "seed": settings.seed, "limits": sorted(settings.limits.items()),
              "sandbox": settings.sandbox, "data_dir": settings.data_dir}
    return json_sha256(inputs, sort_keys=True, default=str)


def result_path(out: Path, student: str, assignment: str) -> Path:
    return out / student / f"{assignment}{RESULT_SUFFIX}"


def load_result(out: Path, student: str, assignment: str) -> Optional[dict[str, Any]]:
    """The stored result of one job, or None when there is none readable."""
    try:
        return json.loads(result_path(out, student, assignment).read_text())
    except (OSError, ValueError):
        return None


def store_result(out: Path, done: dict[str, Any]) -> None:
    """Write a finished job's files and its result (atomically, the result last) under ``out/STUDENT/``; a
    record that the notebook was to be retried goes."""
    folder = out / done["student"]
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in done.pop("files", {}).items():
        write_atomic(folder / name, data)
    write_atomic(result_path(out, done["student"], done["assignment"]), json.dumps(done, indent=1).encode())
    retry_path(out, done["student"], done["assignment"]).unlink(missing_ok=True)


def retry_path(out: Path, student: str, assignment: str) -> Path:
    return out / student / f"{assignment}{RETRY_SUFFIX}"


def store_retry(out: Path, student: str, assignment: str, key: str, reason: str) -> None:
    """Record that grading ``student``'s ``assignment`` failed for the grader's own reasons (``reason``): no grade.
    A result stored before stays as it was; the next run grades the notebook again."""
    (out / student).mkdir(parents=True, exist_ok=True)
    record = {"student": student, "assignment": assignment, "key": key, "grader": grader_version(),
              "reason": reason, "failed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    write_atomic(retry_path(out, student, assignment), json.dumps(record, indent=1).encode())


def load_retry(out: Path, student: str, assignment: str) -> Optional[dict[str, Any]]:
    """The record of a notebook to retry, or None when there is none (an unreadable record counts as one)."""
    path = retry_path(out, student, assignment)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = None
    return record if isinstance(record, dict) else {"reason": f"{path.name} is unreadable"}


def stored_notebooks(out: Path) -> list[tuple[str, str]]:
    """(student, assignment) of every stored result and retry record in ``out``, whatever run stored it."""
    found = set()
    if not out.is_dir():
        return []
    for folder in out.iterdir():
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        for path in folder.iterdir():
            for suffix in (RESULT_SUFFIX, RETRY_SUFFIX):
                if path.name.endswith(suffix) and not path.name.startswith(".") and len(path.name) > len(suffix):
                    found.add((folder.name, path.name[:-len(suffix)]))
    return sorted(found)


def retries(out: Path) -> dict[tuple[str, str], str]:
    """{(student, assignment): why} for every notebook of ``out`` whose grading is to be retried."""
    found = {}
    for student, assignment in stored_notebooks(out):
        record = load_retry(out, student, assignment)
        if record is not None:
            found[student, assignment] = str(record.get("reason", ""))
    return found


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def results_of(done: dict[str, Any]) -> list[CheckResult]:
    return [CheckResult(**r) for r in done["results"]]


def seconds(done: dict[str, Any]) -> float:
    """The wall time of a finished job: staging, execution, scoring and feedback."""
    return sum(v for k, v in done["timings"].items() if k != "cells_s")



# Networks a locked cell defines, trained by the grader once per class (autograder.scoring.shared_base): their
# figures in out/.shared/NN_name.CHECK.seedS.json (a dot-folder: no student's), and one line per training in
# out/.shared/trainings.jsonl (what a regrade did not train again).
SHARED_DIR = ".shared"
TRAININGS_LOG = "trainings.jsonl"


def shared_path(out: Path, assignment: str, check_id: str, seed: int) -> Path:
    return out / SHARED_DIR / f"{assignment}.{check_id}.seed{seed}.json"


def load_shared(out: Path, assignment: str, check_id: str, seed: int, key: str) -> Optional[dict[str, Any]]:
    """The stored figures of a shared baseline trained under ``key``, or None (none, unreadable, other inputs)."""
    try:
        stored = json.loads(shared_path(out, assignment, check_id, seed).read_text())
    except (OSError, ValueError):
        return None
    figures = stored.get("figures") if isinstance(stored, dict) and stored.get("key") == key else None
    accuracy = figures.get("accuracy") if isinstance(figures, dict) else None
    return figures if isinstance(accuracy, float) and 0.0 <= accuracy <= 1.0 else None


def store_shared(out: Path, assignment: str, check_id: str, seed: int, key: str, figures: dict[str, Any]) -> None:
    """Store a shared baseline's figures (atomically) and log its training."""
    path = shared_path(out, assignment, check_id, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    trained_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    record = {"assignment": assignment, "check": check_id, "seed": seed, "key": key, "grader": grader_version(),
              "trained_at": trained_at, "figures": figures}
    write_atomic(path, json.dumps(record, indent=1).encode())
    with open(path.parent / TRAININGS_LOG, "a") as log:
        log.write(json.dumps({k: record[k] for k in ("assignment", "check", "seed", "trained_at")}
                             | {"train_s": figures.get("train_s")}) + "\n")


def shared_trainings(out: Path) -> list[dict[str, Any]]:
    """Every training of a shared baseline logged in ``out``, oldest first."""
    try:
        lines = (out / SHARED_DIR / TRAININGS_LOG).read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]
