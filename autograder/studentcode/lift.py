"""Lift a student's definitions out of a notebook without running it (``ast``).

Imports, functions, classes and constant assignments are kept, never
top-level calls; :mod:`autograder.studentcode.harness` runs the result.
"""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.studentcode.notebook import code_cells


def _keep(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return _is_constant(node.value)
    return False


def _is_constant(value: ast.expr) -> bool:
    """Literals, and dotted names such as ``tf.data.AUTOTUNE``: nothing that calls code."""
    if isinstance(value, (ast.Name, ast.Attribute)):
        while isinstance(value, ast.Attribute):
            value = value.value
        return isinstance(value, ast.Name)
    try:
        ast.literal_eval(value)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def student_definitions(notebook: Path) -> str:
    """The notebook's imports, definitions and constants, in order, as one module's source."""
    kept: list[str] = []
    for source in code_cells(notebook):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # a cell that does not parse cannot define anything
        kept += [ast.get_source_segment(source, node) or ast.unparse(node) for node in tree.body if _keep(node)]
    return "\n\n".join(kept) + "\n"
