"""Written answers a person grades: ``batch``'s review sheets, one CSV per rubric check with ``review`` points.

A check such as 04's ``observation`` only judges that the answer is there; its points are the instructor's.
Each class run writes ``review/NN_name.CHECK.csv`` in the grading folder: one row per student whose answer is
there, with an excerpt (the whole text beside it, ``STUDENT/NN_name.CHECK.txt``), a digest of the text, an empty
``points`` cell for the instructor, ``max_points`` and a ``comment``. The next run (and a regrade) reads the sheets
back before it grades anything, refuses a sheet it cannot trust (a row for a student or answer the grading folder
does not hold, points that are not a plain number from 0 to ``max_points``) with :class:`ReviewError`, and merges
the points into the results every output is written from (``grades.csv``, ``gradebook.csv``, the class report,
each student's reports and feedback page, hence ``export``). A row left empty stays "awaiting review": its points
count in the points possible, not in the points earned, and every score says so (:mod:`autograder.points`).
When a student's answer changes after it was graded, the old points no longer apply: the row is written again
empty, its comment saying what the earlier points were.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from autograder.digests import text_sha256
from autograder.errors import AutograderError
from autograder.grading import NotebookGrade
from autograder.inert import csv_row, csv_safe, markdown_safe
from autograder.points import counted, is_awaiting, rounded, shown
from autograder.results import CheckResult, Status

FOLDER = "review"  # under the grading folder
COLUMNS = ("student", "answer_excerpt", "answer_file", "answer_sha256", "points", "max_points", "comment")
EXCERPT_CHARS = 200
NUMBER = re.compile(r"\d+(\.\d+)?")  # what a points cell may hold: a plain number, nothing else


class ReviewError(AutograderError):
    """A review sheet that cannot be merged: unknown rows, points that are not a number from 0 to the maximum."""


@dataclass(frozen=True)
class Review:
    """The instructor's row of a review sheet: points (None: not graded yet), comment, the answer it graded."""

    points: Optional[float]
    comment: str
    digest: str


Key = tuple[str, str, str]  # (student, assignment, check id)


def sheet_path(out: Path, assignment: str, check: str) -> Path:
    return out / FOLDER / f"{assignment}.{check}.csv"


def digest(text: str) -> str:
    return "sha256:" + text_sha256(text)[:16]


def answer_of(result: CheckResult) -> Optional[str]:
    """The written answer a result carries for review, or None."""
    review = (result.detail or {}).get("review")
    return str(review.get("answer", "")) if isinstance(review, dict) else None


def read_sheets(out: Path, notebooks: Mapping[tuple[str, str], NotebookGrade]) -> dict[Key, Review]:
    """Every review sheet of ``out`` for the checks of ``notebooks``' rubrics, validated against ``notebooks``
    (the stored results: a row must name a student whose stored answer it reviews)."""
    found: dict[Key, Review] = {}
    checks = {(nb.rubric.name, spec.id): spec.review_points for nb in notebooks.values()
              for spec in nb.rubric.checks if spec.review_points > 0}
    for (assignment, check), most in sorted(checks.items()):
        path = sheet_path(out, assignment, check)
        if path.is_file():
            found |= _read_sheet(path, assignment, check, most, notebooks)
    return found


def _read_sheet(path: Path, assignment: str, check: str, most: float,
                notebooks: Mapping[tuple[str, str], NotebookGrade]) -> dict[Key, Review]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReviewError(f"{path}: cannot be read: {exc}") from exc
    found: dict[Key, Review] = {}
    names = {csv_safe(student): student for student, name in notebooks if name == assignment}  # as the sheet has them
    for line, row in enumerate(rows, start=2):
        where = f"{path}, line {line}"
        missing = [c for c in ("student", "answer_sha256", "points") if row.get(c) is None]
        if missing:
            raise ReviewError(f"{where}: no column {', '.join(missing)}; keep the columns {', '.join(COLUMNS)}")
        student = names.get(row["student"], row["student"])
        nb = notebooks.get((student, assignment))
        if nb is None or not any(r.id == check and answer_of(r) is not None for r in nb.results):
            raise ReviewError(f"{where}: student {student!r} has no {assignment} answer {check!r} in this grading "
                              "folder to review; delete the row or fix the name")
        if (student, assignment, check) in found:
            raise ReviewError(f"{where}: a second row for {student!r}")
        found[student, assignment, check] = Review(points_cell(row["points"], most, where),
                                                   row.get("comment") or "", row["answer_sha256"])
    return found


def points_cell(text: str, most: float, where: str) -> Optional[float]:
    """The points an instructor entered: None for an empty cell, else a plain number from 0 to ``most``."""
    text = text.strip()
    if not text:
        return None
    if not NUMBER.fullmatch(text) or float(text) > most:
        raise ReviewError(f"{where}: points {text!r} must be a plain number from 0 to {shown(most)}, or empty "
                          "while the answer awaits review")
    return rounded(float(text))


def merged(student: str, assignment: str, results: Sequence[CheckResult], reviews: Mapping[Key, Review]
           ) -> list[CheckResult]:
    """``results`` of ``student``'s ``assignment`` with the instructor's points in place of every answer awaiting
    review that they graded (for the same text)."""
    out = []
    for r in results:
        review, text = reviews.get((student, assignment, r.id)), answer_of(r)
        if review is None or review.points is None or text is None or review.digest != digest(text) \
                or not is_awaiting(r.detail):
            out.append(r)
            continue
        comment = review.comment.strip()
        said = f"graded by your instructor: {counted(review.points)} of {shown(r.max_points)}"
        detail = {**(r.detail or {}), "review": {**(r.detail or {})["review"], "state": "reviewed",
                                                 "comment": comment}}
        out.append(CheckResult(r.assignment, r.id, r.description, review.points, r.max_points,
                               Status.PASS if review.points > 0 else Status.FAIL,
                               said + (f". {comment}" if comment else ""), r.value, detail))
    return out


def merge_all(notebooks: Mapping[tuple[str, str], NotebookGrade], reviews: Mapping[Key, Review]) -> None:
    """Merge ``reviews`` into every notebook of ``notebooks`` (in place)."""
    for (student, assignment), nb in notebooks.items():
        nb.results = merged(student, assignment, nb.results, reviews)


def reviewed(results: Sequence[CheckResult]) -> bool:
    """Whether any of ``results`` holds points an instructor gave on review."""
    return any(isinstance((r.detail or {}).get("review"), dict) and r.detail["review"].get("state") == "reviewed"
               for r in results)


def newer_than_page(out: Path, student: str, nb: NotebookGrade) -> bool:
    """Whether ``nb`` holds reviewed points from a sheet written after its feedback page (or it has none)."""
    if not reviewed(nb.results):
        return False
    page = out / student / Path(nb.rubric.notebook).with_suffix(".html")
    sheets = [sheet_path(out, nb.rubric.name, r.id) for r in nb.results if answer_of(r) is not None]
    newest = max((p.stat().st_mtime for p in sheets if p.is_file()), default=0.0)
    return not page.is_file() or page.stat().st_mtime < newest


def answers(graded: Mapping[str, Sequence[NotebookGrade]]) -> dict[tuple[str, str], list[tuple[str, CheckResult]]]:
    """{(assignment, check): [(student, result)]} of every written answer for review, graded or not."""
    found: dict[tuple[str, str], list[tuple[str, CheckResult]]] = {}
    for student, notebooks in sorted(graded.items()):
        for nb in notebooks:
            for r in nb.results:
                if answer_of(r) is not None:
                    found.setdefault((nb.rubric.name, r.id), []).append((student, r))
    return found


def write_sheets(out: Path, graded: Mapping[str, Sequence[NotebookGrade]], reviews: Mapping[Key, Review]) -> None:
    """Each review sheet again, with every answer now stored (its full text beside it) and the instructor's points
    and comments kept; points given for an answer since changed are cleared, the comment saying so. A sheet is
    rewritten only where its content changes (its time tells which feedback pages are older than it)."""
    for (assignment, check), rows in answers(graded).items():
        path = sheet_path(out, assignment, check)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        for student, r in rows:
            writer.writerow(csv_row(_sheet_row(out, student, assignment, r, reviews.get((student, assignment, check)))))
        data = text.getvalue().encode("utf-8", "backslashreplace")
        if not path.is_file() or path.read_bytes() != data:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)


def _sheet_row(out: Path, student: str, assignment: str, r: CheckResult, review: Optional[Review]) -> list[Any]:
    text = answer_of(r) or ""
    full = out / student / f"{assignment}.{r.id}.txt"
    full.parent.mkdir(parents=True, exist_ok=True)
    full.write_text(text + "\n", encoding="utf-8", errors="backslashreplace")
    points, comment = ("", "") if review is None else (
        "" if review.points is None else shown(review.points), review.comment)
    if review is not None and review.digest != digest(text) and review.points is not None:
        points, comment = "", f"answer changed since it was graded ({counted(review.points)} then). {comment}"
    excerpt = " ".join(text.split())
    excerpt = excerpt if len(excerpt) <= EXCERPT_CHARS else excerpt[:EXCERPT_CHARS - 1] + "…"
    return [student, excerpt, full.relative_to(out).as_posix(), digest(text), points, shown(r.max_points),
            comment.strip()]


def report_lines(out: Path, graded: Mapping[str, Sequence[NotebookGrade]]) -> list[str]:
    """The class report's section: every written answer, its text (escaped), and its points or "awaiting
    review"."""
    found = answers(graded)
    if not found:
        return []
    lines = ["", "## Written answers for you to grade", "",
             "Enter points (a number from 0 to the maximum) and a comment in each sheet named below; the next "
             "`batch` run reads them into every output. Until then an answer is *awaiting review*: its points are "
             "in the points possible, not in the points earned, and every score says how many await review."]
    for (assignment, check), rows in found.items():
        sheet = sheet_path(out, assignment, check).relative_to(out).as_posix()
        waiting = sum(is_awaiting(r.detail) for _, r in rows)
        lines += ["", f"### {assignment} {check}: {waiting} of {len(rows)} awaiting review (`{sheet}`)", "",
                  "| student | points | answer |", "|---|---|---|"]
        for student, r in rows:
            state = "awaiting review" if is_awaiting(r.detail) else f"{shown(r.points)} / {shown(r.max_points)}"
            lines.append(f"| {markdown_safe(student)} | {state} | {markdown_safe(answer_of(r) or '', 600)} |")
    return lines
