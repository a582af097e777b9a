"""Lateness and the late policy: a submission's time against the due date in the course configuration.

The course configuration is ``course.toml`` (beside ``nbgrader_config.py``)::

    [due]
    "00_warmup" = 2026-10-01T23:59:00Z

    [late]
    percent_per_day = 10   # off the notebook's points per day late (a started day counts whole)
    max_percent = 50       # the most a late notebook loses
    grace_days = 2         # days each student may be late, without penalty, over the whole course

A submission's time is nbgrader's ``timestamp.txt`` (``collect`` writes the time the grader can vouch for: see
:mod:`autograder.course.collect`), read only where it is a regular file (a symlink is never followed). Where an
assignment has a due date and its submission no such time, the notebook is ``untimed``: flagged by name, never on
time in silence. Grace days are spent in due-date order, a whole day at a time, on the notebooks that need them.
``batch`` and the nbgrader route (:mod:`autograder.course.nbgrader_late`) apply this same policy through
:func:`apply_policy`.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import stat
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Optional

from autograder.errors import AutograderError

COURSE_CONFIG = Path("course.toml")
TIMESTAMP = "timestamp.txt"
DAY = 86400.0


class CourseConfigError(AutograderError):
    """course.toml cannot be read or holds a value of the wrong kind."""


@dataclass(frozen=True)
class LatePolicy:
    """Percent off per day late (after grace days), capped; grace days per student for the whole course."""

    percent_per_day: float = 0.0
    max_percent: float = 100.0
    grace_days: int = 0

    def describe(self) -> str:
        if not self.percent_per_day:
            return "no late penalty"
        return (f"{self.percent_per_day:g}% per day late, at most {self.max_percent:g}%, "
                f"{self.grace_days} grace day(s) per student")


@dataclass(frozen=True)
class Lateness:
    submitted: Optional[str]  # ISO 8601, UTC; None without a readable timestamp.txt
    seconds_late: Optional[float]  # 0 when on time; None without a due date or a timestamp
    days_late: int = 0  # started days late
    grace_days: int = 0  # of those, covered by the student's grace days
    penalty_percent: float = 0.0
    untimed: str = ""  # with a due date: why the submission has no time the grader can vouch for

    def describe(self) -> str:
        if self.untimed:
            return f"no trustworthy time ({self.untimed})"
        if self.seconds_late is None:
            return ""
        if self.seconds_late <= 0:
            return "on time"
        text = f"late by {dt.timedelta(seconds=round(self.seconds_late))}"
        if self.grace_days:
            text += f", {self.grace_days} grace day(s)"
        return text + (f", -{self.penalty_percent:g}%" if self.penalty_percent else "")


@dataclass(frozen=True)
class CourseConfig:
    due: dict[str, dt.datetime]
    policy: LatePolicy


def read_config(config: Optional[Path] = None) -> CourseConfig:
    """The ``[due]`` and ``[late]`` tables of the course configuration (empty where there is no file)."""
    path = COURSE_CONFIG if config is None else config
    if not path.is_file():
        if config is not None:
            raise CourseConfigError(f"no course configuration at {path}")
        return CourseConfig({}, LatePolicy())
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CourseConfigError(f"{path}: {exc}") from exc
    due = {}
    for assignment, value in data.get("due", {}).items():
        if not isinstance(value, dt.datetime):
            raise CourseConfigError(f"{path}: due date of {assignment} must be a date and time, not {value!r}")
        due[assignment] = _utc(value)
    return CourseConfig(due, _policy(path, data.get("late", {})))


def _policy(path: Path, table: Mapping[str, Any]) -> LatePolicy:
    unknown = set(table) - set(LatePolicy.__dataclass_fields__)
    if unknown:
        raise CourseConfigError(f"{path}: unknown [late] keys {', '.join(sorted(unknown))} "
                                f"(known: {', '.join(LatePolicy.__dataclass_fields__)})")
    policy = LatePolicy(**table)
    numbers = (policy.percent_per_day, policy.max_percent, policy.grace_days)
    if (not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in numbers)
            or policy.max_percent > 100 or not isinstance(policy.grace_days, int)):
        raise CourseConfigError(f"{path}: [late] wants percent_per_day >= 0, 0 <= max_percent <= 100 and a whole "
                                f"number of grace_days >= 0, not {table}")
    return policy


def due_dates(config: Optional[Path] = None) -> dict[str, dt.datetime]:
    """The ``[due]`` table of the course configuration, in UTC (empty where there is no file)."""
    return read_config(config).due


def lateness(assignment_dir: Path, due: Optional[dt.datetime]) -> Lateness:
    """How late the submission in ``assignment_dir`` was, by its nbgrader timestamp (no policy applied);
    ``untimed`` (why) where there is a due date and no timestamp to trust."""
    path = assignment_dir / TIMESTAMP
    submitted = read_timestamp(path)
    if submitted is None:
        return Lateness(None, None, untimed=timestamp_problem(path) if due is not None else "")
    return seconds_late(submitted, due)


def seconds_late(submitted: dt.datetime, due: Optional[dt.datetime]) -> Lateness:
    late = None if due is None else max(0.0, (submitted - due).total_seconds())
    return Lateness(submitted.astimezone(dt.timezone.utc).isoformat(), late)


def apply_policy(policy: LatePolicy, late: Mapping[str, Lateness], due: Mapping[str, dt.datetime]
                 ) -> dict[str, Lateness]:
    """One student's notebooks (assignment name -> lateness) with grace days spent and penalties set.

    Grace is spent in due-date order (then by name), a whole started day at a time.
    """
    left = policy.grace_days
    charged = {}
    order = sorted(late, key=lambda a: (due.get(a, dt.datetime.max.replace(tzinfo=dt.timezone.utc)), a))
    for assignment in order:
        item = late[assignment]
        days = math.ceil(item.seconds_late / DAY) if item.seconds_late else 0
        grace = min(left, days)
        left -= grace
        percent = min(policy.max_percent, (days - grace) * policy.percent_per_day)
        charged[assignment] = replace(item, days_late=days, grace_days=grace, penalty_percent=percent)
    return charged


def read_timestamp(path: Path) -> Optional[dt.datetime]:
    """nbgrader's submission time (``2026-10-01 12:00:00.000000 UTC``), in UTC; None if absent, unreadable or not
    a regular file (a symlink is not followed). Read with dateutil, as nbgrader reads it, without importing
    nbgrader (and tornado, asyncio) mid-run."""
    from dateutil import parser

    text = _regular_text(path)
    if text is None:
        return None
    try:
        return _utc(parser.parse(text.strip()))
    except (ValueError, OverflowError):
        return None


def timestamp_problem(path: Path) -> str:
    """Why ``path`` gives no submission time ("" where it does)."""
    if path.is_symlink():
        return f"{TIMESTAMP} is a symlink"
    if not path.exists():
        return f"no {TIMESTAMP}"
    if not path.is_file():
        return f"{TIMESTAMP} is not a regular file"
    return "" if read_timestamp(path) is not None else f"{TIMESTAMP} holds no time"


def _regular_text(path: Path, limit: int = 1000) -> Optional[str]:
    """The text of ``path`` if it is a regular file of at most ``limit`` bytes, opened without following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    try:
        return data.decode() if len(data) <= limit else None
    except UnicodeDecodeError:
        return None


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # a local date and time in TOML: taken as UTC
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
