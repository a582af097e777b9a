"""Grade a class with nbgrader itself: ``nbgrader autograde`` and ``nbgrader export``.

The course directory is the repository root (``nbgrader_config.py``):
``source/`` -> ``assignments/`` (released) and ``submitted/STUDENT/NN_name/``.
nbgrader keeps the gradebook, but its ``Execute`` step is replaced by
:class:`~autograder.course.nbgrader_grades.PipelineGrades`: the pipeline grades
each notebook outside the student's kernel and its points (partial credit
included) are what nbgrader records for each grade cell. :func:`autograde`
passes that configuration on nbgrader's command line, so it holds whatever the
course's ``nbgrader_config.py`` says.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from autograder.course.nbgrader_grades import PROGRESS_MARK, autograde_preprocessors
from autograder.course.nbgrader_late import CoursePolicy
from autograder.progress import Progress
from autograder.results import CheckResult
from autograder.course.release import assignment_names, nbgrader_environment
from autograder.errors import ReleaseError


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
            done = json.loads(line.split(PROGRESS_MARK, 1)[1])
            progress.finished(done["label"], [CheckResult(**r) for r in done["results"]], done["seconds"])
    if proc.wait() != 0:
        raise ReleaseError(f"nbgrader {' '.join(args)} failed:\n{''.join(tail)[-3000:]}")


def pipeline_options(profile: str, seed: int = 0, sandbox: str = "require") -> list[str]:
    """nbgrader command-line options: grade with the pipeline, never with nbgrader's in-kernel ``Execute``."""
    return [
        *(f"--Autograde.autograde_preprocessors={name}" for name in autograde_preprocessors()),
        "--OverwriteCells.add_missing_cells=True",  # a deleted grade cell comes back and gets the pipeline's points
        f"--PipelineGrades.profile={profile}",
        f"--PipelineGrades.seed={seed}",
        f"--PipelineGrades.sandbox={sandbox}",
        f"--AssignLatePenalties.plugin_class={CoursePolicy.__module__}.{CoursePolicy.__name__}",  # course.toml's
    ]


def autograde(course: Path, assignments: Optional[Sequence[str]] = None, profile: str = "full",
              csv_path: str = f"{GRADING_DIR}/nbgrader_grades.csv", seed: int = 0, sandbox: str = "require",
              progress: Optional[Progress] = None) -> Path:
    """Autograde every submitted notebook of ``assignments`` and export the gradebook to CSV (default: the
    course's ``grading/nbgrader_grades.csv``: raw score, late penalty and final score per notebook).

    The due dates and late policy of the course's ``course.toml`` reach nbgrader's gradebook; the assignments
    are graded in due-date order (grace days are spent in that order). ``progress`` hears of every notebook.
    """
    from autograder import rubric as rubrics
    from autograder.classrun.lateness import COURSE_CONFIG, read_config
    from autograder.grading import GradingSettings
    from autograder.preflight import preflight

    env = nbgrader_environment(CNN_PROFILE=profile)
    config = read_config(course / COURSE_CONFIG) if (course / COURSE_CONFIG).is_file() else None
    due = config.due if config else {}
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    names = sorted(assignments or assignment_names(course), key=lambda n: (due.get(n, far), n))
    # data sets, sandbox, rubrics: checked before nbgrader runs any notebook
    preflight([rubrics.find(n) for n in names], GradingSettings(profile=profile, sandbox=sandbox,
                                                               data_dir=os.environ.get("CNN_COURSE_DATA")))
    progress = progress or Progress()
    total = sum(len(list((course / "submitted").glob(f"*/{n}/*.ipynb"))) for n in names)
    progress.start(total)
    with progress:
        for name in names:
            # Registers the assignment's cells and checksums in the gradebook (and rewrites the same release).
            _nbgrader(course, "generate_assignment", name, "--force", env=env)
            if name in due:  # nbgrader measures lateness against it; CoursePolicy charges it
                _nbgrader(course, "db", "assignment", "add", name, f"--duedate={due[name].isoformat()}", env=env)
            _nbgrader(course, "autograde", name, "--create", "--force", *pipeline_options(profile, seed, sandbox),
                      env=env, progress=progress)
    (course / csv_path).parent.mkdir(parents=True, exist_ok=True)
    _nbgrader(course, "export", f"--to={csv_path}", env=env)
    return course / csv_path
