"""Build submission variants from the reference solutions, for grading tests."""

from __future__ import annotations

import ast
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional

import nbformat

from autograder.paths import ROOT

REFERENCE = ROOT / "reference_solutions"
RELEASED = ROOT / "assignments"
WARMUP = "00_warmup"  # the assignment most grading tests grade: quick to train


def cell(nb, grade_id: str):
    for c in nb.cells:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def reference_value(name: str, grade_id: str):
    """The value a reference's solution cell ``grade_id`` assigns, evaluated from its arithmetic (literals and
    operators only: the course's own cell)."""
    nb = nbformat.read(REFERENCE / name / f"{name}.ipynb", as_version=4)
    tree = ast.parse(cell(nb, grade_id).source)
    value = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign))
    return eval(compile(ast.Expression(value), "why", "eval"), {"__builtins__": {}})


def edited(target: Path, assignment: str, base: Path = REFERENCE, **sources: str) -> Path:
    """The notebook of a :func:`variant` whose cells (by grade_id) have the given sources."""

    def replace(nb) -> None:
        for grade_id, source in sources.items():
            cell(nb, grade_id).source = source

    folder = Path(tempfile.mkdtemp(prefix="edited-", dir=target))  # a test may edit several variants
    return variant(folder, assignment, replace, base) / assignment / f"{assignment}.ipynb"


def variant(target: Path, assignment: str, edit: Optional[Callable] = None, base: Path = REFERENCE) -> Path:
    """Copy ``assignment`` from ``base`` (the references, or RELEASED: nothing solved) into ``target``
    (a submission dir), then apply ``edit(nb)``."""
    shutil.copytree(base / assignment, target / assignment)
    path = target / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    if edit is not None:
        edit(nb)
        nbformat.write(nb, path)
    return target
