"""The instructor's day on a real class of three warm-up notebooks (one honest, one 34 hours late, one with an
edited locked cell): the preflight stops a run without its data, then the late policy, the flags by name, the
LMS exports, an audited regrade and the feedback handed back. The class is graded once (module fixture); bob's model is his own (wider), so that a rubric edit can move him
alone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from autograder.classrun.class_report import short, summarize
from autograder.classrun.lateness import Lateness, LatePolicy, apply_policy, read_config, CourseConfigError
from autograder.course.collect import workflow_state
from autograder.grading import GradingSettings, NotebookGrade, load_rubrics
from autograder.paths import ROOT
from autograder.preflight import PreflightError, dataset_problem, needed_datasets, needed_pretrained, preflight
from autograder.results import CheckResult, Status
from autograder.sandbox import bwrap_problem
from tests.classes import Student, hand_in
from tests.notebooks import WARMUP, cell, variant
from tests.routes import new_course

LIMITS = ["--cell-timeout", "150", "--notebook-timeout", "400"]  # generous: 8 engineers share 2 cores
needs_sandbox = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")
UTC = dt.timezone.utc


def cli(*args: str, env: dict | None = None, timeout: float = 1500) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


# --- preflight -------------------------------------------------------------------------------------------------

def test_batch_and_grade_stop_before_any_notebook_without_the_data(tmp_path):
    class_dir = tmp_path / "submitted"
    variant(class_dir / "ann", "03_lenet5")
    env = {k: v for k, v in os.environ.items() if k != "CNN_COURSE_DATA"}
    env["KERAS_HOME"] = str(tmp_path / "keras")  # an empty Keras cache
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "grading"
    for command in (["batch", str(class_dir)], ["grade", str(class_dir / "ann")]):
        done = cli(*command, "--out", str(out), "--data-dir", str(empty), env=env, timeout=300)
        assert done.returncode == 2, done.stderr
        assert "nothing was graded" in done.stderr and "data set mnist (needed by 03_lenet5)" in done.stderr
        assert "--data-dir" in done.stderr and "$CNN_COURSE_DATA" in done.stderr, done.stderr
        assert not out.exists()  # no grades.csv, no report, no notebook run


def test_the_pytest_plugin_stops_at_collection_without_the_data(tmp_path):
    from tests.routes import plugin_args

    submission = variant(tmp_path / "submission", "03_lenet5")
    env = {k: v for k, v in os.environ.items() if k != "CNN_COURSE_DATA"}
    env.update(PYTHONPATH=str(ROOT), KERAS_HOME=str(tmp_path / "keras"))
    done = subprocess.run([sys.executable, "-m", "pytest", *plugin_args(), "--submission", str(submission),
                           "--grading-data-dir", str(tmp_path), "-p", "no:cacheprovider", "-q"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error: nothing collected, nothing run
    assert "data set mnist (needed by 03_lenet5)" in done.stderr and "--grading-data-dir DIR" in done.stderr


def test_preflight_names_every_data_set_an_assignment_needs():
    needed = needed_datasets(load_rubrics())
    assert needed["mnist"] == ["03_lenet5", "04_depth_residual"]
    assert needed["cats_and_dogs"] == ["01_data_generators", "02_augmentation"]
    assert "digits" not in needed  # bundled with scikit-learn


def test_preflight_wants_the_graders_imagenet_weights_for_05s_full_profile(isolated_caches, data_dir):
    rubrics = [r for r in load_rubrics() if r.name == "05_vgg16_transfer"]
    assert needed_pretrained(rubrics, "full") == {"vgg16": ["05_vgg16_transfer"]}
    assert needed_pretrained(rubrics, "smoke") == {}  # smoke judges no accuracy of 05: nothing retrained
    preflight(rubrics, GradingSettings(profile="smoke", data_dir=str(data_dir), sandbox="off"))
    with pytest.raises(PreflightError, match=r"pretrained weights vgg16 \(the grader retrains 05_vgg16_transfer "
                                             r"from them in the full profile\): the grader's copy of VGG16's"):
        preflight(rubrics, GradingSettings(profile="full", data_dir=str(data_dir), sandbox="off"))


def test_preflight_finds_the_course_data_intact(data_dir):
    for name in ("mnist", "cifar10", "cats_and_dogs"):
        assert dataset_problem(name, str(data_dir)) is None


def test_preflight_rejects_a_damaged_npz_and_a_changed_image(tmp_path, isolated_caches):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 32, 32), np.uint8), y_train=np.zeros(2),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2))
    assert "x_train has shape (2, 32, 32)" in dataset_problem("mnist", str(tmp_path))
    (tmp_path / "cifar10.npz").write_bytes(b"not a zip")
    assert "damaged" in dataset_problem("cifar10", str(tmp_path))
    root = tmp_path / "cats_and_dogs_small"
    lines = []
    for split in ("train", "validation", "test"):
        for cls in ("cats", "dogs"):
            (root / split / cls).mkdir(parents=True)
            image = root / split / cls / f"{cls[:-1]}.0.jpg"
            image.write_bytes(f"{split}{cls}".encode())
            import hashlib
            lines.append(f"{hashlib.sha256(image.read_bytes()).hexdigest()}  ./{split}/{cls}/{image.name}\n")
    (tmp_path / "cats_and_dogs_small.sha256").write_text("".join(lines))
    assert dataset_problem("cats_and_dogs", str(tmp_path)) is None
    (root / "test" / "dogs" / "dog.0.jpg").write_bytes(b"swapped")
    assert "1 image(s) missing or changed" in dataset_problem("cats_and_dogs", str(tmp_path))
    rubrics = [r for r in load_rubrics() if r.name in ("01_data_generators", "03_lenet5")]
    with pytest.raises(PreflightError) as err:
        preflight(rubrics, GradingSettings(data_dir=str(tmp_path), sandbox="off"))
    assert "cats_and_dogs" in str(err.value) and "mnist" in str(err.value) and "--data-dir" in str(err.value)


def test_the_missing_data_hint_names_the_command_that_fetches_here(tmp_path, isolated_caches, monkeypatch):
    rubrics = [r for r in load_rubrics() if r.name == "03_lenet5"]
    settings = GradingSettings(data_dir=str(tmp_path), sandbox="off")
    monkeypatch.delenv("CNN_COURSE_FETCH", raising=False)
    with pytest.raises(PreflightError) as course:
        preflight(rubrics, settings)
    assert "`python -m autograder data fetch`" in str(course.value) and "--data-dir DIR" in str(course.value)
    monkeypatch.setenv("CNN_COURSE_FETCH", "make data")  # as the student repository's Makefile sets it
    with pytest.raises(PreflightError) as student:
        preflight(rubrics, settings)
    assert "Run `make data` here" in str(student.value) and "$CNN_COURSE_DATA=DIR" in str(student.value)
    assert "data fetch" not in str(student.value) and "--data-dir" not in str(student.value)


# --- late policy -------------------------------------------------------------------------------------------------

def late(hours: float) -> Lateness:
    return Lateness("x", hours * 3600)


def test_grace_days_are_spent_in_due_date_order_and_the_penalty_is_capped():
    due = {"a": dt.datetime(2026, 10, 1, tzinfo=UTC), "b": dt.datetime(2026, 10, 8, tzinfo=UTC),
           "c": dt.datetime(2026, 10, 15, tzinfo=UTC)}
    policy = LatePolicy(percent_per_day=10, max_percent=30, grace_days=2)
    got = apply_policy(policy, {"c": late(100), "b": late(34), "a": late(1)}, due)
    assert (got["a"].days_late, got["a"].grace_days, got["a"].penalty_percent) == (1, 1, 0)
    assert (got["b"].days_late, got["b"].grace_days, got["b"].penalty_percent) == (2, 1, 10)
    assert (got["c"].days_late, got["c"].grace_days, got["c"].penalty_percent) == (5, 0, 30)  # 50 capped at 30
    assert apply_policy(policy, {"a": Lateness("x", 0.0), "b": Lateness(None, None)}, due)["a"].penalty_percent == 0


def test_a_notebook_without_a_trustworthy_time_is_flagged_by_name(tmp_path):
    """A due date and no time the grader can vouch for: in grades.csv, in gradebook.csv's late cell and among
    the students flagged, by notebook; never on time in silence."""
    from autograder.classrun.class_report import flagged, write_gradebook
    from autograder.pipeline.report import write_grades_csv

    rubric = next(r for r in load_rubrics() if r.name == WARMUP)
    nb = NotebookGrade(rubric, [CheckResult(WARMUP, "accuracy", "", 2, 2, Status.PASS, "")])
    nb.lateness = Lateness(None, None, untimed="timestamp.txt is a symlink")
    write_grades_csv(tmp_path / "grades.csv", {"eve": [nb]})
    assert table(tmp_path / "grades.csv")["eve"]["flags"] == "untimed"
    write_gradebook(tmp_path / "gradebook.csv", {"eve": [nb]}, [WARMUP])
    assert table(tmp_path / "gradebook.csv")["eve"]["late"] == f"{WARMUP} untimed"
    assert flagged({"eve": [nb]})[0][1]["late"] == f"{WARMUP} untimed"


def test_the_nbgrader_route_flags_a_due_date_without_a_timestamp_it_can_trust(tmp_path):
    """Attack: timestamp.txt a symlink in submitted/ (nbgrader charged no late penalty, and nothing was flagged).
    nbgrader reads the staged copy, which holds no symlink; a due date without a timestamp is flagged by name."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    from autograder import rubric as rubrics
    from autograder.course.nbgrader_course import STAGED, stage_submitted
    from autograder.course.nbgrader_reports import nbgrader_lateness

    course = tmp_path / "course"
    for student in ("ann", "eve"):
        (course / "submitted" / student / WARMUP).mkdir(parents=True)
        (course / "submitted" / student / WARMUP / f"{WARMUP}.ipynb").write_text("{}")
    (course / "submitted" / "ann" / WARMUP / "timestamp.txt").write_text("2026-10-03 09:59:00.000000 UTC")
    (course / "early.txt").write_text("2026-09-01 00:00:00.000000 UTC")
    (course / "submitted" / "eve" / WARMUP / "timestamp.txt").symlink_to(course / "early.txt")
    assert stage_submitted(course, [WARMUP], rubrics.default_limits()["smoke"]) == {}
    read = CourseDirectory(root=str(course)).get_existing_timestamp  # as nbgrader's autograde reads it
    stamps = {s: read(str(course / STAGED / s / WARMUP)) for s in ("ann", "eve")}
    assert stamps == {"ann": dt.datetime(2026, 10, 3, 9, 59), "eve": None}

    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db) as gradebook:
        gradebook.add_assignment(WARMUP, duedate=dt.datetime(2026, 10, 1, 23, 59))
        for student, when in stamps.items():
            gradebook.add_student(student)
            gradebook.add_submission(WARMUP, student, **({"timestamp": when} if when else {}))
    late = nbgrader_lateness(db, read_config(ROOT / "course.toml"))
    assert late["ann", WARMUP].seconds_late == 34 * 3600 and not late["ann", WARMUP].untimed
    assert (late["eve", WARMUP].seconds_late, late["eve", WARMUP].penalty_percent) == (None, 0)
    assert "timestamp" in late["eve", WARMUP].untimed


def test_course_config_rejects_an_unknown_or_impossible_policy(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text("[late]\npercent_per_dya = 10\n")
    with pytest.raises(CourseConfigError, match="unknown"):
        read_config(path)
    path.write_text("[late]\npercent_per_day = 10\nmax_percent = 150\n")
    with pytest.raises(CourseConfigError, match="max_percent"):
        read_config(path)
    assert read_config(ROOT / "course.toml").policy.percent_per_day >= 0


# --- collect: the workflow's digest (the time it vouches for: tests/test_collect.py) ------------------------------

def test_workflow_state_against_the_template(tmp_path):
    template = tmp_path / "template"
    (template / ".github" / "workflows").mkdir(parents=True)
    (template / ".github" / "workflows" / "autograde.yml").write_text("on: push\n")
    student = tmp_path / "student"
    assert workflow_state(student, template) == "missing"
    (student / ".github" / "workflows").mkdir(parents=True)
    (student / ".github" / "workflows" / "autograde.yml").write_text("on: push\n")
    assert workflow_state(student, template) == "unchanged"
    (student / ".github" / "workflows" / "autograde.yml").write_text("on: push\nenv: {SKIP: 1}\n")
    assert workflow_state(student, template) == "changed"


# --- class report --------------------------------------------------------------------------------------------

def test_messages_keep_their_last_actionable_line():
    message = ("the cell starting `x = load()` raised DatasetNotFoundError: mnist not found. Looked in:\n"
               + "".join(f"  - /very/long/path/{i}/mnist.npz (somewhere)\n" for i in range(20))
               + "Set $CNN_COURSE_DATA to a folder holding mnist.npz")
    cut = short(message)
    assert len(cut) <= 320 and cut.endswith("Set $CNN_COURSE_DATA to a folder holding mnist.npz")
    assert cut.startswith("the cell starting")


def test_pass_rate_counts_every_row_of_a_check_and_leaves_zero_point_rows_out():
    rubric = next(r for r in load_rubrics() if r.name == WARMUP)

    def nb(accuracy: Status, history: Status) -> NotebookGrade:
        return NotebookGrade(rubric, [CheckResult(WARMUP, "accuracy", "", 2 if accuracy == Status.PASS else 0, 2,
                                                  accuracy, ""),
                                      CheckResult(WARMUP, "history", "", 0, 0, history, "")])

    rates = summarize({"a": [nb(Status.PASS, Status.PASS)], "b": [nb(Status.FAIL, Status.PASS)],
                       "c": [nb(Status.PASS, Status.FAIL)]})["rates"]
    assert [(round(rate, 2), check, n) for rate, _, check, n in rates] == [(0.67, "accuracy", 3)]


def test_the_histogram_counts_whole_students(tmp_path, monkeypatch):
    import matplotlib.figure

    from autograder.classrun.class_report import plot_scores

    seen = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: seen.append(fig))
    plot_scores(tmp_path / "plot.png", {WARMUP: [0, 4, 4], "03_lenet5": [8]}, {WARMUP: 4, "03_lenet5": 8})
    for ax in seen[0].axes:
        ax.figure.canvas.draw()
        ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


# --- a graded class --------------------------------------------------------------------------------------------

def edit_locked_cell(nb):
    cell(nb, "setup").source += "\nprint('edited')"


REFERENCE_PARAMS = (3 * 3 * 1 + 1) * 16 + (4 * 4 * 16 + 1) * 32 + (32 + 1) * 10  # the reference's model: 8,714


def wider_dense(nb):
    """Bob's own model: Dense(48) where the reference has Dense(32), with his hand count to match (12,986)."""
    cell(nb, "build_model").source = cell(nb, "build_model").source.replace("Dense(32,", "Dense(48,")
    cell(nb, "answers").source = "PARAMS_BY_HAND = (3 * 3 * 1 + 1) * 16 + (4 * 4 * 16 + 1) * 48 + (48 + 1) * 10"


DUE = "2026-10-01T23:59:00Z"
LATE = {"percent_per_day": 10, "max_percent": 50, "grace_days": 1}
STUDENTS = {"ann": Student(submitted="2026-10-01 20:00:00", workflow="unchanged"),
            "bob": Student(wider_dense, submitted="2026-10-03 09:59:00", workflow="unchanged"),  # 34 h late
            "carol": Student(edit_locked_cell, submitted="2026-10-01 22:00:00", workflow="changed")}


@pytest.fixture(scope="module")
def course(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("day")
    class_dir, config = hand_in(root, STUDENTS, DUE, LATE)
    return root, class_dir, config, data_dir


def batch(course, *extra: str) -> subprocess.CompletedProcess:
    root, class_dir, config, data_dir = course
    done = cli("batch", str(class_dir), "--out", str(root / "grading"), "--data-dir", str(data_dir),
               "--course-config", str(config), "--jobs", "2", *LIMITS, *extra)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def graded(course):
    batch(course)
    return course[0] / "grading"


def table(path: Path) -> dict[str, dict[str, str]]:
    return {r["student"]: r for r in csv.DictReader(path.open())}


@needs_sandbox
def unescaped(path):
    """A Markdown report as it reads once rendered (student text in its tables is backslash-escaped)."""
    return re.sub(r"\\(.)", r"\1", path.read_text())


@pytest.mark.notebooks
def test_late_penalty_and_flags_by_name_in_grades_gradebook_and_report(graded):
    long = table(graded / "grades.csv")
    assert {s: (r["raw_points"], r["penalty_percent"], r["points"]) for s, r in long.items()} == {
        "ann": ("4", "0", "4"), "bob": ("4", "10", "3.6"), "carol": ("4", "0", "4")}
    assert (long["bob"]["days_late"], long["bob"]["grace_days"], long["bob"]["flags"]) == ("2", "1", "late")
    assert long["carol"]["flags"] == "tampered" and long["ann"]["flags"] == ""
    wide = table(graded / "gradebook.csv")
    assert (wide["bob"][WARMUP], wide["bob"]["total"], wide["bob"]["late"]) == ("3.6", "3.6", "00_warmup 2d -10% (1 grace)")
    assert (wide["carol"]["tampered"], wide["carol"]["workflow"]) == (WARMUP, "changed")
    assert not any(wide["ann"][c] for c in ("late", "tampered", "workflow", "errors"))
    report = unescaped(graded / "class_report.md")
    flagged = report.split("## Students flagged")[1].split("##")[0]
    assert "| bob |  | 00_warmup 2d -10% (1 grace) |" in flagged and "| carol |  |  | 00_warmup | changed |" in flagged
    assert "ann" not in flagged
    rates = report.split("## Pass rate per check")[1].split("##")[0]
    assert "locked_cells" not in rates and "history" not in rates and "| 00_warmup | accuracy | 100% | 3 |" in rates


ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section,github_username,email\n"
          "Ann A,101,S1,ann@uni,Lab 1,ann,ann@uni.example\n"
          "Bob B,102,S2,bob@uni,Lab 1,bob,bob@uni.example\n"
          "=HYPERLINK(\"x\"),104,S4,dave@uni,Lab 2,dave,dave@uni.example\n")  # dave: no submission; carol: no row


@pytest.mark.notebooks
@needs_sandbox
def test_canvas_moodle_and_csv_exports(graded, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    refused = cli("export", str(graded), "--format", "canvas", "--roster", str(roster), timeout=300)
    assert refused.returncode == 2 and "graded, not on the roster: carol" in refused.stderr, refused.stderr
    assert not (graded / "export-canvas.csv").exists()  # carol's grade would never reach the LMS: nothing written
    done = cli("export", str(graded), "--format", "canvas", "--roster", str(roster), "--allow-unmatched", timeout=300)
    assert done.returncode == 0, done.stderr
    assert "nothing graded (0 points): dave" in done.stderr and "not on the roster (left out): carol" in done.stderr
    rows = list(csv.reader(io.StringIO((graded / "export-canvas.csv").read_text(), newline="")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", WARMUP]
    assert rows[1] == ["Points Possible", "", "", "", "", "4"]
    assert rows[2:] == [["Ann A", "101", "S1", "ann@uni", "Lab 1", "4"], ["Bob B", "102", "S2", "bob@uni", "Lab 1", "3.6"],
                        ["'=HYPERLINK(\"x\")", "104", "S4", "dave@uni", "Lab 2", "0"]]
    moodle = tmp_path / "moodle.csv"
    assert cli("export", str(graded), "--format", "moodle", "--roster", str(roster), "--out", str(moodle),
               "--allow-unmatched", timeout=300).returncode == 0
    assert list(csv.reader(moodle.open())) == [["Email address", WARMUP], ["ann@uni.example", "4"],
                                               ["bob@uni.example", "3.6"], ["dave@uni.example", "0"]]
    plain = tmp_path / "plain.csv"
    assert cli("export", str(graded), "--format", "csv", "--roster", str(roster), "--out", str(plain),
               "--allow-unmatched", timeout=300).returncode == 0
    assert [(r["student"], r[WARMUP], r["total"]) for r in csv.DictReader(plain.open())] == [
        ("ann", "4", "4"), ("bob", "3.6", "3.6"), ("dave", "0", "0")]
    # A Canvas gradebook export as the roster: its assignment column, "name (Canvas id)", is the one updated.
    canvas_export = tmp_path / "canvas-export.csv"
    canvas_export.write_text("Student,ID,SIS User ID,SIS Login ID,Section,00_warmup (4242),Final Score\n"
                             "Points Possible,,,,,4,\nA; Ann,101,S1,ann,Lab 1,,\nB; Bob,102,S2,bob,Lab 1,,\n")
    again = tmp_path / "canvas.csv"
    assert cli("export", str(graded), "--format", "canvas", "--roster", str(canvas_export), "--out", str(again),
               "--allow-unmatched", timeout=300).returncode == 0
    assert list(csv.reader(again.open(newline=""))) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "00_warmup (4242)"],
        ["Points Possible", "", "", "", "", "4"], ["A; Ann", "101", "S1", "ann", "Lab 1", "4"],
        ["B; Bob", "102", "S2", "bob", "Lab 1", "3.6"]]


@pytest.mark.notebooks
@needs_sandbox
def test_feedback_is_returned_with_one_command(graded, tmp_path):
    done = cli("feedback", str(graded), "--to", str(tmp_path / "back"), timeout=300)
    assert done.returncode == 0, done.stderr
    for student in ("ann", "bob", "carol"):
        names = sorted(p.name for p in (tmp_path / "back" / student).iterdir())
        assert names == ["00_warmup.html", "00_warmup.ipynb", "summary.md"]
    assert "cell 'setup' was edited" in (tmp_path / "back" / "carol" / "summary.md").read_text()
    done = cli("feedback", str(graded), "--nbgrader", str(tmp_path / "course"), timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "course" / "feedback" / "bob" / WARMUP / "00_warmup.html").is_file()


def test_feedback_says_every_folder_it_wrote_for_a_student(tmp_path):
    from autograder.course.feedback import return_feedback, written_lines

    rubrics = [r for r in load_rubrics() if r.name in (WARMUP, "03_lenet5")]
    for student, rubric_list in (("alice", rubrics), ("bob", rubrics[:1])):
        for rubric in rubric_list:
            (tmp_path / "grading" / student).mkdir(parents=True, exist_ok=True)
            for suffix in (".html", ".ipynb"):
                (tmp_path / "grading" / student / Path(rubric.notebook).with_suffix(suffix)).write_text("x")
    course = tmp_path / "course"
    lines = written_lines(return_feedback(tmp_path / "grading", rubrics, nbgrader_course=course))
    assert lines == [f"alice: 4 file(s) in 2 folders: {course / 'feedback/alice' / WARMUP}, "
                     f"{course / 'feedback/alice/03_lenet5'}",
                     f"bob: 2 file(s) in {course / 'feedback/bob' / WARMUP}"]


@pytest.mark.notebooks
@needs_sandbox
def test_a_regrade_says_what_moved(course, graded):
    # The stored result as an earlier grader left it: carol's accuracy failed then.
    path = graded / "carol" / f"{WARMUP}.result.json"
    stored = json.loads(path.read_text())
    for row in stored["results"]:
        if row["id"] == "accuracy":
            row["points"], row["status"] = 0, "fail"
    stored["grader"] = "0.old"
    path.write_text(json.dumps(stored))
    done = batch(course, "--student", "carol")
    assert "regraded carol 00_warmup: 2 -> 4 points (accuracy 0 -> 2 (fail -> pass))" in done.stderr
    log = list(csv.DictReader((graded / "regrade.csv").open()))
    assert [(r["student"], r["old_points"], r["new_points"], r["checks"], r["old_grader"]) for r in log] == [
        ("carol", "2", "4", "accuracy 0 -> 2 (fail -> pass)", "0.old")]
    report = unescaped(graded / "class_report.md")
    assert "| carol | 00_warmup | 2 | 4 | accuracy 0 -> 2 (fail -> pass) |" in report


def regrade_rows(grading: Path) -> list[dict[str, str]]:
    path = grading / "regrade.csv"
    return list(csv.DictReader(path.open())) if path.is_file() else []


@pytest.mark.notebooks
@needs_sandbox
def test_a_rubric_edit_regrades_the_class_and_lists_only_who_moved(course, graded, tmp_path):
    """A copy of the rubric folder with 00's parameter ceiling lowered to the reference model's size: the rerun
    regrades every 00 notebook, and bob (a wider model) alone moves, by name, in regrade.csv and the report."""
    import shutil

    from autograder.rubric import RUBRIC_DIR

    root, class_dir, config, data_dir = course
    out = tmp_path / "grading"
    shutil.copytree(graded, out)  # the class as graded: the rerun replaces these results
    earlier = regrade_rows(out)
    rubrics = tmp_path / "rubric"
    shutil.copytree(RUBRIC_DIR, rubrics, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    text = (rubrics / f"{WARMUP}.toml").read_text()
    assert "max_params = 20_000" in text
    (rubrics / f"{WARMUP}.toml").write_text(text.replace("max_params = 20_000", f"max_params = {REFERENCE_PARAMS}"))
    args = ["batch", str(class_dir), "--out", str(out), "--data-dir", str(data_dir), "--course-config", str(config),
            "--jobs", "2", *LIMITS, "--rubric-dir", str(rubrics)]
    done = cli(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "unchanged since their stored results" not in done.stderr  # a rubric edit is a new grader version
    assert "regraded bob 00_warmup: 4 -> 3 points (structure 1 -> 0 (pass -> fail))" in done.stderr
    assert "regraded ann" not in done.stderr and "regraded carol" not in done.stderr
    added = regrade_rows(out)[len(earlier):]
    assert [(r["student"], r["assignment"], r["old_points"], r["new_points"], r["checks"]) for r in added] == [
        ("bob", WARMUP, "4", "3", "structure 1 -> 0 (pass -> fail)")]
    assert added[0]["old_grader"] != added[0]["new_grader"]
    section = unescaped(out / "class_report.md").split("## Regraded in this run")[1].split("##")[0]
    assert "| bob | 00_warmup | 4 | 3 | structure 1 -> 0 (pass -> fail) |" in section
    assert "ann" not in section and "carol" not in section
    wide = table(out / "gradebook.csv")
    assert (wide["ann"]["total"], wide["bob"]["total"], wide["carol"]["total"]) == ("4", "2.7", "4")  # bob: late
    again = cli(*args)  # the same rubrics: nothing to regrade, nothing moved
    assert again.returncode == 0 and "3 notebook(s) unchanged since their stored results: skipped" in again.stderr
    assert len(regrade_rows(out)) == len(earlier) + 1


# --- the nbgrader route --------------------------------------------------------------------------------------------

@pytest.mark.notebooks
@needs_sandbox
def test_nbgrader_route_gets_the_due_date_the_policy_the_flags_by_name_and_reports_progress(tmp_path, data_dir):
    """The same class on the nbgrader route: nbgrader charges the late penalty batch charges, and the course's
    grading/ holds what batch writes (gradebook.csv and the class report with the flags by name), which
    export reads."""
    from nbgrader.api import Gradebook

    from autograder.course.nbgrader_course import autograde
    from autograder.progress import LineProgress

    course = new_course(tmp_path, WARMUP)
    hand_in(course, {**STUDENTS, "bob": replace(STUDENTS["bob"], edit=None)}, DUE, LATE)  # bob: the reference
    stream = io.StringIO()
    path = autograde(course, [WARMUP], profile="smoke", progress=LineProgress(stream))
    grading = course / "grading"
    assert path == grading / "nbgrader_grades.csv" and not (course / "grades.csv").exists()
    rows = {r["student_id"]: r for r in csv.DictReader(path.open())}
    assert {s: (float(r["raw_score"]), float(r["late_submission_penalty"]), float(r["score"]))
            for s, r in rows.items()} == {"ann": (4, 0, 4), "bob": (4, 0.4, 3.6), "carol": (4, 0, 4)}  # as batch
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert gradebook.find_assignment(WARMUP).duedate == dt.datetime(2026, 10, 1, 23, 59)
    shown = stream.getvalue()
    assert "[1/3]" in shown and "[3/3]" in shown and "ann 00_warmup: 4 / 4 points" in shown, shown

    wide = table(grading / "gradebook.csv")  # the flags by name, as batch writes them
    assert (wide["bob"][WARMUP], wide["bob"]["late"]) == ("3.6", "00_warmup 2d -10% (1 grace)")
    assert (wide["carol"][WARMUP], wide["carol"]["tampered"], wide["carol"]["workflow"]) == ("4", WARMUP, "changed")
    assert not any(wide["ann"][c] for c in ("late", "tampered", "workflow", "errors"))
    flagged = unescaped(grading / "class_report.md").split("## Students flagged")[1].split("##")[0]
    assert "| bob |  | 00_warmup 2d -10% (1 grace) |" in flagged and "| carol |  |  | 00_warmup | changed |" in flagged
    assert "ann" not in flagged
    assert "cell 'setup' was edited" in (grading / "carol" / "summary.md").read_text()
    assert (grading / "bob" / "00_warmup.html").is_file()  # feedback pages, for `feedback`
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    assert cli("export", str(grading), "--format", "canvas", "--roster", str(roster), "--allow-unmatched",
               timeout=300).returncode == 0  # carol: graded, not on the roster
    exported = list(csv.reader((grading / "export-canvas.csv").open(newline="")))
    assert [r[-1] for r in exported[1:]] == ["4", "4", "3.6", "0"]  # Points Possible, ann, bob, dave
