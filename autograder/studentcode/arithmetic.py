"""Whether a student wrote answers as arithmetic: the ``ast`` of the cell that assigns them, nothing executed."""

from __future__ import annotations

import ast
from typing import Optional, Sequence

from autograder.studentcode.notebook import parsed_cells


def dict_entries(cells: Sequence[str], variable: str) -> Optional[dict[str, ast.expr]]:
    """The expressions written for each key of ``variable`` (``NAME = {...}``, ``NAME = dict(...)`` and
    ``NAME["key"] = ...``) in the last cell that assigns it; None when no cell does it in one of these forms."""
    found: Optional[dict[str, ast.expr]] = None
    for tree in parsed_cells(cells):
        entries: Optional[dict[str, ast.expr]] = None
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == variable:
                    entries = _literal(node.value)
                elif (entries is not None and isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                      and target.value.id == variable and isinstance(target.slice, ast.Constant)):
                    entries[str(target.slice.value)] = node.value
        if entries is not None:
            found = entries
    return found


def plain_numbers(entries: dict[str, ast.expr], keys: Sequence[str]) -> list[str]:
    """The ``keys`` whose expression is a bare number (``156`` rather than ``(5 * 5 * 1 + 1) * 6``)."""
    def bare(node: ast.expr) -> bool:
        if isinstance(node, ast.UnaryOp):
            return bare(node.operand)
        return isinstance(node, ast.Constant) and isinstance(node.value, (int, float))

    return [k for k in keys if k in entries and bare(entries[k])]


def _literal(node: ast.expr) -> Optional[dict[str, ast.expr]]:
    if isinstance(node, ast.Dict):
        return {str(k.value): v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
    return None
