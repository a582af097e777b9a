"""Grade a class with nbgrader itself: ``nbgrader autograde`` and ``nbgrader export``.

The course directory is the repository root (``nbgrader_config.py``):
``source/`` -> ``assignments/`` (released) and ``submitted/STUDENT/NN_name/``.
nbgrader keeps the gradebook, but its ``Execute`` step is replaced by
:class:`~autograder.course.nbgrader_grades.PipelineGrades`: the pipeline grades
each notebook outside the student's kernel and its points (partial credit
included) are what nbgrader records for each grade cell. :func:`autograde`
passes that configuration on nbgrader's command line, so it holds whatever the
course's ``nbgrader_config.py`` says. nbgrader (which copies with ``shutil.copy``,
following symlinks, as root) reads a copy of ``submitted/`` staged with the
pipeline's no-symlink rule, never the students' own folders.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from autograder.course.nbgrader_grades import autograde_preprocessors
from autograder.course.release import assignment_names, nbgrader_environment
from autograder.errors import ReleaseError, StagingError
from autograder.inert import csv_row
from autograder.rubric import Limits


def _nbgrader(course: Path, *args: str, env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReleaseError(f"nbgrader {' '.join(args)} failed:\n{proc.stderr[-3000:]}")


def pipeline_options(profile: str, seed: int = 0, sandbox: str = "require") -> list[str]:
    """nbgrader command-line options: grade with the pipeline, never with nbgrader's in-kernel ``Execute``."""
    return [
        *(f"--Autograde.autograde_preprocessors={name}" for name in autograde_preprocessors()),
        "--OverwriteCells.add_missing_cells=True",  # a deleted grade cell comes back and gets the pipeline's points
        f"--PipelineGrades.profile={profile}",
        f"--PipelineGrades.seed={seed}",
        f"--PipelineGrades.sandbox={sandbox}",
    ]


STAGED = ".autograde-submitted"  # nbgrader's submitted_directory for the run: the students' folders, staged
ERROR_COLUMN = "autograder_error"  # added to nbgrader's grades.csv: why a student's submission was not graded


def stage_submitted(course: Path, names: Sequence[str], limits: Limits) -> dict[tuple[str, str], str]:
    """Copy ``submitted/STUDENT/ASSIGNMENT`` for ``names`` into ``course/STAGED`` with the pipeline's rule (regular
    files and folders only, no symlink followed, within ``copy_bytes``/``copy_files``), before nbgrader reads any
    of it as root. Returns {(student, assignment): why it was not staged}."""
    from autograder.pipeline.stage import copy_folder

    submitted, staged = course / "submitted", course / STAGED
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    failed: dict[tuple[str, str], str] = {}
    if not submitted.is_dir() or submitted.is_symlink():
        return failed
    for student in sorted(os.scandir(submitted), key=lambda e: e.name):
        for name in names:
            source = Path(student.path) / name
            if student.is_symlink():
                failed[student.name, name] = f"submitted/{student.name} is a symlink; it is not graded"
                continue
            if not student.is_dir(follow_symlinks=False) or not os.path.lexists(source):
                continue
            if source.is_symlink() or not source.is_dir():
                failed[student.name, name] = f"submitted/{student.name}/{name} is not a regular folder; it is not graded"
                continue
            (staged / student.name).mkdir(exist_ok=True)
            try:
                copy_folder(source, staged / student.name / name, limits.copy_bytes, limits.copy_files)
            except (StagingError, OSError) as exc:
                shutil.rmtree(staged / student.name / name, ignore_errors=True)
                failed[student.name, name] = f"submitted/{student.name}/{name} could not be staged: {exc}"
    return failed


EXPORT_KEYS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
               "late_submission_penalty", "score", "max_score")  # nbgrader's CsvExportPlugin columns


def export_grades(course: Path, path: Path, failed: dict[tuple[str, str], str]) -> None:
    """The gradebook as nbgrader's CSV export has it (its columns, every student for every assignment), written
    with ``csv.writer`` (nbgrader's own exporter joins fields with commas unquoted: a comma in a student's folder
    name shifts every column), no cell starting a formula, and a last column saying why a submission was not
    graded (empty where it was). Replaced atomically."""
    from nbgrader.api import Gradebook, MissingEntry

    tmp = path.with_name(f".{path.name}.tmp")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook, \
            open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*EXPORT_KEYS, ERROR_COLUMN])
        for assignment in gradebook.assignments:
            for student in gradebook.students:
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                    penalty = submission.late_submission_penalty or 0.0
                    graded = [submission.timestamp, submission.score, penalty, max(0.0, submission.score - penalty)]
                except MissingEntry:
                    graded = ["", 0.0, 0.0, 0.0]
                row = [assignment.name, assignment.duedate, graded[0], student.id, student.last_name,
                       student.first_name, student.email, *graded[1:], assignment.max_score,
                       failed.get((student.id, assignment.name), "")]
                writer.writerow(csv_row("" if v is None else str(v) for v in row))
    os.replace(tmp, path)


def autograde(course: Path, assignments: Optional[Sequence[str]] = None, profile: str = "full",
              csv_path: str = "grades.csv", seed: int = 0, sandbox: str = "require") -> Path:
    """Autograde every submitted notebook of ``assignments`` and export the gradebook to CSV.

    nbgrader reads a staged copy of ``submitted/`` (:func:`stage_submitted`), never the students' own folders;
    a student whose folder cannot be staged is in the export with 0 points and the reason, and the export
    (:func:`export_grades`) runs even when nbgrader's autograde fails for some student (raised after it).
    """
    from autograder.grading import GradingSettings
    from autograder.rubric import default_limits

    GradingSettings(profile=profile, sandbox=sandbox).resolved()  # no sandbox where one is required: stop now
    env = nbgrader_environment(CNN_PROFILE=profile)
    names = list(assignments or assignment_names(course))
    failures: list[str] = []
    failed: dict[tuple[str, str], str] = {}
    try:
        failed = stage_submitted(course, names, default_limits()[profile])
        for name in names:
            # Registers the assignment's cells and checksums in the gradebook (and rewrites the same release).
            _nbgrader(course, "generate_assignment", name, "--force", env=env)
            try:
                _nbgrader(course, "autograde", name, "--create", "--force",
                          f"--CourseDirectory.submitted_directory={STAGED}", *pipeline_options(profile, seed, sandbox),
                          env=env)
            except ReleaseError as exc:
                failures.append(str(exc))
        if failed:  # in the export, with 0 points and the reason
            from nbgrader.api import Gradebook

            with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:  # nbgrader_config.py's db_url
                for student in sorted({s for s, _ in failed}):
                    gradebook.update_or_create_student(student)
    finally:
        shutil.rmtree(course / STAGED, ignore_errors=True)
    export_grades(course, course / csv_path, failed)
    if failures:
        raise ReleaseError(f"grades exported to {course / csv_path}, but " + "\n".join(failures))
    return course / csv_path
