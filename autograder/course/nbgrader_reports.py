"""The nbgrader route's class tables: what ``batch`` writes, from what nbgrader's autograde graded.

:class:`~autograder.course.nbgrader_grades.PipelineGrades` stores each notebook it grades as ``batch`` does
(:func:`store_notebook`: ``grading/STUDENT/NN_name.result.json`` with the executed notebook and the feedback
page; a stored score that moves is logged in ``regrade.csv``). After nbgrader's run, :func:`write_class_tables`
reads those results with the lateness nbgrader measured and the course's late policy, and writes the same
``grades.csv``, ``gradebook.csv`` (the flags by name: late, tampered, workflow, errors) and class report as
``batch``, so that ``export`` and ``feedback`` read either route's grading folder. A written answer's points are
the score the instructor entered in formgrader for its manually graded cell (the cell's id is the rubric check's):
until then it is awaiting review, as on ``batch``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder.classrun import class_report, regrade, reviews, store
from autograder.classrun.lateness import CourseConfig, Lateness, apply_policy
from autograder.grading import NOT_SUBMITTED, GradingSettings, NotebookGrade
from autograder.results import Status, unscored
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


def gradebook_class(db_url: str) -> tuple[list[str], list[str]]:
    """The students and the assignments nbgrader's gradebook holds."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        return sorted(s.id for s in gradebook.students), [a.name for a in gradebook.assignments]


def not_handed_in(rubric: Rubric) -> NotebookGrade:
    """A notebook its student never handed in: every check 0, missing, as the pipeline (and ``batch``) grades it."""
    return NotebookGrade(rubric, unscored(rubric.id, rubric.checks, Status.MISSING,
                                          f"{rubric.name}/{rubric.notebook} {NOT_SUBMITTED}"))


def stored_grades(grading: Path, rubrics: Sequence[Rubric], submissions: dict[tuple[str, str], Lateness],
                  everyone: Sequence[str] = (), assignments: Sequence[str] = ()) -> dict[str, list[NotebookGrade]]:
    """{student: notebooks} stored in ``grading`` for the submissions the gradebook holds, in rubric order; a
    notebook of ``assignments`` that a student of ``everyone`` never handed in counts 0, as missing (as in
    ``batch``: flagged by name, not left out of the tables)."""
    graded: dict[str, list[NotebookGrade]] = {}
    for student in sorted({s for s, _ in submissions} | set(everyone)):
        for rubric in rubrics:
            if (student, rubric.name) not in submissions:
                if rubric.name in assignments:
                    graded.setdefault(student, []).append(not_handed_in(rubric))
                continue
            result = store.load_result(grading, student, rubric.name)
            if result is not None:
                notebook = NotebookGrade(rubric, store.results_of(result), result.get("timings", {}))
                notebook.lateness = submissions[student, rubric.name]
                graded.setdefault(student, []).append(notebook)
    return graded


def formgrader_reviews(db_url: str, notebooks: dict[tuple[str, str], NotebookGrade]
                       ) -> dict[reviews.Key, reviews.Review]:
    """The manual scores formgrader holds for the written answers of ``notebooks`` (the manually graded cell named
    as the rubric check), as review rows for the answer each stored result carries."""
    from nbgrader.api import Gradebook, MissingEntry

    found: dict[reviews.Key, reviews.Review] = {}
    with Gradebook(db_url) as gradebook:
        for (student, assignment), nb in notebooks.items():
            for r in nb.results:
                text = reviews.answer_of(r)
                if text is None:
                    continue
                try:
                    grade = gradebook.find_grade(r.id, Path(nb.rubric.notebook).stem, assignment, student)
                except MissingEntry:
                    continue
                if grade.manual_score is not None:
                    given = min(max(0.0, float(grade.manual_score)), r.max_points)
                    found[student, assignment, r.id] = reviews.Review(given, "", reviews.digest(text))
    return found


def write_class_tables(grading: Path, db_url: str, course: CourseConfig, rubrics: Sequence[Rubric],
                       workflow: dict[str, str], changes: Sequence[regrade.Change] = (), profile: str = ""
                       ) -> dict[str, list[NotebookGrade]]:
    """Each student's reports (``summary.md``, ``results.json``, ``junit.xml``), ``grades.csv``, ``gradebook.csv``
    and the class report in ``grading``, as ``batch`` writes them; ``profile``: the run's, for a student with no
    stored result (nothing handed in)."""
    from autograder.pipeline import report

    graded = stored_grades(grading, rubrics, nbgrader_lateness(db_url, course), *gradebook_class(db_url))
    notebooks = {(student, nb.rubric.name): nb for student, nbs in graded.items() for nb in nbs}
    reviews.merge_all(notebooks, formgrader_reviews(db_url, notebooks))
    for student, notebooks in graded.items():
        stored = store.load_result(grading, student, notebooks[0].rubric.name) or {}
        (grading / student).mkdir(exist_ok=True)  # a student who handed nothing in has no folder yet
        report.write_reports(grading / student, notebooks, {"submission": f"submitted/{student}", "route": ROUTE_KEY,
                                                            "profile": stored.get("profile", profile),
                                                            "seed": stored.get("seed", 0)})
        for nb in notebooks:  # the page PipelineGrades wrote knew nothing of lateness
            report.late_feedback_page(grading / student, nb)
    report.write_grades_csv(grading / "grades.csv", graded)
    class_report.write_gradebook(grading / "gradebook.csv", graded, [r.name for r in rubrics], workflow)
    class_report.write_class_report(grading, graded, workflow, regrade.report_lines(changes))
    return graded
