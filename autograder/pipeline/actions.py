"""GitHub Actions: what a student sees on the run page, from the ``results.json`` of every notebook job.

A workflow grades each notebook in a job of its own (``grade --assignment ID --out grading/ID``); the report job
reads every ``results.json`` it got back and builds from them, with no second scoring:

- ``::error`` workflow commands (annotations) naming the notebook file, the line of the cell in it, and the check;
- the Markdown summary of the whole run (the job summary): the score table and the total;
- the commit status: its state and its description, ``Points 52/70``.

Red or green: the state is ``error`` (a red job and a red status) only when a notebook has no results at all (its
job was cut at the time limit, cancelled or crashed), or ``failure`` where ``red_below`` is given and the score
falls under that fraction of the maximum; a low score alone leaves the run green and shows in the points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from autograder import rubric as rubrics
from autograder.pipeline import report
from autograder.results import CheckResult, Status, unscored

NO_RESULTS = ("no results: the job grading this notebook did not finish (cut at its time limit, cancelled, "
              "or it crashed); see that job's log")
MAX_ERROR_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step; the rest become warnings


@dataclass(frozen=True)
class Graded:
    """Every row of a run, with what the report job needs to place them."""

    results: list[CheckResult]
    profile: str
    folders: dict[str, Path]  # assignment id -> the folder of its results.json (executed notebook beside it)


def load(results_dir: Path, expected: Optional[Sequence[str]] = None,
         available: Optional[Sequence[rubrics.Rubric]] = None) -> Graded:
    """Read every ``results.json`` under ``results_dir``; an expected assignment without one gets error rows."""
    available = list(rubrics.all_rubrics().values()) if available is None else list(available)
    by_key = {key: r for r in available for key in (r.id, r.name)}
    results: list[CheckResult] = []
    folders: dict[str, Path] = {}
    profiles = set()
    for path in sorted(results_dir.rglob("results.json")):
        data = json.loads(path.read_text())
        profiles.add(data.get("profile", ""))
        rows = [CheckResult(**row) for row in data["results"]]
        results += rows
        for assignment in {r.assignment for r in rows}:
            folders[assignment] = path.parent
    for key in expected or ():
        rubric = by_key.get(key)
        if rubric is None:
            raise rubrics.RubricError(f"no rubric for assignment {key}")
        if rubric.id not in folders:
            results += unscored(rubric.id, rubric.checks, Status.ERROR, NO_RESULTS)
    order = {r.id: i for i, r in enumerate(available)}
    results.sort(key=lambda r: order.get(r.assignment, len(order)))  # stable: each notebook's rows keep their order
    return Graded(results, "/".join(sorted(p for p in profiles if p)), folders)


def status_line(graded: Graded, red_below: Optional[float] = None) -> dict[str, str]:
    """What the run page shows beside the commit: ``state`` (``success``, ``failure`` or ``error``, as the
    commit-status API takes it), ``description`` (``Points 52/70``), and the points as numbers."""
    totals = report.totals(graded.results)
    unfinished = any(r.message == NO_RESULTS for r in graded.results)
    low = red_below is not None and totals["points"] < red_below * totals["max_points"]
    points, most = report._pts(totals["points"]), report._pts(totals["max_points"])
    description = f"Points {points}/{most}" + (" (a notebook has no results)" if unfinished else "")
    return {"state": "error" if unfinished else "failure" if low else "success", "description": description,
            "points": points, "max_points": most}


@dataclass(frozen=True)
class Place:
    """Where a check points in the student's notebook."""

    file: str  # relative to the repository: NN_name/NN_name.ipynb
    line: int  # the cell's line in the notebook file (1-based; 0: unknown)
    cell: str  # "cell 7 (test_accuracy)"


def locate(result: CheckResult, rubric: rubrics.Rubric, submission: Optional[Path],
           folder: Optional[Path]) -> Place:
    """The cell a row is about: the cell that raised (execution errors), the check's grade cell ``test_ID``,
    else the cell that saves the work with ``submit(``."""
    file = f"{rubric.name}/{rubric.notebook}"
    notebook = submission / file if submission else None
    if notebook is None or not notebook.is_file():
        return Place(file, 0, "")
    try:
        text = notebook.read_text(encoding="utf-8")
        cells = json.loads(text)["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return Place(file, 0, "")
    index = None
    if result.status.is_error and folder is not None:
        index = _raising_cell(folder / rubric.notebook, cells)
    index = _first(cells, lambda c: _grade_id(c) == f"test_{result.id}") if index is None else index
    index = _last(cells, lambda c: c.get("cell_type") == "code" and "submit(" in _source(c)) if index is None else index
    if index is None:
        return Place(file, 0, "")
    label = f"cell {index + 1}" + (f" ({_grade_id(cells[index])})" if _grade_id(cells[index]) else "")
    return Place(file, _line_of(text, cells[index]), label)


def annotations(graded: Graded, rubric_of: dict[str, rubrics.Rubric], submission: Optional[Path]) -> list[str]:
    """``::error`` (then ``::warning``) workflow commands for every row that lost points or broke."""
    lines = []
    for r in graded.results:
        if r.status == Status.PASS:
            continue
        rubric = rubric_of.get(r.assignment)
        place = locate(r, rubric, submission, graded.folders.get(r.assignment)) if rubric else Place("", 0, "")
        kind = "error" if sum(line.startswith("::error") for line in lines) < MAX_ERROR_ANNOTATIONS else "warning"
        where = f" in {place.cell}" if place.cell else ""
        title = f"{r.assignment} {r.id}: {r.status} ({report._pts(r.points)}/{report._pts(r.max_points)})"
        props = [f"title={_property(title)}"]
        if place.file:
            props.insert(0, f"file={_property(place.file)}")
            if place.line:
                props.insert(1, f"line={place.line}")
        lines.append(f"::{kind} {','.join(props)}::{_data(f'{rubric.name if rubric else r.assignment}{where}: {r.message}')}")
    return lines


def _grade_id(cell: dict) -> Optional[str]:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _first(cells: Sequence[dict], predicate) -> Optional[int]:
    return next((i for i, c in enumerate(cells) if predicate(c)), None)


def _last(cells: Sequence[dict], predicate) -> Optional[int]:
    return next((i for i in reversed(range(len(cells))) if predicate(cells[i])), None)


def _raising_cell(executed: Path, cells: Sequence[dict]) -> Optional[int]:
    """The student's cell whose executed copy holds an error output, matched by cell id (papermill keeps ids)."""
    try:
        ran = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    raised = next((c.get("id") for c in ran
                   if any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
    return None if raised is None else _first(cells, lambda c: c.get("id") == raised)


def _line_of(text: str, cell: dict) -> int:
    """The line of the cell's ``"id"`` (else its grade id) in the notebook's JSON text."""
    for needle in (f'"id": "{cell.get("id")}"', f'"grade_id": "{_grade_id(cell)}"'):
        at = text.find(needle)
        if at >= 0 and "None" not in needle:
            return text.count("\n", 0, at) + 1
    return 0


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def rubric_index(available: Iterable[rubrics.Rubric]) -> dict[str, rubrics.Rubric]:
    return {r.id: r for r in available}
