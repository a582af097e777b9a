"""Lateness: nbgrader's ``timestamp.txt`` in a submission against the due date in the course configuration.

The course configuration is ``course.toml`` (beside ``nbgrader_config.py``)::

    [due]
    "00_warmup" = 2026-10-01T23:59:00Z

Only the lateness is reported; the penalty policy stays nbgrader's.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from autograder.errors import AutograderError

COURSE_CONFIG = Path("course.toml")
TIMESTAMP = "timestamp.txt"


class CourseConfigError(AutograderError):
    """course.toml cannot be read or holds a due date that is not a date and time."""


@dataclass(frozen=True)
class Lateness:
    submitted: Optional[str]  # ISO 8601, UTC; None without a readable timestamp.txt
    seconds_late: Optional[float]  # 0 when on time; None without a due date or a timestamp

    def describe(self) -> str:
        if self.seconds_late is None:
            return ""
        if self.seconds_late <= 0:
            return "on time"
        return f"late by {dt.timedelta(seconds=round(self.seconds_late))}"


def due_dates(config: Optional[Path] = None) -> dict[str, dt.datetime]:
    """The ``[due]`` table of the course configuration, in UTC (empty where there is no file)."""
    path = COURSE_CONFIG if config is None else config
    if not path.is_file():
        if config is not None:
            raise CourseConfigError(f"no course configuration at {path}")
        return {}
    try:
        table = tomllib.loads(path.read_text()).get("due", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CourseConfigError(f"{path}: {exc}") from exc
    due = {}
    for assignment, value in table.items():
        if not isinstance(value, dt.datetime):
            raise CourseConfigError(f"{path}: due date of {assignment} must be a date and time, not {value!r}")
        due[assignment] = _utc(value)
    return due


def lateness(assignment_dir: Path, due: Optional[dt.datetime]) -> Lateness:
    """How late the submission in ``assignment_dir`` was, by its nbgrader timestamp."""
    submitted = read_timestamp(assignment_dir / TIMESTAMP)
    if submitted is None:
        return Lateness(None, None)
    late = None if due is None else max(0.0, (submitted - due).total_seconds())
    return Lateness(submitted.isoformat(), late)


def read_timestamp(path: Path) -> Optional[dt.datetime]:
    """nbgrader's submission time (``2026-10-01 12:00:00.000000 UTC``), in UTC; None if absent or unreadable.
    Read with dateutil, as nbgrader reads it, without importing nbgrader (and tornado, asyncio) mid-run."""
    from dateutil import parser

    if path.is_symlink() or not path.is_file() or path.stat().st_size > 1000:
        return None
    try:
        return _utc(parser.parse(path.read_text().strip()))
    except (ValueError, OverflowError, UnicodeDecodeError):
        return None


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # a local date and time in TOML: taken as UTC
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
