"""Lift a student's definitions out of a notebook without running it (``ast``).

Only what runs no student code at import is kept: imports, function
definitions (without decorators, and only when every default is a constant),
assignments of constants to plain names, and classes (a ``keras.utils.PyDataset``)
whose bases are plain names and whose bodies are lifted by the same rules (a
class body runs at import: only its docstring, imports, methods and constants
stay). Top-level calls and assignments into other objects are dropped.
Annotations are never evaluated. :mod:`autograder.studentcode.hidden_cases` runs
the result.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Optional

from autograder.studentcode.notebook import code_cells, parsed_cells

HEADER = "from __future__ import annotations  # lifted by the grader: annotations are not evaluated\n"


def _is_constant(value: Optional[ast.expr]) -> bool:
    """Literals, and dotted names such as ``tf.data.AUTOTUNE``: nothing that calls code."""
    if value is None:
        return True
    if isinstance(value, (ast.Name, ast.Attribute)):
        while isinstance(value, ast.Attribute):
            value = value.value
        return isinstance(value, ast.Name)
    try:
        ast.literal_eval(value)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def lifted(node: ast.stmt) -> Optional[str]:
    """The source to keep for one top-level statement, or None."""
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return None  # the header has the one that matters, and it must come first
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return ast.unparse(node)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if not all(_is_constant(d) for d in [*node.args.defaults, *node.args.kw_defaults]):
            return None
        node.decorator_list = []
        return ast.unparse(node)
    if isinstance(node, ast.ClassDef):
        return _lifted_class(node)
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        return ast.unparse(node) if _is_constant(node.value) else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return f"{node.target.id} = {ast.unparse(node.value)}" if _is_constant(node.value) else None
    return None


def _lifted_class(node: ast.ClassDef) -> Optional[str]:
    """A class without decorators, with plain-name bases, and only liftable statements left in its body."""
    if node.decorator_list or not all(_is_constant(b) for b in [*node.bases, *(k.value for k in node.keywords)]):
        return None
    docstring = node.body[:1] if ast.get_docstring(node) is not None else []
    kept = [ast.parse(text).body[0] for text in filter(None, (lifted(statement) for statement in node.body))]
    node.body = [*docstring, *kept] or [ast.Pass()]
    return ast.unparse(node)


def student_definitions(notebook: Path) -> str:
    """The notebook's imports, definitions and constants, in order, as one module's source."""
    kept: list[str] = []
    for tree in parsed_cells(code_cells(notebook)):
        kept += filter(None, (lifted(node) for node in tree.body))
    return HEADER + "\n\n".join(kept) + "\n"
