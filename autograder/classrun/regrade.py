"""Regrades you can audit: when a notebook is graded again (a changed rubric, grader or submission), what moved.

Before a new result replaces a stored one, :func:`compare` sets the two side by side: the old and new points and
every check whose points or status changed. Each change is appended to ``regrade.csv`` in the grading folder
(a log: earlier runs' rows stay), shown in the class report and said on the run's progress output.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder.inert import csv_safe
from autograder.points import earned

LOG = "regrade.csv"
COLUMNS = ("regraded_at", "student", "assignment", "old_points", "new_points", "checks", "old_grader", "new_grader")


@dataclass(frozen=True)
class Change:
    student: str
    assignment: str
    old_points: float
    new_points: float
    checks: tuple[str, ...]  # "accuracy 2 -> 0 (pass -> fail)"
    old_grader: str
    new_grader: str

    def describe(self) -> str:
        return (f"{self.student} {self.assignment}: {self.old_points:g} -> {self.new_points:g} points "
                f"({'; '.join(self.checks)})")


def compare(old: Optional[dict[str, Any]], new: dict[str, Any]) -> Optional[Change]:
    """The change from stored result ``old`` to ``new`` (both as stored), or None when no check moved."""
    if old is None:
        return None
    before = {r["id"]: r for r in old.get("results", [])}
    after = {r["id"]: r for r in new["results"]}
    moved = []
    for check in [*after, *(c for c in before if c not in after)]:
        a, b = before.get(check), after.get(check)
        if a is not None and b is not None and (a["points"], a["status"]) == (b["points"], b["status"]):
            continue
        moved.append(f"{check} {_pts(a)} -> {_pts(b)} ({a['status'] if a else 'absent'} -> "
                     f"{b['status'] if b else 'absent'})")
    if not moved:
        return None
    return Change(new["student"], new["assignment"], _raw(before.values()), _raw(after.values()), tuple(moved),
                  str(old.get("grader", "")), str(new.get("grader", "")))


def append_log(out: Path, changes: Sequence[Change]) -> None:
    """Add ``changes`` to ``out/regrade.csv`` (written with its header the first time)."""
    if not changes:
        return
    path = out / LOG
    fresh = not path.is_file()
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if fresh:
            writer.writerow(COLUMNS)
        for c in changes:
            writer.writerow([when, csv_safe(c.student), c.assignment, f"{c.old_points:g}", f"{c.new_points:g}",
                             csv_safe("; ".join(c.checks)), c.old_grader, c.new_grader])


def read_log(out: Path, since: str = "") -> list[Change]:
    """The changes ``out/regrade.csv`` logged at or after ``since`` (an ISO time in UTC, as the log writes it)."""
    try:
        with open(out / LOG, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("regraded_at", "") >= since]
        return [Change(r["student"], r["assignment"], float(r["old_points"]), float(r["new_points"]),
                       tuple(r["checks"].split("; ")), r["old_grader"], r["new_grader"]) for r in rows]
    except (OSError, KeyError, ValueError, csv.Error):
        return []


def report_lines(changes: Sequence[Change]) -> list[str]:
    """The class report's section on this run's regrades."""
    lines = ["", "## Regraded in this run: what changed", ""]
    if not changes:
        return lines + ["No stored score changed."]
    lines += ["| student | assignment | old points | new points | checks that moved |", "|---|---|---:|---:|---|"]
    lines += [f"| {c.student} | {c.assignment} | {c.old_points:g} | {c.new_points:g} | "
              f"{'; '.join(c.checks).replace('|', '/')} |" for c in changes]
    return lines


def _raw(rows: Any) -> float:
    """The raw points of stored result rows (:mod:`autograder.points`)."""
    return earned(SimpleNamespace(points=r["points"]) for r in rows)


def _pts(row: Optional[dict[str, Any]]) -> str:
    return "-" if row is None else f"{row['points']:g}"
