"""The gradebook never loses a grade (issue 29): each attack a new instructor found, as a test.

- ``grades.csv``, ``gradebook.csv`` and the class report are written from every stored result of the grading
  folder, whatever a run's ``--student`` / ``--assignment``; results a run did not regrade and whose key no
  longer matches are kept and marked ``stale``.
- A failure of the grader's own machinery (a kernel that never started, a worker lost, a crash in the grader,
  a data set missing on the worker) is stored as a retry record, never as a final zero: it is retried by the
  next run, named on stderr, and the run exits 1. ``--retry-errors`` also reruns final results holding
  ``error``, ``timeout`` or ``kernel-died`` checks.
- ``export`` writes nothing and exits non-zero when the roster matches no submission, when a graded submission
  has no roster row (unless ``--allow-unmatched``), when a row lacks every id the LMS matches on, when two
  folder names would read as one student, and when a notebook is still to be retried.

Most tests build a grading folder of stored results directly (grading real notebooks is slow) and run the real
command line or functions on it; one runs ``batch`` end to end on the warm-up with a kernel that cannot start.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from autograder.classrun import store
from autograder.grading import GradingSettings, NotebookGrade, load_rubrics
from autograder.paths import ROOT
from autograder.results import CheckResult, Status
from tests.notebooks import WARMUP, variant

LENET = "03_lenet5"
OLD_KEY = "keyed-before-the-rubric-edit"


def cli(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def rubric(name: str):
    return next(r for r in load_rubrics() if r.name == name)


def rows_of(assignment: str, status: Status = Status.PASS, message: str = "ok") -> list[dict]:
    """A stored result's rows: every check of ``assignment`` with ``status`` (full points when it passed)."""
    r = rubric(assignment)
    return [CheckResult(r.id, s.id, s.description, s.points if status == Status.PASS else 0.0, s.points, status,
                        message).to_dict() for s in r.checks]


def put(out: Path, student: str, assignment: str, key: str = OLD_KEY, rows: list | None = None) -> None:
    """A stored result, as an earlier run of the grader left it."""
    store.store_result(out, {"student": student, "assignment": assignment, "key": key, "grader": "0.old",
                             "profile": "smoke", "seed": 0, "notebook_seed": 0,
                             "results": rows if rows is not None else rows_of(assignment),
                             "timings": {"stage_s": 0.1, "execute_s": 1.0}})


def table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def by_student(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["student"], r["assignment"]): r for r in table(path)}


def submitted(class_dir: Path, student: str, *assignments: str) -> None:
    """A submission folder with the assignments' folders (their notebooks are not graded by the test)."""
    for a in assignments:
        (class_dir / student / a).mkdir(parents=True, exist_ok=True)


# --- the whole store, whatever the selection -------------------------------------------------------------------

def test_a_partial_run_after_a_rubric_edit_keeps_every_stored_row(tmp_path, data_dir):
    """The attack: after a rubric regrade, ``batch --student dave`` rewrote grades.csv and gradebook.csv with the
    other students' rows missing, said nothing and exited 0; ``export`` then gave them 0. Here ann, bob and carol
    hold results keyed before a rubric edit, ann also an 03 result this run's ``--assignment 00`` leaves out."""
    class_dir, out = tmp_path / "submitted", tmp_path / "grading"
    for student in ("ann", "bob", "carol"):
        submitted(class_dir, student, WARMUP)
        put(out, student, WARMUP)
    submitted(class_dir, "ann", LENET)
    put(out, "ann", LENET)
    submitted(class_dir, "dave", WARMUP)  # no notebook in it: graded at once, 0 points (missing)
    done = cli("batch", str(class_dir), "--out", str(out), "--student", "dave", "--assignment", "00",
               "--no-sandbox", "--data-dir", str(data_dir), "--jobs", "1", "--course-config", no_due_dates(tmp_path),
               timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    long = by_student(out / "grades.csv")
    assert set(long) == {("ann", WARMUP), ("ann", LENET), ("bob", WARMUP), ("carol", WARMUP), ("dave", WARMUP)}
    assert long["bob", WARMUP]["points"] == "4" and long["ann", LENET]["points"] == "10"
    for key in [("ann", WARMUP), ("ann", LENET), ("bob", WARMUP), ("carol", WARMUP)]:
        assert "stale" in long[key]["flags"].split(), long[key]
    assert long["dave", WARMUP]["points"] == "0" and "stale" not in long["dave", WARMUP]["flags"]
    wide = {r["student"]: r for r in table(out / "gradebook.csv")}
    assert set(wide) == {"ann", "bob", "carol", "dave"}
    assert (wide["ann"][WARMUP], wide["ann"][LENET], wide["ann"]["total"]) == ("4", "10", "14")
    assert wide["bob"]["stale"] == WARMUP and wide["ann"]["stale"] == f"{WARMUP} {LENET}" and wide["dave"]["stale"] == ""
    report = (out / "class_report.md").read_text()
    assert "| 00_warmup | 3 | 1 |" in report  # three handed in (stored), dave's missing: counted apart
    assert "4 stored notebook(s) were not regraded by this run" in done.stderr and "stale" in done.stderr
    # The stored results themselves are untouched.
    assert json.loads((out / "bob" / f"{WARMUP}.result.json").read_text())["key"] == OLD_KEY


# --- the grader's own failures: retried, never a final zero -----------------------------------------------------

def _done(job, rows: list[dict]) -> dict:
    return {"student": job.student, "assignment": job.assignment, "key": job.key, "grader": store.grader_version(),
            "profile": "smoke", "seed": 0, "notebook_seed": 0, "results": rows, "timings": {"stage_s": 0.1},
            "files": {}}


def kernel_never_started(job) -> dict:
    """What a job returns when the notebook's kernel could not start: execution's ``kernel_start`` row."""
    from autograder.pipeline.execute import KERNEL_START

    rows = rows_of(job.assignment, Status.ERROR, "the notebook could not be executed: the kernel did not start")
    rows.insert(0, CheckResult("00", KERNEL_START, "The grader started the notebook's kernel", 0.0, 0.0,
                               Status.ERROR, "the grader could not start the notebook's kernel: RuntimeError: "
                               "Kernel died before replying to kernel_info").to_dict())
    return _done(job, rows)


@pytest.fixture()
def fake_executor(monkeypatch):
    """The local executor replaced by one that answers each job from ``answers`` (student -> callable(job) that
    returns a result or an exception); records the jobs it was given."""
    from autograder.classrun import run

    given: list = []
    answers: dict = {}

    def execute(queue, settings, jobs=None, address=None):
        for job in queue:
            given.append((job.student, job.assignment))
            answer = answers[job.student](job)
            yield job, answer

    monkeypatch.setitem(run.EXECUTORS, "local", execute)
    old = signal.getsignal(signal.SIGTERM)  # cli._batch sets its own handler
    yield given, answers
    signal.signal(signal.SIGTERM, old)


def no_due_dates(folder: Path) -> str:
    """A course.toml without due dates (the course's own would flag these untimed submissions)."""
    path = folder / "course.toml"
    path.write_text("")
    return str(path)


def batch_here(class_dir: Path, out: Path, data_dir: Path, *extra: str) -> int:
    from autograder import cli as command

    return command.main(["batch", str(class_dir), "--out", str(out), "--no-sandbox", "--data-dir", str(data_dir),
                         "--assignment", "00", "--course-config", no_due_dates(class_dir.parent), *extra])


def test_a_failure_of_the_graders_machinery_is_retried_not_a_final_zero(tmp_path, data_dir, fake_executor, capfd):
    """The attack: a first run whose kernels could not start stored every notebook as a final zero, and the rerun
    said "unchanged: skipped". Here ann's kernel never starts, bob's worker process is lost, carol is graded; bob
    also holds an earlier result, which is kept (stale) until a retry succeeds."""
    given, answers = fake_executor
    class_dir, out = tmp_path / "submitted", tmp_path / "grading"
    for student in ("ann", "bob", "carol"):
        submitted(class_dir, student, WARMUP)
    put(out, "bob", WARMUP)
    answers.update(ann=kernel_never_started, bob=lambda job: BrokenProcessPool("a worker process died"),
                   carol=lambda job: _done(job, rows_of(WARMUP)))
    assert batch_here(class_dir, out, data_dir) == 1
    err = capfd.readouterr().err
    assert "ann 00_warmup" in err and "could not start the notebook's kernel" in err
    assert "bob 00_warmup" in err and "BrokenProcessPool" in err
    assert "2 notebook(s) could not be graded" in err and "retried" in err
    assert not (out / "ann" / f"{WARMUP}.result.json").exists()  # no final zero stored
    assert (out / "ann" / f"{WARMUP}{store.RETRY_SUFFIX}").is_file()
    assert json.loads((out / "bob" / f"{WARMUP}.result.json").read_text())["key"] == OLD_KEY  # kept
    long = by_student(out / "grades.csv")
    assert (long["ann", WARMUP]["points"], long["ann", WARMUP]["flags"]) == ("", "retry")
    assert long["bob", WARMUP]["points"] == "4" and set(long["bob", WARMUP]["flags"].split()) == {"stale", "retry"}
    assert long["carol", WARMUP]["points"] == "4" and long["carol", WARMUP]["flags"] == ""
    wide = {r["student"]: r for r in table(out / "gradebook.csv")}
    assert (wide["ann"][WARMUP], wide["ann"]["retry"], wide["bob"]["retry"]) == ("", WARMUP, WARMUP)
    report = (out / "class_report.md").read_text()
    assert "## Notebooks the grader could not grade" in report and "BrokenProcessPool" in report

    # The rerun retries both (carol's is current: skipped), and once they are graded, exits 0.
    given.clear()
    answers.update(ann=lambda job: _done(job, rows_of(WARMUP)), bob=lambda job: _done(job, rows_of(WARMUP)))
    assert batch_here(class_dir, out, data_dir) == 0
    err = capfd.readouterr().err
    assert sorted(given) == [("ann", WARMUP), ("bob", WARMUP)], err
    assert "1 notebook(s) unchanged since their stored results: skipped" in err
    assert not list(out.glob(f"*/*{store.RETRY_SUFFIX}"))
    long = by_student(out / "grades.csv")
    assert all(r["points"] == "4" and r["flags"] == "" for r in long.values()), long


def test_a_students_own_failure_stays_final_and_retry_errors_reruns_it(tmp_path, data_dir, fake_executor, capfd):
    """A notebook that raises, times out or kills its kernel is the student's: stored, final, skipped by the
    next run; ``--retry-errors`` reruns the stored results that hold such a status, and only those."""
    given, answers = fake_executor
    class_dir, out = tmp_path / "submitted", tmp_path / "grading"
    for student in ("ann", "bob"):
        submitted(class_dir, student, WARMUP)
    answers.update(ann=lambda job: _done(job, rows_of(WARMUP, Status.KERNEL_DIED, "the kernel died")),
                   bob=lambda job: _done(job, rows_of(WARMUP)))
    assert batch_here(class_dir, out, data_dir) == 0
    assert (out / "ann" / f"{WARMUP}.result.json").is_file()
    capfd.readouterr()
    given.clear()
    assert batch_here(class_dir, out, data_dir) == 0
    assert given == [] and "2 notebook(s) unchanged" in capfd.readouterr().err
    assert batch_here(class_dir, out, data_dir, "--retry-errors") == 0
    assert given == [("ann", WARMUP)]
    assert "1 notebook(s) unchanged" in capfd.readouterr().err


def test_only_the_kernel_start_row_makes_a_result_retryable():
    from autograder.classrun.run import grader_failure
    from autograder.classrun.jobs import Job

    job = Job("ann", WARMUP, "/nowhere", "k")
    assert grader_failure(kernel_never_started(job)).startswith("the grader could not start the notebook's kernel")
    for status in (Status.ERROR, Status.TIMEOUT, Status.KERNEL_DIED, Status.MISSING):
        assert grader_failure(_done(job, rows_of(WARMUP, status, "the cell starting `x` raised ValueError"))) is None
    assert grader_failure(ValueError("a crash in the grader")) == "ValueError: a crash in the grader"


def test_a_worker_without_the_data_raises_instead_of_grading(tmp_path, isolated_caches):
    """A job whose worker lacks a data set the assignment needs (a Ray node set up without it) is the grader's
    failure: the worker raises, and the driver stores a retry record, not the notebook's errors."""
    from autograder.classrun.jobs import Job, run_job
    from autograder.preflight import PreflightError

    variant(tmp_path / "ann", LENET)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PreflightError, match="data set mnist"):
        run_job(Job("ann", LENET, str(tmp_path / "ann"), "k"), GradingSettings(data_dir=str(empty), sandbox="off"))


@pytest.mark.notebooks
def test_batch_retries_notebooks_whose_kernel_could_not_start(tmp_path, data_dir):
    """End to end on ``batch``: a kernel that cannot start (here a broken ``python3`` kernel spec first on
    $JUPYTER_PATH) is said on stderr, stored as a retry record and makes the run exit 1; the rerun tries it
    again (not "unchanged: skipped"), and with a working kernel grades it."""
    class_dir, out = tmp_path / "submitted", tmp_path / "grading"
    variant(class_dir / "ann", WARMUP)
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": ["/bin/false", "{connection_file}"],
                                                  "display_name": "broken", "language": "python"}))
    broken = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter")}
    args = ["batch", str(class_dir), "--out", str(out), "--data-dir", str(data_dir), "--jobs", "1",
            "--sandbox", "prefer", "--cell-timeout", "150", "--notebook-timeout", "400",
            "--course-config", no_due_dates(tmp_path)]
    first = cli(*args, env=broken)
    assert first.returncode == 1, first.stderr[-3000:]
    assert "ann 00_warmup" in first.stderr and "could not start the notebook's kernel" in first.stderr
    assert not (out / "ann" / f"{WARMUP}.result.json").exists()
    assert by_student(out / "grades.csv")["ann", WARMUP]["flags"] == "retry"
    again = cli(*args, env=broken)
    assert again.returncode == 1 and "unchanged" not in again.stderr, again.stderr[-3000:]
    assert "could not start the notebook's kernel" in again.stderr
    fixed = cli(*args)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert by_student(out / "grades.csv")["ann", WARMUP]["points"] == "4"
    assert not (out / "ann" / f"{WARMUP}{store.RETRY_SUFFIX}").exists()


# --- export ---------------------------------------------------------------------------------------------------

def graded_folder(out: Path, students: dict[str, float], retry: tuple[str, ...] = (), stale: tuple[str, ...] = ()
                  ) -> Path:
    """A grading folder as ``batch`` leaves it: a stored result per student (00, ``points`` of 4) and the
    grades.csv its writer makes of them."""
    from autograder.pipeline import report

    warmup = rubric(WARMUP)
    graded = {}
    for student, points in students.items():
        rows = rows_of(WARMUP)
        accuracy = next(r for r in rows if r["id"] == "accuracy")  # 2 of the 4 points
        accuracy["points"] -= 4 - points
        put(out, student, WARMUP, rows=rows)
        nb = NotebookGrade(warmup, store.results_of({"results": rows}))
        nb.stale = student in stale
        if student in retry:
            nb.retry = "RuntimeError: the kernel did not start"
        graded[student] = [nb]
    report.write_grades_csv(out / "grades.csv", graded)
    return out


ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section,github_username,email\n"
          "Ann A,101,S1,ann@uni,Lab 1,ann,ann@uni.example\n"
          "Bob B,102,S2,bob@uni,Lab 1,bob,bob@uni.example\n"
          "Dave D,104,S4,dave@uni,Lab 2,dave,dave@uni.example\n")


def export_here(grading: Path, roster: str, tmp_path: Path, *extra: str, fmt: str = "canvas"):
    from autograder import cli as command

    path = tmp_path / "roster.csv"
    path.write_text(roster)
    code = command.main(["export", str(grading), "--format", fmt, "--roster", str(path), *extra])
    return code, grading / f"export-{fmt}.csv"


def test_a_roster_that_matches_no_submission_exports_nothing(tmp_path, capsys):
    grading = graded_folder(tmp_path / "grading", {"ann": 4, "bob": 3})
    roster = ("Student,ID,SIS User ID,SIS Login ID,Section,login\n"
              "Ann A,101,S1,a.one,Lab 1,a.one\nBob B,102,S2,b.two,Lab 1,b.two\n")
    code, written = export_here(grading, roster, tmp_path)
    assert code != 0 and not written.exists()
    err = capsys.readouterr().err
    assert "no roster row matches any submission" in err and "ann" in err and "a.one" in err


def test_a_graded_submission_without_a_roster_row_is_refused_unless_allowed(tmp_path, capsys):
    grading = graded_folder(tmp_path / "grading", {"ann": 4, "bob": 3, "carol": 4})
    code, written = export_here(grading, ROSTER, tmp_path)
    assert code != 0 and not written.exists()
    assert "carol" in capsys.readouterr().err
    code, written = export_here(grading, ROSTER, tmp_path, "--allow-unmatched")
    assert code == 0
    err = capsys.readouterr().err
    assert "not on the roster (left out): carol" in err and "nothing graded (0 points): dave" in err
    rows = list(csv.reader(io.StringIO(written.read_text(), newline="")))
    assert [(r[0], r[-1]) for r in rows[2:]] == [("Ann A", "4"), ("Bob B", "3"), ("Dave D", "0")]


def test_a_roster_row_without_any_id_the_lms_matches_on_is_refused(tmp_path, capsys):
    grading = graded_folder(tmp_path / "grading", {"ann": 4, "bob": 3})
    roster = ("Student,ID,SIS User ID,SIS Login ID,Section,github_username\n"
              "Ann A,101,S1,ann@uni,Lab 1,ann\nBob B,,,,Lab 1,bob\n")
    code, written = export_here(grading, roster, tmp_path)
    assert code != 0 and not written.exists()
    err = capsys.readouterr().err
    assert "bob" in err and "ID, SIS User ID or SIS Login ID" in err
    code, _ = export_here(grading, roster, tmp_path, fmt="csv")  # a plain table matches on nothing
    assert code == 0


@pytest.mark.parametrize("twins", [("bob", "'bob"), ("=x", "'=x")])
def test_two_folders_export_would_read_as_one_student_are_refused(tmp_path, capsys, twins):
    """The attack: a folder named 'bob merged into bob's row (the csv-injection escape made two names one); =x and
    '=x are even written as the same cell."""
    grading = graded_folder(tmp_path / "grading", {twins[0]: 3, twins[1]: 4, "ann": 4})
    code, written = export_here(grading, ROSTER, tmp_path, "--allow-unmatched")
    assert code != 0 and not written.exists()
    err = capsys.readouterr().err
    assert twins[1] in err and "one student" in err


def test_a_folder_whose_name_is_not_utf8_is_one_student_not_two():
    from autograder.course.export import confusable

    folder = "caf\udce9"  # the byte 0xe9, as os.fsdecode reads it; grades.csv writes it caf\xe9
    assert confusable([folder, "bob"], ["caf\\xe9", "bob"]) == []


def test_a_folder_named_like_an_escaped_cell_is_its_own_student(tmp_path, capsys):
    """Alone, 'bob is not bob: the escape is undone only where the grader added it (=x was written '=x)."""
    grading = graded_folder(tmp_path / "grading", {"'bob": 4, "=x": 2, "ann": 4})
    roster = ROSTER.replace("Bob B,102,S2,bob@uni,Lab 1,bob,", "Bob B,102,S2,bob@uni,Lab 1,'bob,") + \
        "X,105,S5,x@uni,Lab 2,=x,x@uni.example\n"
    code, written = export_here(grading, roster, tmp_path, fmt="csv")
    assert code == 0, capsys.readouterr().err
    got = {r["student"]: r[WARMUP] for r in csv.DictReader(io.StringIO(written.read_text()))}
    assert got == {"ann": "4", "'bob": "4", "'=x": "2", "dave": "0"}


def test_export_refuses_notebooks_still_to_retry_and_names_stale_ones(tmp_path, capsys):
    grading = graded_folder(tmp_path / "grading", {"ann": 4, "bob": 3}, retry=("bob",))
    code, written = export_here(grading, ROSTER, tmp_path)
    assert code != 0 and not written.exists()
    assert "bob 00_warmup" in capsys.readouterr().err
    grading = graded_folder(tmp_path / "again", {"ann": 4, "bob": 3}, stale=("bob",))
    code, written = export_here(grading, ROSTER, tmp_path)
    assert code == 0 and written.is_file()
    err = capsys.readouterr().err
    assert "stale" in err and "bob 00_warmup" in err
