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
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from autograder.classrun.lateness import CourseConfig
from autograder.defaults import RECORD_PROFILE
from autograder.course.nbgrader_grades import PROGRESS_MARK, autograde_preprocessors
from autograder.course.nbgrader_late import CoursePolicy
from autograder.progress import Progress
from autograder.results import CheckResult
from autograder.course.release import assignment_names, nbgrader_environment
from autograder.errors import ReleaseError, StagingError
from autograder.inert import csv_row
from autograder.points import final_points
from autograder.rubric import Limits
from coursework.environment import ENV_DIR


GRADING_DIR = "grading"  # where the route's outputs go, as batch's


def _nbgrader(course: Path, *args: str, env: dict[str, str], progress: Optional[Progress] = None) -> None:
    """Run nbgrader; with ``progress``, tell it of every notebook PipelineGrades reports on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tail: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        tail = (tail + [line])[-60:]
        if progress is not None and PROGRESS_MARK in line:
            try:
                done = json.loads(line.rsplit(PROGRESS_MARK, 1)[1])
                results = [CheckResult(**r) for r in done["results"]]
            except (ValueError, TypeError, KeyError):  # not PipelineGrades's line (a folder name can hold the mark)
                continue
            progress.finished(done["label"], results, done["seconds"])
            if done.get("regraded"):
                progress.say(f"regraded {done['regraded']}")
    if proc.wait() != 0:
        raise ReleaseError(f"nbgrader {' '.join(args)} failed:\n{''.join(tail)[-3000:]}")


def pipeline_options(profile: str, seed: int = 0, sandbox: str = "require", results_dir: Optional[Path] = None
                     ) -> list[str]:
    """nbgrader command-line options: grade with the pipeline, never with nbgrader's in-kernel ``Execute``;
    with ``results_dir``, store each notebook's result there as ``batch`` does."""
    return [
        *([f"--PipelineGrades.results_dir={results_dir}"] if results_dir is not None else []),
        *(f"--Autograde.autograde_preprocessors={name}" for name in autograde_preprocessors()),
        "--OverwriteCells.add_missing_cells=True",  # a deleted grade cell comes back and gets the pipeline's points
        f"--PipelineGrades.profile={profile}",
        f"--PipelineGrades.seed={seed}",
        f"--PipelineGrades.sandbox={sandbox}",
        f"--AssignLatePenalties.plugin_class={CoursePolicy.__module__}.{CoursePolicy.__name__}",  # course.toml's
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


def class_folders(submitted: Path) -> list[str]:
    """The students of ``submitted/``: a folder each (no symlink, none hidden), as ``batch`` reads a class, whether
    or not they handed anything in."""
    if not submitted.is_dir() or submitted.is_symlink():
        return []
    return sorted(e.name for e in os.scandir(submitted)
                  if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))


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
                    graded = [submission.timestamp, submission.score, penalty, final_points(submission.score, penalty)]
                except MissingEntry:
                    graded = ["", 0.0, 0.0, 0.0]
                row = [assignment.name, assignment.duedate, graded[0], student.id, student.last_name,
                       student.first_name, student.email, *graded[1:], assignment.max_score,
                       failed.get((student.id, assignment.name), "")]
                writer.writerow(csv_row("" if v is None else str(v) for v in row))
    os.replace(tmp, path)


def autograde(course: Path, assignments: Optional[Sequence[str]] = None, profile: str = RECORD_PROFILE,
              csv_path: str = f"{GRADING_DIR}/nbgrader_grades.csv", seed: int = 0, sandbox: str = "require",
              progress: Optional[Progress] = None) -> Path:
    """Autograde every submitted notebook of ``assignments`` and export the gradebook to CSV (default: the
    course's ``grading/nbgrader_grades.csv``: raw score, late penalty and final score per notebook). The
    course's ``grading/`` also gets what ``batch`` writes: each notebook's result, executed notebook and
    feedback page, ``grades.csv``, ``gradebook.csv`` (the flags by name), the class report and ``regrade.csv``.

    The due dates and late policy of the course's ``course.toml`` reach nbgrader's gradebook; the assignments
    are graded in due-date order (grace days are spent in that order). ``progress`` hears of every notebook.
    nbgrader reads a staged copy of ``submitted/`` (:func:`stage_submitted`), never the students' own folders;
    a student whose folder cannot be staged is in the export with 0 points and the reason, and the export
    (:func:`export_grades`) runs even when nbgrader's autograde fails for some student (raised after it).
    """
    from autograder import rubric as rubrics
    from autograder.classrun.lateness import COURSE_CONFIG, LatePolicy, read_config
    from autograder.grading import GradingSettings
    from autograder.preflight import preflight

    config = read_config(course / COURSE_CONFIG) if (course / COURSE_CONFIG).is_file() else None
    config = config or CourseConfig({}, LatePolicy())
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    names = sorted(assignments or assignment_names(course), key=lambda n: (config.due.get(n, far), n))
    # data sets, sandbox, rubrics: checked before nbgrader runs any notebook
    preflight([rubrics.find(n) for n in names], GradingSettings(profile=profile, sandbox=sandbox,
                                                               data_dir=os.environ.get(ENV_DIR)))
    grading = (course / csv_path).parent.resolve()
    grading.mkdir(parents=True, exist_ok=True)
    began = regrade_clock()
    progress = progress or Progress()
    progress.start(sum(len(list((course / "submitted").glob(f"*/{n}/*.ipynb"))) for n in names))
    failed: dict[tuple[str, str], str] = {}
    try:
        failed = stage_submitted(course, names, rubrics.default_limits()[profile])
        with progress:
            failures = _autograde_each(course, names, config.due, pipeline_options(profile, seed, sandbox, grading),
                                       nbgrader_environment(CNN_PROFILE=profile), progress)
        everyone = sorted({s for s, _ in failed} | set(class_folders(course / "submitted")))
        if everyone:  # the class as batch reads it: in the export (0, and the reason where not staged) and flagged
            from nbgrader.api import Gradebook  # missing where a notebook was not handed in

            with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:  # nbgrader_config.py's db_url
                for student in everyone:
                    gradebook.update_or_create_student(student)
    finally:
        shutil.rmtree(course / STAGED, ignore_errors=True)
    export_grades(course, course / csv_path, failed)
    _class_tables(course, grading, config, began, progress, profile)
    if failures:
        raise ReleaseError(f"grades exported to {course / csv_path}, but " + "\n".join(failures))
    return course / csv_path


def _autograde_each(course: Path, names: Sequence[str], due: dict[str, dt.datetime], options: list[str],
                    env: dict[str, str], progress: Progress) -> list[str]:
    """``nbgrader autograde`` of each assignment in turn (its release and due date registered first); the
    failures, each as its message."""
    failures = []
    for name in names:
        # Registers the assignment's cells and checksums in the gradebook (and rewrites the same release).
        _nbgrader(course, "generate_assignment", name, "--force", env=env)
        if name in due:  # nbgrader measures lateness against it; CoursePolicy charges it
            _nbgrader(course, "db", "assignment", "add", name, f"--duedate={due[name].isoformat()}", env=env)
        try:
            _nbgrader(course, "autograde", name, "--create", "--force", f"--CourseDirectory.submitted_directory={STAGED}",
                      *options, env=env, progress=progress)
        except ReleaseError as exc:
            failures.append(str(exc))
    return failures


def regrade_clock() -> str:
    """Now, as ``regrade.csv`` dates its rows."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _class_tables(course: Path, grading: Path, config: CourseConfig, began: str, progress: Progress,
                  profile: str) -> None:
    """What ``batch`` writes, from the results PipelineGrades stored and nbgrader's gradebook; each student's final
    total said to ``progress``, as ``batch`` prints it."""
    from autograder import rubric as rubrics
    from autograder.classrun import regrade
    from autograder.course.collect import workflow_record
    from autograder.course.nbgrader_reports import write_class_tables
    from autograder.pipeline.report import total_line

    graded = write_class_tables(grading, f"sqlite:///{course / 'gradebook.db'}", config,
                                list(rubrics.all_rubrics().values()), workflow_record(course / "submitted"),
                                regrade.read_log(grading, since=began), profile)
    for student, notebooks in graded.items():
        progress.say(total_line(student, notebooks))
