"""The nbgrader route's class tables: what ``batch`` writes, from what nbgrader's autograde graded.

:class:`~autograder.course.nbgrader_grades.PipelineGrades` stores each notebook it grades as ``batch`` does
(:func:`store_notebook`: ``grading/STUDENT/NN_name.result.json`` with the executed notebook and the feedback
page; a stored score that moves is logged in ``regrade.csv``). After nbgrader's run, :func:`write_class_tables`
reads those results with the lateness nbgrader measured and the course's late policy, and writes the same
``grades.csv``, ``gradebook.csv`` (the flags by name: late, tampered, workflow, errors) and class report as
``batch``, so that ``export`` and ``feedback`` read either route's grading folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder.classrun import class_report, regrade, store
from autograder.classrun.lateness import CourseConfig, Lateness, apply_policy
from autograder.grading import GradingSettings, NotebookGrade
from autograder.rubric import Rubric

ROUTE_KEY = "nbgrader"  # the stored results' key: batch, whose keys are digests, regrades them


def store_notebook(grading: Path, student: str, graded: NotebookGrade, out: Path,
                   settings: GradingSettings) -> Optional[regrade.Change]:
    """Store one notebook graded on the nbgrader route under ``grading/STUDENT/`` (its files: those in ``out``);
    what moved against the result it replaces, if anything (also logged in ``regrade.csv``)."""
    done: dict[str, Any] = {
        "student": student, "assignment": graded.rubric.name, "key": ROUTE_KEY, "grader": store.grader_version(),
        "profile": settings.profile, "seed": settings.seed, "results": [r.to_dict() for r in graded.results],
        "timings": graded.timings,
        "files": {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and not p.is_symlink()},
    }
    change = regrade.compare(store.load_result(grading, student, graded.rubric.name), done)
    store.store_result(grading, done)
    if change is not None:
        regrade.append_log(grading, [change])
    return change


def nbgrader_lateness(db_url: str, course: CourseConfig) -> dict[tuple[str, str], Lateness]:
    """{(student, assignment): lateness with the policy applied} for every submission in nbgrader's gradebook,
    from the seconds late nbgrader measured (its timestamp against the assignment's due date)."""
    from nbgrader.api import Gradebook

    from autograder.course.nbgrader_late import submission_lateness

    charged: dict[tuple[str, str], Lateness] = {}
    with Gradebook(db_url) as gradebook:
        for student in gradebook.students:
            late, due = {}, {}
            for submission in student.submissions:
                name, duedate = submission.assignment.name, submission.assignment.duedate
                late[name] = submission_lateness(submission)  # untimed: a due date and no timestamp
                if duedate is not None:
                    due[name] = duedate.replace(tzinfo=dt.timezone.utc)
            charged |= {(student.id, a): item for a, item in apply_policy(course.policy, late, due).items()}
    return charged


def stored_grades(grading: Path, rubrics: Sequence[Rubric], submissions: dict[tuple[str, str], Lateness]
                  ) -> dict[str, list[NotebookGrade]]:
    """{student: notebooks} stored in ``grading`` for the submissions the gradebook holds, in rubric order."""
    graded: dict[str, list[NotebookGrade]] = {}
    for student in sorted({s for s, _ in submissions}):
        for rubric in rubrics:
            result = store.load_result(grading, student, rubric.name)
            if (student, rubric.name) in submissions and result is not None:
                notebook = NotebookGrade(rubric, store.results_of(result), result.get("timings", {}))
                notebook.lateness = submissions[student, rubric.name]
                graded.setdefault(student, []).append(notebook)
    return graded


def write_class_tables(grading: Path, db_url: str, course: CourseConfig, rubrics: Sequence[Rubric],
                       workflow: dict[str, str], changes: Sequence[regrade.Change] = ()
                       ) -> dict[str, list[NotebookGrade]]:
    """Each student's reports (``summary.md``, ``results.json``, ``junit.xml``), ``grades.csv``, ``gradebook.csv``
    and the class report in ``grading``, as ``batch`` writes them."""
    from autograder.pipeline import report

    graded = stored_grades(grading, rubrics, nbgrader_lateness(db_url, course))
    for student, notebooks in graded.items():
        stored = store.load_result(grading, student, notebooks[0].rubric.name) or {}
        report.write_reports(grading / student, notebooks, {"submission": f"submitted/{student}", "route": ROUTE_KEY,
                                                            "profile": stored.get("profile", ""),
                                                            "seed": stored.get("seed", 0)})
    report.write_grades_csv(grading / "grades.csv", graded)
    class_report.write_gradebook(grading / "gradebook.csv", graded, [r.name for r in rubrics], workflow)
    class_report.write_class_report(grading, graded, workflow, regrade.report_lines(changes))
    return graded
