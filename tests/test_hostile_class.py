"""A class with hostile students among honest ones, graded in one sandboxed run.

Each hostile notebook is the warm-up's reference solution plus one attack,
written where a student may write (a solution cell). Every attack must end
with its exact status and no unearned point; the honest students keep full
marks; the grader's files, the course data and every other submission are
byte-identical afterwards, and no process of any notebook survives.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from autograder.classrun.run import grade_class
from autograder.grading import GradingSettings
from autograder.paths import ROOT
from autograder.sandbox import MAX_SLOTS, bwrap_problem, sandbox_uid
from coursework import datasets
from tests.hostile_students import MARKER, MESSAGES, SECRET, STUDENTS
from tests.notebooks import WARMUP, variant

pytestmark = [pytest.mark.notebooks,  # every test here grades notebooks end to end
              pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")]


def digest_tree(*roots: Path) -> dict[str, str]:
    """sha256 of every regular file below ``roots`` (the grader's own files, data, submissions)."""
    digests = {}
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def sandbox_processes(marker: str = MARKER, grace: float = 10.0, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Processes still alive (not zombies) as a sandbox user of this grader (any job slot) or carrying the
    orphan marker, after ``grace`` seconds for the last kernel's namespace to finish dying; those whose pid is
    in ``ignore`` (alive before this class was graded) aside."""
    uids = {str(sandbox_uid(slot)) for slot in range(MAX_SLOTS)} if sandbox_uid() is not None else set()
    deadline = time.monotonic() + grace
    while True:
        out = subprocess.run(["ps", "-eo", "pid=,uid=,stat=,args="], capture_output=True, text=True).stdout
        alive = [line for line in out.splitlines() if not line.split()[2].startswith("Z") and "ps -eo" not in line
                 and line.split()[0] not in ignore and (marker in line or line.split()[1] in uids)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.5)


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("hostile")
    class_dir, out = root / "submitted", root / "grading"
    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "AUTOGRADER_HOSTILE_SECRET")}
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")  # the grader's own cache, never bound into a sandbox
    datasets.training_split("mnist", 100, 100, data_dir=data_dir)  # something there to poison
    for student, (edit, _, _) in STUDENTS.items():
        variant(class_dir / student, WARMUP, edit)
    watched = [ROOT / "autograder", ROOT / "coursework", ROOT / "assignments", ROOT / "reference_solutions",
               data_dir, datasets.subset_cache_dir(), class_dir]
    assert any(datasets.subset_cache_dir().iterdir())
    before = digest_tree(*[p for p in watched if Path(p).exists()])
    earlier = frozenset(line.split()[0] for line in sandbox_processes(grace=0))
    os.environ["AUTOGRADER_HOSTILE_SECRET"] = SECRET
    try:
        settings = GradingSettings(profile="smoke", data_dir=str(data_dir), sandbox="require",
                                   limits={"cell_timeout": 30, "memory_bytes": 3_000_000_000, "processes": 128,
                                           "disk_bytes": 400_000_000, "disk_files": 2_000})
        graded = grade_class(class_dir, out, [WARMUP], settings)
        after = digest_tree(*[p for p in watched if Path(p).exists()])
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return {"graded": graded, "out": out, "before": before, "after": after,
            "processes": sandbox_processes(ignore=earlier)}


@pytest.mark.parametrize("student", list(STUDENTS))
def test_each_attack_gets_its_status_and_no_unearned_point(hostile_class, student):
    _, expected, points = STUDENTS[student]
    (notebook,) = hostile_class["graded"][student]
    got = {r.id: r for r in notebook.results}
    for check, status in expected.items():
        assert got[check].status == status, (check, got[check].message)
    assert sum(r.points for r in notebook.results) == points, [(r.id, r.status, r.message) for r in notebook.results]
    if student in MESSAGES:
        assert MESSAGES[student] in got["accuracy"].message, got["accuracy"].message


def test_grader_data_and_other_submissions_are_byte_identical(hostile_class):
    changed = {path for path in hostile_class["before"].keys() | hostile_class["after"].keys()
               if hostile_class["before"].get(path) != hostile_class["after"].get(path)}
    assert not changed, sorted(changed)[:10]


def test_no_process_of_any_notebook_survives(hostile_class):
    assert hostile_class["processes"] == []


def printed(out: Path, student: str) -> str:
    nb = json.loads((out / student / f"{WARMUP}.ipynb").read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_attacks_saw_nothing_to_steal_or_overwrite(hostile_class):
    out = hostile_class["out"]
    text = printed(out, "snoops")
    assert "found 0 notebooks" in text
    assert text.count("refused") == 4  # the grader's four files; reads_others found nothing to refuse it
    for sign in ("WROTE", "OVERWROTE", "STOLE", "POISONED", "attempt failed"):
        assert sign not in text, (sign, text[-500:])
    assert "attempt failed" not in printed(out, "plants")


def test_grades_csv_lists_every_student(hostile_class):
    rows = list(csv.DictReader(open(hostile_class["out"] / "grades.csv")))
    assert sorted(r["student"] for r in rows) == sorted(STUDENTS)
    assert {r["student"]: float(r["points"]) for r in rows} == {s: float(p) for s, (_, _, p) in STUDENTS.items()}


def test_a_flood_of_stderr_leaves_a_short_kernel_log(hostile_class):
    log = hostile_class["out"] / "floods_stderr" / f"{WARMUP}.kernel.log"
    assert log.stat().st_size < 70_000 and log.read_text().startswith("[autograder: the first ")


def test_a_planted_startup_file_reaches_no_later_kernel(hostile_class):
    # zz_honest ran after plants (plants_startup): its model trained (full marks above), so fit was not replaced.
    (notebook,) = hostile_class["graded"]["zz_honest"]
    assert all(r.status == "pass" for r in notebook.results)
    assert json.loads((hostile_class["out"] / "zz_honest" / "results.json").read_text())["totals"]["points"] == 4
