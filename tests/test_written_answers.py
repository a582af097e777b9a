"""Written answers are read by a person (issue 31, item 6): 04's ``observation`` earns nothing automatically.

- nbgrader: the answer is a manually graded cell (``solution`` and ``grade``) worth the rubric's review points; its
  gradebook entry needs a manual grade, the score the instructor enters counts in the submission's total.
- ``batch``: the class run writes ``review/04_depth_residual.observation.csv`` with each student's text; the next
  run reads the instructor's points back into every output and refuses a sheet it cannot trust.

The class run's executor is replaced by one that answers with stored-style results (as in
``test_what_people_read``): every automatic check full marks, ``observation`` scored by the real check on
artifacts written by the student API. No notebook runs, except nbgrader's own conversion in the marked test.
"""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import points
from autograder.classrun import reviews, store
from autograder.grading import load_rubrics
from autograder.results import CheckResult, Status

ROOT = Path(__file__).resolve().parents[1]
DEPTH = "04_depth_residual"
SHEET = Path("review") / f"{DEPTH}.observation.csv"
HOSTILE = ("=HYPERLINK(\"http://evil.example\") <script>alert(1)</script> [click](javascript:alert(1)) "
           "the plain network stalls because its signal shrinks at every one of its layers while the residual "
           "network learns through its skip connections")
ANSWERS = {"alice": "The plain network stays at chance because the activations and gradients shrink at each "
                    "layer; the residual network learns because the skip connections carry the signal through.",
           "bob": HOSTILE, "carol": "too short"}


def rubric():
    return next(r for r in load_rubrics() if r.name == DEPTH)


def observation_row(tmp: Path, text: str) -> dict:
    """The ``observation`` result as the grader scores it: the student API writes the answer, the check reads it."""
    import coursework
    from autograder.pipeline.score import score

    coursework.submit(tmp, answers={"observation": text})
    return score(rubric(), "smoke", tmp, None, check_ids=["observation"])[0].to_dict()


def fake_results(tmp: Path, student: str, answers: dict[str, str]) -> list[dict]:
    r = rubric()
    rows = [CheckResult(r.id, s.id, s.description, s.points, s.max_points, Status.PASS, "ok").to_dict()
            for s in r.checks if s.id != "observation"]
    return rows + [observation_row(tmp / student, answers[student])]


def executed_notebook() -> bytes:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hi')")])).encode()


@pytest.fixture()
def batch(tmp_path, data_dir, monkeypatch, capsys):
    """A function running ``batch`` on the class of three (executor faked): (exit code, stdout, stderr)."""
    from autograder import cli as command
    from autograder.classrun import run

    answers = dict(ANSWERS)
    calls: list[str] = []

    def execute(queue, settings, jobs=None, address=None):
        for job in queue:
            calls.append(job.student)
            yield job, {"student": job.student, "assignment": job.assignment, "key": job.key,
                        "grader": store.grader_version(), "profile": "smoke", "seed": 0, "notebook_seed": 0,
                        "results": fake_results(tmp_path / "artifacts" / str(len(calls)), job.student, answers),
                        "timings": {"stage_s": 0.1}, "files": {f"{DEPTH}.ipynb": executed_notebook()}}

    monkeypatch.setitem(run.EXECUTORS, "local", execute)
    class_dir = tmp_path / "submitted"
    for student in ANSWERS:
        (class_dir / student / DEPTH).mkdir(parents=True)
        (class_dir / student / DEPTH / "notes.txt").write_text(student)

    def go(*extra: str) -> tuple[int, str, str]:
        old = signal.getsignal(signal.SIGTERM)
        try:
            code = command.main(["batch", str(class_dir), "--out", str(tmp_path / "grading"), "--no-sandbox",
                                 "--data-dir", str(data_dir), "--assignment", "04", *extra])
        finally:
            signal.signal(signal.SIGTERM, old)
        printed = capsys.readouterr()
        return code, printed.out, printed.err

    go.out, go.answers, go.calls, go.class_dir = tmp_path / "grading", answers, calls, class_dir
    return go


def table(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["student"]: r for r in csv.DictReader(fh)}


def enter(sheet: Path, marks: dict[str, tuple[str, str]]) -> None:
    """What the instructor does: points and a comment in the sheet's rows."""
    with open(sheet, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["student"] in marks:
            row["points"], row["comment"] = marks[row["student"]]
    with open(sheet, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=reviews.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_the_rubric_and_notebook_give_the_answer_to_a_person():
    """Presence earns 0 points automatically; the review point is the source notebook's manually graded cell."""
    r = rubric()
    spec = r.check("observation")
    assert (spec.points, spec.review_points, spec.max_points) == (0.0, 1.0, 1.0)
    source = nbformat.read(ROOT / "source" / DEPTH / f"{DEPTH}.ipynb", as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}
    manual = cells["observation"].metadata["nbgrader"]
    assert manual["solution"] and manual["points"] == spec.review_points and "test_observation" not in cells
    # nbgrader's total for the notebook (every grade cell, automatic and manual) is the rubric's
    assert points.rounded(sum(float(c.metadata["nbgrader"]["points"]) for c in cells.values())) == r.max_points


def export(out: Path, capsys) -> tuple[dict[str, dict[str, str]], str]:
    """``export --format csv`` of the grading folder: (rows by student, stderr)."""
    from autograder import cli as command

    roster = out.parent / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,github_username,email\n" + "".join(
        f"{s.title()},{i},S{i},{s}@uni,Lab 1,{s},{s}@uni.example\n" for i, s in enumerate(ANSWERS, 1)))
    assert command.main(["export", str(out), "--format", "csv", "--roster", str(roster)]) == 0
    return table(out / "export-csv.csv"), capsys.readouterr().err


def test_a_class_run_lists_answers_for_review_then_merges_the_instructors_points(batch, capsys):
    r = rubric()
    auto, most = points.rounded(r.max_points - 1), r.max_points
    code, printed, _ = batch()
    assert code == 0
    sheet = table(batch.out / SHEET)
    assert sorted(sheet) == ["alice", "bob"]  # carol's 2 words are no answer to read: 0, said so
    assert sheet["alice"]["points"] == "" and sheet["alice"]["max_points"] == "1"
    assert sheet["bob"]["answer_excerpt"].startswith("'=HYPERLINK")  # no formula runs in a spreadsheet
    assert (batch.out / sheet["bob"]["answer_file"]).read_text().strip() == HOSTILE
    grades = table(batch.out / "grades.csv")
    assert (grades["alice"]["points"], grades["alice"]["max_points"]) == (points.shown(auto), points.shown(most))
    assert "awaiting-review" in grades["alice"]["flags"] and "awaiting-review" not in grades["carol"]["flags"]
    wide = table(batch.out / "gradebook.csv")
    assert (wide["alice"]["awaiting_review"], wide["carol"]["awaiting_review"]) == (DEPTH, "")
    assert f"alice: {points.shown(auto)} / {points.shown(most)} (1 point awaiting review)" in printed
    report = (batch.out / "class_report.md").read_text()
    assert "0 of 2 awaiting review" not in report and "2 of 2 awaiting review" in report
    page = (batch.out / "class_report.html").read_text()
    section = page.split("Written answers for you to grade")[1].split("<h2")[0]
    assert "<script>" not in page and "href" not in section and "HYPERLINK" in section  # text, not a tag or link
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "1 point awaiting review" in (batch.out / "alice" / "summary.md").read_text()
    exported, said = export(batch.out, capsys)
    assert exported["alice"]["total"] == points.shown(auto) and "awaiting review" in said and "alice" in said

    enter(batch.out / SHEET, {"alice": ("1", "clear and right"), "bob": ("0.5", "")})
    code, printed, _ = batch()
    assert code == 0 and batch.calls == ["alice", "bob", "carol"]  # nothing graded again: the points merged
    grades = table(batch.out / "grades.csv")
    assert grades["alice"]["points"] == points.shown(most) and grades["bob"]["points"] == points.shown(auto + 0.5)
    assert grades["carol"]["points"] == points.shown(auto) and "awaiting-review" not in grades["alice"]["flags"]
    wide = table(batch.out / "gradebook.csv")
    assert (wide["alice"]["total"], wide["bob"]["total"], wide["alice"]["awaiting_review"]) == (
        points.shown(most), points.shown(auto + 0.5), "")
    assert f"alice: {points.shown(most)} / {points.shown(most)}\n" in printed
    assert "0 of 2 awaiting review" in (batch.out / "class_report.md").read_text()
    summary = (batch.out / "alice" / "summary.md").read_text()
    assert "| observation | ✅ pass | 1 / 1 | graded by your instructor\\: 1 point of 1. clear and right |" in summary
    assert "graded by your instructor: 1 point of 1" in (batch.out / "alice" / f"{DEPTH}.html").read_text()
    assert table(batch.out / SHEET)["alice"]["points"] == "1"  # the sheet keeps what was entered
    exported, said = export(batch.out, capsys)
    assert exported["alice"]["total"] == points.shown(most) and "awaiting review" not in said

    code, _, _ = batch("--student", "alice")  # a regrade of the same answer keeps its points
    assert code == 0 and table(batch.out / "grades.csv")["alice"]["points"] == points.shown(most)
    batch.answers["alice"] = ANSWERS["alice"] + " Batch normalization would also let the plain network learn."
    (batch.class_dir / "alice" / DEPTH / "notes.txt").write_text("resubmitted")
    code, _, _ = batch()
    assert code == 0 and batch.calls[-1] == "alice"
    assert "awaiting-review" in table(batch.out / "grades.csv")["alice"]["flags"]  # a new text is read again
    row = table(batch.out / SHEET)["alice"]
    assert row["points"] == "" and row["comment"].startswith("answer changed since it was graded (1 point then)")


@pytest.mark.parametrize("points_cell, said", [("2", "from 0 to 1"), ("-1", "plain number"), ("one", "plain number"),
                                               ("nan", "plain number"), ("1e0", "plain number")])
def test_points_that_are_not_a_number_from_0_to_the_maximum_are_refused(batch, points_cell, said):
    assert batch()[0] == 0
    enter(batch.out / SHEET, {"bob": (points_cell, "")})
    code, _, err = batch()
    assert code == 2 and f"line 3: points {points_cell!r} must be a plain number" in err and said in err
    assert table(batch.out / "grades.csv")["bob"]["points"] != "", "nothing written over by the refused run"


def test_a_row_for_a_student_the_grading_folder_does_not_hold_is_refused(batch):
    assert batch()[0] == 0
    with open(batch.out / SHEET, "a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(["mallory", "", "", "sha256:0", "1", "1", ""])
    code, _, err = batch()
    assert code == 2 and "student 'mallory' has no 04_depth_residual answer 'observation'" in err


@pytest.mark.notebooks
def test_the_nbgrader_route_shows_a_manually_graded_cell_in_the_gradebook(tmp_path):
    """nbgrader itself (generate_assignment, autograde's sanitizing and SaveAutoGrades; the pipeline's points in the
    grade cells are tested in test_nbgrader): the edited answer needs a manual grade, the untouched one is 0
    automatically, and the instructor's score counts in the total beside the automatic points."""
    from nbgrader.api import Gradebook

    from autograder.course.nbgrader_grades import autograde_preprocessors
    from autograder.course.release import nbgrader_environment

    course = tmp_path / "course"
    shutil.copytree(ROOT / "source" / DEPTH, course / "source" / DEPTH)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    env = nbgrader_environment(PYTHONPATH=str(ROOT))

    def nbgrader(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr[-3000:]

    nbgrader("generate_assignment", DEPTH, "--force")
    released = nbformat.read(course / "assignments" / DEPTH / f"{DEPTH}.ipynb", as_version=4)
    for student, answer in (("alice", ANSWERS["alice"]), ("carol", None)):
        nb = nbformat.from_dict(released)
        if answer is not None:
            cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "observation")
            cell.source = f"OBSERVATION = {answer!r}"
        (course / "submitted" / student / DEPTH).mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / DEPTH / f"{DEPTH}.ipynb")
    no_kernel = [p for p in autograde_preprocessors() if not p.endswith("PipelineGrades")]  # nothing executes
    nbgrader("autograde", DEPTH, "--create", "--force",
             *(f"--Autograde.autograde_preprocessors={p}" for p in no_kernel))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert gradebook.find_assignment(DEPTH).max_score == rubric().max_points
        alice = gradebook.find_grade("observation", DEPTH, DEPTH, "alice")
        carol = gradebook.find_grade("observation", DEPTH, DEPTH, "carol")
        assert (alice.needs_manual_grade, alice.auto_score, alice.max_score) == (True, None, 1.0)
        assert (carol.needs_manual_grade, carol.score) == (False, 0.0)  # unchanged from the release: nothing to read
        before = gradebook.find_submission(DEPTH, "alice").score
        alice.manual_score, alice.needs_manual_grade = 1.0, False  # what formgrader's API stores for the point
        gradebook.db.commit()
        assert gradebook.find_submission(DEPTH, "alice").score == before + 1.0
        assert not gradebook.find_submission(DEPTH, "alice").needs_manual_grade
    # the route's grading/ tables (from the results PipelineGrades stores) take formgrader's score for the answer
    from autograder.classrun.lateness import CourseConfig, LatePolicy
    from autograder.course.nbgrader_reports import write_class_tables

    grading = course / "grading"
    store.store_result(grading, {"student": "alice", "assignment": DEPTH, "key": "nbgrader", "grader": "test",
                                 "results": fake_results(tmp_path / "artifacts", "alice", ANSWERS), "timings": {}})
    write_class_tables(grading, f"sqlite:///{course / 'gradebook.db'}", CourseConfig({}, LatePolicy()), [rubric()], {})
    row = table(grading / "grades.csv")["alice"]
    assert (row["points"], row["flags"]) == (points.shown(rubric().max_points), "")


def test_a_review_table_with_a_misspelt_key_is_refused(tmp_path):
    from autograder import rubric as rubrics

    text = (rubrics.RUBRIC_DIR / f"{DEPTH}.toml").read_text()
    assert "review = { points = 1 }" in text
    (tmp_path / f"{DEPTH}.toml").write_text(text.replace("review = { points = 1 }", "review = { point = 1 }"))
    with pytest.raises(rubrics.RubricError, match="review must be a table with only points"):
        rubrics.load(tmp_path / f"{DEPTH}.toml")
