"""Stage: a fresh copy of a submission, with every locked cell as released.

The student's files are never modified. Locked and grade cells are compared
with the released notebook through nbgrader's own checksums; a changed or
deleted one is put back and recorded as tampering (the ``locked_cells``
result). Grade cells (nbgrader's in-notebook tests) are dropped from the
staged copy: scoring happens outside the kernel.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import nbformat
from nbformat import NotebookNode

from autograder.errors import StagingError
from autograder.results import CheckResult, Status

PARAMETERS_TAG = "parameters"
IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "artifacts", "*.keras", "*.h5", ".git")


@dataclass(frozen=True)
class Staged:
    directory: Path
    notebook: Path
    tampering: list[str] = field(default_factory=list)

    def result(self, assignment: str) -> CheckResult:
        """The ``locked_cells`` row of the report (no points; a tampered notebook is flagged)."""
        if self.tampering:
            return CheckResult(assignment, "locked_cells", LOCKED_CELLS, 0.0, 0.0, Status.TAMPERED,
                               "; ".join(self.tampering) + " (graded with the released cells)")
        return CheckResult(assignment, "locked_cells", LOCKED_CELLS, 0.0, 0.0, Status.PASS,
                           "every locked cell is as released")


LOCKED_CELLS = "Locked and grade cells are as released"


def _grade_id(cell: NotebookNode) -> Optional[str]:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_protected(cell: NotebookNode) -> bool:
    from nbgrader.utils import is_locked

    return "nbgrader" in cell.get("metadata", {}) and is_locked(cell)


def _is_grade_only(cell: NotebookNode) -> bool:
    from nbgrader.utils import is_grade, is_solution

    return "nbgrader" in cell.get("metadata", {}) and is_grade(cell) and not is_solution(cell)


def _checksum(cell: NotebookNode) -> Optional[str]:
    from nbgrader.utils import compute_checksum

    try:
        return compute_checksum(cell)
    except (KeyError, ValueError, TypeError):
        return None


def read_notebook(path: Path) -> NotebookNode:
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:
        raise StagingError(f"{path.name} is not a readable notebook: {type(exc).__name__}: {exc}") from exc


def restore_locked_cells(submitted: NotebookNode, released: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """The submitted notebook with every protected released cell as released, and what was put back."""
    notes: list[str] = []
    cells = list(submitted.cells)
    by_id = {}
    for index, cell in enumerate(cells):
        gid = _grade_id(cell)
        if gid is not None and gid not in by_id:
            by_id[gid] = index
    unmarked = {c.source: i for i, c in enumerate(cells) if _grade_id(c) is None and c.get("cell_type") == "code"}
    previous_id: Optional[str] = None
    for cell in released.cells:
        gid = _grade_id(cell)
        if gid is None:
            continue
        if _is_protected(cell):
            index = by_id.get(gid)
            if index is None and cell.source in unmarked:  # same text, nbgrader metadata stripped
                index = by_id[gid] = unmarked.pop(cell.source)
                notes.append(f"cell {gid!r} lost its nbgrader metadata; restored")
                cells[index] = cell
            elif index is None:
                notes.append(f"cell {gid!r} was deleted; restored")
                at = by_id[previous_id] + 1 if previous_id in by_id else 0
                cells.insert(at, cell)
                by_id = {k: (i + 1 if i >= at else i) for k, i in by_id.items()}
                unmarked = {k: (i + 1 if i >= at else i) for k, i in unmarked.items()}
                by_id[gid] = at
            else:
                mine = cells[index]
                recorded = mine.get("metadata", {}).get("nbgrader", {}).get("checksum")
                actual = _checksum(mine)
                if actual != _checksum(cell) or (recorded is not None and recorded != actual):
                    notes.append(f"cell {gid!r} was edited; restored")
                cells[index] = cell  # the released copy, tags included
        previous_id = gid
    # Only the released parameters cell may carry the tag papermill injects after.
    released_params = {_grade_id(c) for c in released.cells if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])}
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags")
        if tags and PARAMETERS_TAG in tags and _grade_id(cell) not in released_params:
            cell.metadata.tags = [t for t in tags if t != PARAMETERS_TAG]
            notes.append("a second cell tagged 'parameters' lost its tag")
    restored = copy.deepcopy(submitted)
    restored.cells = cells
    return restored, notes


def stage(submission: Path, released: Path, workdir: Path, copy_bytes: int) -> Staged:
    """Copy the assignment folder of ``submission`` into ``workdir`` and restore its locked cells."""
    folder = submission.parent
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    if size > copy_bytes:
        raise StagingError(f"{folder.name} holds {size / 1e6:.0f} MB; the limit is {copy_bytes / 1e6:.0f} MB")
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(folder, workdir, ignore=IGNORED, symlinks=False, ignore_dangling_symlinks=True)
    notebook = read_notebook(submission)
    truth = read_notebook(released)
    restored, notes = restore_locked_cells(notebook, truth)
    restored.cells = [c for c in restored.cells if not _is_grade_only(c)]
    if not any(PARAMETERS_TAG in c.get("metadata", {}).get("tags", []) for c in restored.cells):
        raise StagingError("the released notebook has no cell tagged 'parameters'")
    target = workdir / submission.name
    nbformat.write(restored, target)
    return Staged(workdir, target, notes)
