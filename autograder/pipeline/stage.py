"""Stage: a fresh copy of a submission, with every locked cell as released.

The student's files are never modified. Locked and grade cells are compared
with the released notebook through nbgrader's own checksums; a changed or
deleted one is put back and recorded as tampering (the ``locked_cells``
result). Grade cells (nbgrader's in-notebook tests) are dropped from the
staged copy: scoring happens outside the kernel.

The copy takes regular files and folders only: a symlink is never followed nor
copied, a special file (FIFO, device, socket) is skipped, and each skipped
entry is named in the staging notes. Bytes and files are counted while
copying and staging stops at the caps (``copy_bytes``, ``copy_files``). A
notebook or assignment folder that is itself a symlink is refused.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import shutil
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import nbformat
from nbformat import NotebookNode

from autograder.errors import StagingError
from autograder.results import CheckResult, Status

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"  # papermill's tag for the cell it adds; only papermill may add one
IGNORED = (".ipynb_checkpoints", "__pycache__", "artifacts", "*.keras", "*.h5", ".git")  # never staged, no note
CHUNK = 1 << 20


@dataclass(frozen=True)
class Staged:
    directory: Path
    notebook: Path
    tampering: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # entries of the folder that were not staged

    def result(self, assignment: str) -> CheckResult:
        """The ``locked_cells`` row of the report (no points; a tampered notebook is flagged)."""
        skipped = f"; not staged: {', '.join(self.notes)}" if self.notes else ""
        if self.tampering:
            return CheckResult(assignment, "locked_cells", LOCKED_CELLS, 0.0, 0.0, Status.TAMPERED,
                               "; ".join(self.tampering) + " (graded with the released cells)" + skipped)
        return CheckResult(assignment, "locked_cells", LOCKED_CELLS, 0.0, 0.0, Status.PASS,
                           "every locked cell is as released" + skipped)


LOCKED_CELLS = "Locked and grade cells are as released"


def _grade_id(cell: NotebookNode) -> Optional[str]:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_protected(cell: NotebookNode) -> bool:
    from nbgrader.utils import is_locked

    return "nbgrader" in cell.get("metadata", {}) and is_locked(cell)


def _is_grade_only(cell: NotebookNode) -> bool:
    from nbgrader.utils import is_grade, is_solution

    return "nbgrader" in cell.get("metadata", {}) and is_grade(cell) and not is_solution(cell)


def without_grade_cells(cells: list[NotebookNode]) -> list[NotebookNode]:
    """``cells`` without grade cells, and without a markdown cell that only introduced grade cells (one
    followed by grade cells up to the next markdown cell or the end): no orphaned "Autograder tests" heading."""
    kept: list[NotebookNode] = []
    for i, cell in enumerate(cells):
        if _is_grade_only(cell):
            continue
        if cell.get("cell_type") == "markdown":
            section = []
            for following in cells[i + 1:]:
                if following.get("cell_type") == "markdown":
                    break
                section.append(following)
            if section and all(_is_grade_only(c) for c in section):
                continue
        kept.append(cell)
    return kept


def _checksum(cell: NotebookNode) -> Optional[str]:
    from nbgrader.utils import compute_checksum

    try:
        return compute_checksum(cell)
    except (KeyError, ValueError, TypeError):
        return None


def read_notebook(path: Path) -> NotebookNode:
    """The notebook at ``path``, nbformat 4; anything else (not JSON, not a notebook, an older nbformat) is a
    :class:`StagingError` that says which."""
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        version = nb.get("nbformat") if isinstance(nb, dict) else None
        if version != 4:
            raise StagingError(f"{path.name} is an nbformat {version} notebook; the course's notebooks are "
                               "nbformat 4 (start again from the released notebook)")
        return nbformat.convert(nb, 4)
    except StagingError:
        raise
    except Exception as exc:
        raise StagingError(f"{path.name} is not a readable notebook: {type(exc).__name__}: {exc}") from exc


def strip_injected(cells: list[NotebookNode]) -> tuple[list[NotebookNode], list[str]]:
    """``cells`` without any tagged ``injected-parameters``: papermill adds its own, after the parameters."""
    kept = [c for c in cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    note = f"a cell tagged {INJECTED_TAG!r} was removed (the grader injects the parameters)"
    return kept, [note] * (len(cells) - len(kept))


def drop_duplicates(cells: list[NotebookNode], released: NotebookNode) -> tuple[list[NotebookNode], list[str]]:
    """``cells`` with one copy of each protected cell: the first with its grade_id (restored before), and no
    unmarked cell repeating a protected cell's text."""
    protected = [c for c in released.cells if _grade_id(c) is not None and _is_protected(c)]
    ids = {_grade_id(c) for c in protected}
    texts = {(c.get("cell_type"), c.source.strip()): _grade_id(c) for c in protected if c.source.strip()}
    counts = Counter(_grade_id(c) for c in cells if _grade_id(c) in ids)
    notes = [f"cell {gid!r} appeared {n} times; kept one released copy" for gid, n in counts.items() if n > 1]
    kept: list[NotebookNode] = []
    seen: set[Optional[str]] = set()
    for cell in cells:
        gid = _grade_id(cell)
        copied = texts.get((cell.get("cell_type"), cell.get("source", "").strip())) if gid is None else None
        if gid in ids and gid in seen:
            continue
        if copied is not None:
            notes.append(f"a copy of locked cell {copied!r} was removed")
            continue
        seen.add(gid)
        kept.append(cell)
    return kept, notes


def restore_locked_cells(submitted: NotebookNode, released: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """The submitted notebook with every protected released cell as released, once, and what was put back."""
    cells, notes = strip_injected(list(submitted.cells))
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
    cells, duplicates = drop_duplicates(cells, released)
    notes += duplicates
    restored = copy.deepcopy(submitted)
    restored.cells = cells
    return restored, notes


class _Budget:
    """Bytes and files left to copy; exceeding either is a :class:`StagingError`."""

    def __init__(self, folder: str, max_bytes: int, max_files: int):
        self.folder, self.max_bytes, self.max_files = folder, max_bytes, max_files
        self.bytes = self.files = 0

    def add_file(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise StagingError(f"{self.folder} holds more than {self.max_files:,} files and folders; "
                               "that is the limit")

    def add_bytes(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.max_bytes:
            raise StagingError(f"{self.folder} holds more than the {self.max_bytes:,} bytes allowed")


def _copy_file(source: str, target: str, budget: _Budget) -> bool:
    """Copy one regular file, counting its bytes as they are read; False if it is not a regular file."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(source, flags)
    except OSError:  # a symlink swapped in since the scan, or unreadable
        return False
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        with open(target, "xb") as dst:
            while chunk := src.read(CHUNK):
                budget.add_bytes(len(chunk))
                dst.write(chunk)
    return True


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def copy_folder(source: Path, target: Path, max_bytes: int, max_files: int) -> list[str]:
    """Copy the regular files and folders under ``source`` into a new ``target``, within the caps.

    Returns the entries skipped (symlinks, special files, unreadable files), relative to ``source``.
    """
    budget = _Budget(source.name, max_bytes, max_files)
    skipped: list[str] = []

    def walk(src: Path, dst: Path, relative: str) -> None:
        dst.mkdir()
        with os.scandir(src) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        for entry in listing:
            name = f"{relative}{entry.name}"
            if _ignored(entry.name):
                continue
            budget.add_file()
            if entry.is_symlink():
                skipped.append(f"{name} (a symlink)")
            elif entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), dst / entry.name, f"{name}/")
            elif not entry.is_file(follow_symlinks=False):
                skipped.append(f"{name} (not a regular file)")
            elif not _copy_file(entry.path, str(dst / entry.name), budget):
                skipped.append(f"{name} (not a readable regular file)")

    walk(source, target, "")
    return skipped


def _require_regular(path: Path, kind: str, is_kind: Callable[[int], bool]) -> None:
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        raise StagingError(f"{path.name} cannot be read: {exc.strerror}") from exc
    if stat.S_ISLNK(mode):
        raise StagingError(f"{path.name} is a symlink, not a regular {kind}; it is not graded")
    if not is_kind(mode):
        raise StagingError(f"{path.name} is not a regular {kind}; it is not graded")


def stage(submission: Path, released: Path, workdir: Path, copy_bytes: int, copy_files: int,
          max_cells: int = 1_000) -> Staged:
    """Copy the assignment folder of ``submission`` into ``workdir`` and restore its locked cells; a notebook of
    more than ``max_cells`` cells is refused (papermill saves the whole notebook after each cell)."""
    folder = submission.parent
    _require_regular(folder, "folder", stat.S_ISDIR)
    _require_regular(submission, "file", stat.S_ISREG)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.parent.mkdir(parents=True, exist_ok=True)
    skipped = copy_folder(folder, workdir, copy_bytes, copy_files)
    target = workdir / submission.name
    if not target.is_file() or target.is_symlink():
        raise StagingError(f"{submission.name} could not be staged as a regular file")
    notebook = read_notebook(target)
    if len(notebook.cells) > max_cells:
        raise StagingError(f"{submission.name} has {len(notebook.cells):,} cells; the limit is {max_cells:,} "
                           "(notebook_cells)")
    truth = read_notebook(released)
    restored, notes = restore_locked_cells(notebook, truth)
    restored.cells = without_grade_cells(restored.cells)
    if not any(PARAMETERS_TAG in c.get("metadata", {}).get("tags", []) for c in restored.cells):
        raise StagingError("the released notebook has no cell tagged 'parameters'")
    nbformat.write(restored, target)
    return Staged(workdir, target, notes, skipped)
