"""The one reader of a student's notebook for analysis: code cells as text, nothing executed."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable, Iterator, Optional

import nbformat

from autograder.errors import ArtifactError


def strip_magics(source: str) -> str:
    """``source`` with IPython magics (``%``) and shell escapes (``!``) blanked; line numbers are kept."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def parsed(source: str) -> Optional[ast.Module]:
    """``source``'s syntax tree, or None where it does not parse (such a cell defines and calls nothing)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: a null byte in the source
        return None


def parsed_cells(cells: Iterable[str]) -> Iterator[ast.Module]:
    """The syntax tree of each cell that parses, in order."""
    return (tree for tree in map(parsed, cells) if tree is not None)


def code_cells(path: Path) -> list[str]:
    """Every cell of the notebook in order: code cells as Python source (magics blanked), others as ""."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises many kinds for a damaged file
        raise ArtifactError(f"{Path(path).name} is not a readable notebook: {type(exc).__name__}: {exc}") from exc
    return [strip_magics(c.source) if c.cell_type == "code" else "" for c in nb.cells]
