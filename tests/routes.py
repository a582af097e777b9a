"""Driving the grading routes from tests: a fresh nbgrader course and its gradebook's scores, and the
arguments that load the pytest plugin."""

from __future__ import annotations

import importlib.metadata
import shutil

from autograder.paths import ROOT


def new_course(tmp_path, assignment):
    """A fresh nbgrader course (config, the assignment's source, an empty gradebook) in ``tmp_path``."""
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "source" / assignment, course / "source" / assignment)
    return course


def gradebook_scores(course, assignment, student):
    """(the submission's total, {grade cell: points}) as nbgrader's gradebook holds them."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        total = gradebook.find_submission(assignment, student).score
        cells = gradebook.find_submission_notebook(assignment, assignment, student).grades
        return total, {g.name: g.score for g in cells}


def plugin_args() -> list[str]:
    """Nothing once the project is installed (the pytest11 entry point); -p in a checkout not yet reinstalled."""
    registered = any(ep.value == "autograder.pytest_plugin"
                     for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if registered else ["-p", "autograder.pytest_plugin"]
