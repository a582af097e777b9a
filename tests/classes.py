"""A class handed in, for grading tests: each student's submission made from a reference (or released) notebook,
the time nbgrader stamped it, what ``collect`` recorded of it, and the course's ``course.toml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional

from tests.notebooks import REFERENCE, WARMUP, variant


@dataclass(frozen=True)
class Student:
    """One student's hand-in: ``base``'s notebook after ``edit(nb)``; ``submitted``, nbgrader's timestamp
    (``YYYY-MM-DD HH:MM:SS``, UTC; None: no ``timestamp.txt``); ``workflow``, collect's state of the student's
    workflow (None: the student is not in ``collected.csv``)."""

    edit: Optional[Callable] = None
    submitted: Optional[str] = None
    workflow: Optional[str] = None
    base: Path = REFERENCE


def course_toml(assignment: str, due: str, late: Optional[Mapping[str, int]] = None) -> str:
    """A course config: ``assignment`` due at ``due`` (TOML datetime), and the late policy ``late`` if any."""
    text = f'[due]\n"{assignment}" = {due}\n'
    if late:
        text += "\n[late]\n" + "".join(f"{key} = {value}\n" for key, value in late.items())
    return text


def hand_in(root: Path, students: Mapping[str, Student], due: str, late: Optional[Mapping[str, int]] = None,
            assignment: str = WARMUP) -> tuple[Path, Path]:
    """Write ``root/submitted`` (each student's ``assignment``, and ``collected.csv`` where collect recorded any)
    and ``root/course.toml``; (the class folder, the course config)."""
    class_dir = root / "submitted"
    for name, student in students.items():
        variant(class_dir / name, assignment, student.edit, student.base)
        if student.submitted is not None:
            (class_dir / name / assignment / "timestamp.txt").write_text(f"{student.submitted}.000000 UTC")
    collected = {name: s.workflow for name, s in students.items() if s.workflow is not None}
    if collected:
        (class_dir / "collected.csv").write_text("student,url,status,workflow\n" + "".join(
            f"{name},u,collected,{workflow}\n" for name, workflow in collected.items()))
    config = root / "course.toml"
    config.write_text(course_toml(assignment, due, late))
    return class_dir, config
