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

What is refused (an :class:`ExportError`: nothing is written, the command exits 2), so that no grade is lost or
given to another student in silence:

- a roster none of whose rows names a graded submission folder (the wrong column, or another course's roster);
- a graded submission with no roster row (the LMS would never get its grade), unless ``allow_unmatched``
  (``--allow-unmatched``): then it is left out and named;
- a roster row without any of the ids the LMS matches students on (Canvas: ``ID``, ``SIS User ID`` or ``SIS
  Login ID``; Moodle: the ``email`` or ``idnumber`` the import maps); the plain CSV matches on nothing;
- two submission folders that would read as one student: ``grades.csv`` escapes a cell that would start a
  formula with ``'`` (``=x`` is written ``'=x``), so ``'=x`` and ``=x``, or ``'bob`` and ``bob``, are refused
  (rename one); alone, each is its own student (the ``'`` is taken off only where the grader put it);
- a notebook still to retry (the grader's machinery failed on it: ``retry`` in ``grades.csv``'s flags): run
  ``batch`` again first.

A roster student with no submission gets 0 for every assignment (and is named on stderr); a stale result (not
regraded since its key changed: ``stale`` in the flags) is exported as stored and named. Every text cell is inert
in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from autograder.inert import csv_safe
from autograder.pipeline.report import Flag
from autograder.points import shown, sum_final
from autograder.errors import AutograderError

FOLDER_COLUMNS = ("github_username", "login", "username", "folder", "sis login id", "student")
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ALIASES = {"email address": "email", "id number": "idnumber", "id_number": "idnumber"}


class ExportError(AutograderError):
    """The grading folder or the roster cannot be read, or the roster lacks the identity the format needs."""


@dataclass
class Export:
    text: str
    unsubmitted: list[str] = field(default_factory=list)  # on the roster, no graded notebook: 0
    unrostered: list[str] = field(default_factory=list)  # graded, not on the roster: left out (allowed)
    stale: list[str] = field(default_factory=list)  # "student assignment" exported as stored, not regraded
    awaiting: list[str] = field(default_factory=list)  # "student assignment": a written answer not yet graded


@dataclass
class Grades:
    """What ``grades.csv`` holds, by submission folder."""

    points: dict[str, dict[str, float]]  # {student: {assignment: final points}}
    maxima: dict[str, float]  # {assignment: max points}
    stale: list[str] = field(default_factory=list)  # "student assignment"
    retry: list[str] = field(default_factory=list)  # "student assignment": no final grade yet
    awaiting: list[str] = field(default_factory=list)  # "student assignment": a written answer awaits review


def folder_of(cell: str) -> str:
    """The submission folder a ``grades.csv`` student cell names: the ``'`` the grader puts before a cell that would
    start a formula taken off, and only that one (a folder named ``'bob`` stays ``'bob``)."""
    if cell.startswith("'") and csv_safe(cell[1:]) == cell:
        return cell[1:]
    return cell


def confusable(folders: Any, cells: Any) -> list[list[str]]:
    """Groups of submission folders that would read as one student: folders written as the same ``grades.csv`` cell
    (``=x`` and ``'=x`` are both written ``'=x``), and cells that differ only by leading ``'`` (``'bob`` and
    ``bob``). ``folders``: the stored results' folder names; ``cells``: grades.csv's student cells."""
    by_cell: dict[str, set[str]] = {}
    for name in folders:
        by_cell.setdefault(csv_safe(name), set()).add(name)
    groups = [sorted(names) for names in by_cell.values() if len(names) > 1]
    by_text: dict[str, set[str]] = {}
    for cell in set(cells) | set(by_cell):
        by_text.setdefault(cell.lstrip("'"), set()).add(cell)
    groups += [sorted(folder_of(cell) for cell in same) for same in by_text.values() if len(same) > 1]
    return sorted(groups)


def stored_folders(grading: Path) -> set[str]:
    """The student folders of ``grading`` that hold a stored result or a record to retry."""
    found = set()
    if grading.is_dir():
        for folder in grading.iterdir():
            if folder.is_dir() and not folder.is_symlink() and not folder.name.startswith(".") and any(
                    p.name.endswith((".result.json", ".retry.json")) for p in folder.iterdir()):
                found.add(folder.name)
    return found


def read_grades(grading: Path) -> Grades:
    """The final points per student and assignment, the maxima, and the stale rows and those to retry, from
    ``grading/grades.csv``. Refuses two folders (in grades.csv or the stored results) that would read as one."""
    path = grading / "grades.csv"
    if not path.is_file():
        raise ExportError(f"no {path}: grade the class first (python -m autograder batch ... --out {grading})")
    grades = Grades({}, {})
    cells: dict[tuple[str, str], int] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                student, assignment = folder_of(row["student"]), row["assignment"]
                cells[row["student"], assignment] = cells.get((row["student"], assignment), 0) + 1
                flags = Flag.parse(row.get("flags") or "")
                if Flag.STALE in flags:
                    grades.stale.append(f"{student} {assignment}")
                if Flag.AWAITING_REVIEW in flags:  # its points possible count, its review points not yet
                    grades.awaiting.append(f"{student} {assignment}")
                if Flag.RETRY in flags or not row["points"]:
                    grades.retry.append(f"{student} {assignment}")
                    continue
                grades.points.setdefault(student, {})[assignment] = float(row["points"])
                grades.maxima[assignment] = float(row["max_points"])
    except (OSError, UnicodeDecodeError, csv.Error, KeyError, ValueError) as exc:
        raise ExportError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    twice = sorted(f"{cell} {a}" for (cell, a), n in cells.items() if n > 1)
    clash = confusable(stored_folders(grading), {cell for cell, _ in cells})
    if twice or clash:
        named = "; ".join(" and ".join(group) for group in clash) or ", ".join(twice)
        raise ExportError(f"submission folders that would read as one student: {named} (grades.csv escapes a cell "
                          "that would start a formula with ', so the export cannot tell them apart): rename one "
                          "folder, grade again, then export")
    grades.maxima = dict(sorted(grades.maxima.items()))
    return grades


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


CANVAS_IDS = ("id", "sis user id", "sis login id")  # what Canvas's import matches a row to its student by


def _listed(names: Any, limit: int = 10) -> str:
    names = sorted(names)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def export(grading: Path, roster_path: Path, fmt: str, allow_unmatched: bool = False) -> Export:
    """The LMS import of ``grading``'s grades for the students of ``roster_path``; raises :class:`ExportError`
    (nothing to write) for what the module's docstring lists."""
    if fmt not in EXPORTERS:
        raise ExportError(f"format must be one of {', '.join(EXPORTERS)}, not {fmt!r}")
    grades = read_grades(grading)
    if grades.retry:
        raise ExportError(f"{len(grades.retry)} notebook(s) have no final grade: the grader's machinery failed on "
                          f"them ({_listed(grades.retry)}); run batch again to retry them, then export")
    roster = read_roster(roster_path)
    result = _matched(grades, roster, roster_path, allow_unmatched)
    out = io.StringIO()
    EXPORTERS[fmt](csv.writer(out, lineterminator="\r\n"), roster, roster_path, grades)
    result.text = out.getvalue()
    return result


def _matched(grades: Any, roster: list[dict[str, str]], roster_path: Path, allow_unmatched: bool) -> Export:
    """Who is on the roster and who was graded, refused where the LMS would lose or misplace a grade."""
    points, listed = grades.points, {r["folder"] for r in roster}
    if not listed & set(points):
        raise ExportError(f"no roster row matches any submission: {roster_path} names {_listed(listed, 5)}; the "
                          f"graded folders are {_listed(points, 5) or 'none'}. Its submission column is the first of "
                          f"{', '.join(FOLDER_COLUMNS)} it has: is that the one the folders are named by?")
    result = Export("", sorted(r["folder"] for r in roster if r["folder"] not in points),
                    sorted(s for s in points if s not in listed), grades.stale, grades.awaiting)
    if result.unrostered and not allow_unmatched:
        raise ExportError(f"graded, not on the roster: {_listed(result.unrostered)}; the LMS would never get their "
                          "grades. Add them to the roster, or give --allow-unmatched to leave them out")
    return result


def _scores(grades: Any, folder: str) -> list[str]:
    mine = grades.points.get(folder, {})
    return [shown(mine.get(a, 0.0)) for a in grades.maxima]


def _canvas(writer: Any, roster: list[dict[str, str]], roster_path: Path, grades: Any) -> None:
    no_id = [r["folder"] for r in roster if not any(r.get(c) for c in CANVAS_IDS)]
    if no_id:
        raise ExportError(f"{roster_path}: Canvas matches a row to its student by ID, SIS User ID or SIS Login "
                          f"ID; these rows have none: {_listed(no_id)}")
    assignments = list(grades.maxima)
    writer.writerow([*CANVAS_IDENTITY, *canvas_columns(roster_path, assignments)])
    writer.writerow(["Points Possible", "", "", "", "", *(f"{grades.maxima[a]:g}" for a in assignments)])
    for r in roster:
        writer.writerow([csv_safe(r.get("name") or r.get("student") or r["folder"]), csv_safe(r.get("id", "")),
                         csv_safe(r.get("sis user id", "")), csv_safe(r.get("sis login id", "")),
                         csv_safe(r.get("section", "")), *_scores(grades, r["folder"])])


def _moodle(writer: Any, roster: list[dict[str, str]], roster_path: Path, grades: Any) -> None:
    key = "email" if any(r.get("email") for r in roster) else "idnumber" if any(
        r.get("idnumber") for r in roster) else None
    if key is None:
        raise ExportError(f"{roster_path}: Moodle maps students by email address or ID number; the roster has "
                          "neither an email nor an idnumber column")
    missing = [r["folder"] for r in roster if not r.get(key)]
    if missing:
        raise ExportError(f"{roster_path}: no {key} for {', '.join(missing)}")
    writer.writerow(["Email address" if key == "email" else "ID number", *grades.maxima])
    for r in roster:
        writer.writerow([csv_safe(r[key]), *_scores(grades, r["folder"])])


def _plain(writer: Any, roster: list[dict[str, str]], roster_path: Path, grades: Any) -> None:
    extra = [c for c in ("id", "sis user id", "sis login id", "section", "email", "idnumber")
             if any(r.get(c) for r in roster)]
    writer.writerow(["student", *extra, *grades.maxima, "total"])
    for r in roster:
        mine = grades.points.get(r["folder"], {})
        writer.writerow([csv_safe(r["folder"]), *(csv_safe(r.get(c, "")) for c in extra),
                         *_scores(grades, r["folder"]), shown(sum_final(mine.get(a, 0.0) for a in grades.maxima))])


Writer = Callable[[Any, list[dict[str, str]], Path, Grades], None]  # (csv writer, roster, its path, grades)
EXPORTERS: dict[str, Writer] = {"canvas": _canvas, "moodle": _moodle, "csv": _plain}  # format name: its writer


def write(grading: Path, roster: Path, fmt: str, out: Optional[Path] = None, allow_unmatched: bool = False
          ) -> tuple[Path, Export]:
    """Write the export (default: ``grading/export-FORMAT.csv``); the path and what it found. Writes nothing
    when :func:`export` refuses."""
    done = export(grading, roster, fmt, allow_unmatched)
    path = out or grading / f"export-{fmt}.csv"
    path.write_text(done.text, encoding="utf-8")
    return path, done
