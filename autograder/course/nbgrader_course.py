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

import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from autograder.course.nbgrader_grades import autograde_preprocessors
from autograder.course.release import assignment_names, nbgrader_environment
from autograder.errors import ReleaseError


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


def autograde(course: Path, assignments: Optional[Sequence[str]] = None, profile: str = "full",
              csv_path: str = "grades.csv", seed: int = 0, sandbox: str = "require") -> Path:
    """Autograde every submitted notebook of ``assignments`` and export the gradebook to CSV."""
    from autograder import rubric as rubrics
    from autograder.grading import GradingSettings
    from autograder.preflight import preflight

    env = nbgrader_environment(CNN_PROFILE=profile)
    names = list(assignments or assignment_names(course))
    # data sets, sandbox, rubrics: checked before nbgrader runs any notebook
    preflight([rubrics.find(n) for n in names], GradingSettings(profile=profile, sandbox=sandbox,
                                                               data_dir=os.environ.get("CNN_COURSE_DATA")))
    for name in names:
        # Registers the assignment's cells and checksums in the gradebook (and rewrites the same release).
        _nbgrader(course, "generate_assignment", name, "--force", env=env)
        _nbgrader(course, "autograde", name, "--create", "--force", *pipeline_options(profile, seed, sandbox), env=env)
    _nbgrader(course, "export", f"--to={csv_path}", env=env)
    return course / csv_path
