"""Feedback back to students: ``python -m autograder feedback GRADING_DIR --to DIR`` (or ``--nbgrader COURSE``).

From a class run's folder (``GRADING_DIR/STUDENT/``) each student gets, for every graded notebook, the feedback
page (``NN_name.html``) and the graded notebook (``NN_name.ipynb``, as executed), plus the summary of all checks
(``summary.md``): in ``DIR/STUDENT/`` (one folder to hand back per student), or in nbgrader's feedback tree
``COURSE/feedback/STUDENT/NN_name/`` that ``nbgrader release_feedback`` / ``fetch_feedback`` deliver. Links are
never followed and nothing else of the grading folder (results, logs, keys) is copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from autograder.errors import AutograderError
from autograder.rubric import Rubric

SUMMARY = "summary.md"


def students(grading: Path) -> list[Path]:
    return sorted(p for p in grading.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


def return_feedback(grading: Path, rubrics: Sequence[Rubric], to: Path | None = None,
                    nbgrader_course: Path | None = None) -> dict[str, list[Path]]:
    """Copy each student's feedback; {student: the files written}."""
    if (to is None) == (nbgrader_course is None):
        raise AutograderError("give one destination: a folder (--to) or an nbgrader course (--nbgrader)")
    if not grading.is_dir():
        raise AutograderError(f"{grading} is not a grading folder")
    written: dict[str, list[Path]] = {}
    for folder in students(grading):
        files = []
        for rubric in rubrics:
            notebook = Path(rubric.notebook)
            found = [folder / notebook.with_suffix(".html"), folder / notebook]
            found = [p for p in found if p.is_file() and not p.is_symlink()]
            if not found:
                continue
            target = (to / folder.name if to is not None
                      else nbgrader_course / "feedback" / folder.name / rubric.name)  # type: ignore[operator]
            target.mkdir(parents=True, exist_ok=True)
            for path in found:
                shutil.copyfile(path, target / path.name)
                files.append(target / path.name)
        summary = folder / SUMMARY
        if files and to is not None and summary.is_file() and not summary.is_symlink():
            shutil.copyfile(summary, to / folder.name / SUMMARY)
            files.append(to / folder.name / SUMMARY)
        if files:
            written[folder.name] = files
    return written


def written_lines(written: dict[str, list[Path]]) -> list[str]:
    """One line per student: how many files were written, and every folder they were written into."""
    lines = []
    for student, files in written.items():
        folders = list(dict.fromkeys(path.parent for path in files))  # in the order written, each once
        where = str(folders[0]) if len(folders) == 1 else f"{len(folders)} folders: " + ", ".join(map(str, folders))
        lines.append(f"{student}: {len(files)} file(s) in {where}")
    return lines
