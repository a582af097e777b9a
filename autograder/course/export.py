"""Grades for an LMS: ``python -m autograder export --format canvas|moodle|csv GRADING_DIR --roster ROSTER.csv``.

Reads a class run's ``grades.csv`` (final points after the late penalty, maximum per assignment) and a roster
that ties each submission folder to the LMS's identity of the student. Roster columns (case-insensitive; a
Canvas gradebook export works as a roster):

- the submission folder: the first of ``github_username``, ``login``, ``username``, ``folder``, ``SIS Login ID``,
  ``student``;
- Canvas: ``Student`` or ``name`` (the name shown), ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``;
- Moodle: ``email`` (``Email address``) or ``idnumber`` (``ID number``).

Formats:

- ``canvas``: Canvas's gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section``, one column per
  assignment (headed as in the roster where it is a Canvas export, ``00_warmup (12345)``, so that Canvas updates
  that assignment rather than creating one), then a ``Points Possible`` row (the identity cells empty) before
  the students;
- ``moodle``: Moodle's CSV grade import: an identity column (``Email address``, else ``ID number``) to map
  "from" and one column per assignment (out of its maximum);
- ``csv``: student, the roster's identity columns, final points per assignment and the total.

A roster student with no submission gets 0 for every assignment (and is named on stderr); a submission with no
roster entry cannot be imported, so it is left out and named. Every text cell is inert in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from autograder.inert import csv_safe
from autograder.errors import AutograderError

FORMATS = ("canvas", "moodle", "csv")
FOLDER_COLUMNS = ("github_username", "login", "username", "folder", "sis login id", "student")
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ALIASES = {"email address": "email", "id number": "idnumber", "id_number": "idnumber"}


class ExportError(AutograderError):
    """The grading folder or the roster cannot be read, or the roster lacks the identity the format needs."""


@dataclass
class Export:
    text: str
    unsubmitted: list[str] = field(default_factory=list)  # on the roster, no graded notebook: 0
    unrostered: list[str] = field(default_factory=list)  # graded, not on the roster: left out


def read_grades(grading: Path) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """({student: {assignment: final points}}, {assignment: max points}) from ``grading/grades.csv``."""
    path = grading / "grades.csv"
    if not path.is_file():
        raise ExportError(f"no {path}: grade the class first (python -m autograder batch ... --out {grading})")
    points: dict[str, dict[str, float]] = {}
    maxima: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            student = row["student"].removeprefix("'") if row["student"].startswith("'") else row["student"]
            points.setdefault(student, {})[row["assignment"]] = float(row["points"])
            maxima[row["assignment"]] = float(row["max_points"])
    return points, dict(sorted(maxima.items()))


def read_roster(path: Path) -> list[dict[str, str]]:
    """The roster's rows with lower-case keys (aliases folded), each with its ``folder`` (submission name)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read the roster {path}: {exc}") from exc
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row = {}
        for key, value in raw.items():
            if key is None:
                continue
            k = key.strip().lower()
            row[ALIASES.get(k, k)] = (value or "").strip()
        if row.get("student", "").lower() == "points possible":  # a Canvas export's second row
            continue
        row["folder"] = next((row[c] for c in FOLDER_COLUMNS if row.get(c)), "")
        if row["folder"]:
            rows.append(row)
    if not rows:
        raise ExportError(f"{path}: no student rows with a submission name (columns: {', '.join(FOLDER_COLUMNS)})")
    return rows


def canvas_columns(roster_path: Path, assignments: list[str]) -> list[str]:
    """Each assignment's column header: the roster's own where it is a Canvas gradebook export holding that
    assignment (``00_warmup (12345)``: Canvas updates that assignment), else the name (Canvas creates one)."""
    try:
        with open(roster_path, newline="", encoding="utf-8-sig") as fh:
            headers = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        headers = []
    exported = {}
    for header in headers:
        match = re.fullmatch(r"(.+?) \(\d+\)", header.strip())
        if match:
            exported.setdefault(match.group(1), header.strip())
    return [csv_safe(exported.get(a, a)) for a in assignments]


def export(grading: Path, roster_path: Path, fmt: str) -> Export:
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    points, maxima = read_grades(grading)
    roster = read_roster(roster_path)
    listed = {r["folder"] for r in roster}
    result = Export("", sorted(r["folder"] for r in roster if r["folder"] not in points),
                    sorted(s for s in points if s not in listed))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    assignments = list(maxima)

    def scores(folder: str) -> list[str]:
        mine = points.get(folder, {})
        return [f"{mine.get(a, 0.0):g}" for a in assignments]

    if fmt == "canvas":
        writer.writerow([*CANVAS_IDENTITY, *canvas_columns(roster_path, assignments)])
        writer.writerow(["Points Possible", "", "", "", "", *(f"{maxima[a]:g}" for a in assignments)])
        for r in roster:
            writer.writerow([csv_safe(r.get("name") or r.get("student") or r["folder"]), csv_safe(r.get("id", "")),
                             csv_safe(r.get("sis user id", "")), csv_safe(r.get("sis login id", "")),
                             csv_safe(r.get("section", "")), *scores(r["folder"])])
    elif fmt == "moodle":
        key = "email" if any(r.get("email") for r in roster) else "idnumber" if any(
            r.get("idnumber") for r in roster) else None
        if key is None:
            raise ExportError(f"{roster_path}: Moodle maps students by email address or ID number; the roster has "
                              "neither an email nor an idnumber column")
        missing = [r["folder"] for r in roster if not r.get(key)]
        if missing:
            raise ExportError(f"{roster_path}: no {key} for {', '.join(missing)}")
        writer.writerow(["Email address" if key == "email" else "ID number", *assignments])
        for r in roster:
            writer.writerow([csv_safe(r[key]), *scores(r["folder"])])
    else:
        extra = [c for c in ("id", "sis user id", "sis login id", "section", "email", "idnumber")
                 if any(r.get(c) for r in roster)]
        writer.writerow(["student", *extra, *assignments, "total"])
        for r in roster:
            mine = scores(r["folder"])
            writer.writerow([csv_safe(r["folder"]), *(csv_safe(r.get(c, "")) for c in extra), *mine,
                             f"{round(sum(map(float, mine)), 3):g}"])
    result.text = out.getvalue()
    return result


def write(grading: Path, roster: Path, fmt: str, out: Optional[Path] = None) -> tuple[Path, Export]:
    """Write the export (default: ``grading/export-FORMAT.csv``); the path and what it found."""
    done = export(grading, roster, fmt)
    path = out or grading / f"export-{fmt}.csv"
    path.write_text(done.text, encoding="utf-8")
    return path, done
