"""Grade a class with nbgrader itself: ``nbgrader autograde`` and ``nbgrader export``.

The course directory is the repository root (``nbgrader_config.py``):
``source/`` -> ``assignments/`` (released) and ``submitted/STUDENT/NN_name/``.
Grade cells call :func:`coursework.grade_cell`, which scores each check in a
process of its own, so nbgrader's points come from the same check functions
as the CLI's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from autograder.course.release import assignment_names, nbgrader_environment
from autograder.errors import ReleaseError


def _nbgrader(course: Path, *args: str, env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReleaseError(f"nbgrader {' '.join(args)} failed:\n{proc.stderr[-3000:]}")


def autograde(course: Path, assignments: Optional[Sequence[str]] = None, profile: str = "full",
              csv_path: str = "grades.csv") -> Path:
    """Autograde every submitted notebook of ``assignments`` and export the gradebook to CSV."""
    env = nbgrader_environment(CNN_PROFILE=profile)
    names = list(assignments or assignment_names(course))
    for name in names:
        # Registers the assignment's cells and checksums in the gradebook (and rewrites the same release).
        _nbgrader(course, "generate_assignment", name, "--force", env=env)
        _nbgrader(course, "autograde", name, "--create", "--force", env=env)
    _nbgrader(course, "export", f"--to={csv_path}", env=env)
    return course / csv_path
