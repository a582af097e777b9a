"""nbgrader for real: release staleness, autograde of two students, the gradebook."""

import json
import shutil

import nbformat

from autograder.course.nbgrader_course import autograde
from autograder.course.release import generate
from tests.conftest import ROOT
from tests.notebooks import cell, variant


def notebooks(directory):
    return {p.relative_to(directory).as_posix(): json.loads(p.read_text()) for p in sorted(directory.rglob("*.ipynb"))}


def test_released_and_reference_notebooks_are_current(tmp_path):
    """Fails when assignments/ or reference_solutions/ is stale against source/: run `make release`."""
    generate(out=tmp_path)
    for folder in ("assignments", "reference_solutions"):
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
                check_id = c.source.split('grade_cell("', 1)[1].split('"')[2]
                cells[check_id] = float(meta["points"])
        graded = {s.id: s.points for s in rubric.checks if s.points > 0}
        assert cells == graded, rubric.name


def test_nbgrader_autograde_two_students(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "source", course / "source", ignore=shutil.ignore_patterns("0[1-9]*"))

    def wrong(nb):
        cell(nb, "answers").source = "PARAMS_BY_HAND = 7"

    variant(course / "submitted" / "alice", "00_warmup")
    variant(course / "submitted" / "bob", "00_warmup", wrong)
    csv_path = autograde(course, ["00_warmup"], profile="smoke")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        alice = gradebook.find_submission("00_warmup", "alice")
        bob = gradebook.find_submission("00_warmup", "bob")
        assert alice.max_score == 4
        assert alice.score == 4
        assert bob.score == 3
        grades = {g.name: g.score for g in gradebook.find_submission_notebook("00_warmup", "00_warmup", "bob").grades}
        assert grades["test_params_by_hand"] == 0 and grades["test_accuracy"] == 2
    assert "alice" in csv_path.read_text() and "bob" in csv_path.read_text()


def test_grade_cells_find_the_notebook_for_sandboxed_checks(tmp_path, monkeypatch):
    """nbgrader runs a notebook from its folder; a grade cell's sandboxed check reads the notebook there."""
    import autograder

    shutil.copy(ROOT / "reference_solutions" / "01_data_generators" / "01_data_generators.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)
    autograder.grade_cell("01", "generator", tmp_path / "artifacts", "smoke")  # raises AssertionError on failure
