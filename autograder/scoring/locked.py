"""Networks a locked cell defines (06's base), built from the course's own copy of that cell.

The notebook saves such a network too, but a file the notebook wrote can be changed after ``submit`` (a learning
rate of 0, a frozen layer, another architecture). So the grader builds the network itself: it takes the build
function's source from the released notebook's locked cell (the grader's copy, ``autograder/released``), runs that
function alone (not the rest of the cell, which trains) with Keras in scope, and ignores the saved file.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from autograder.errors import RubricError


def locked_function(notebook: Path, cell_id: str, function: str) -> str:
    """The source of ``function`` as the locked cell ``cell_id`` of the released ``notebook`` defines it."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as exc:
        raise RubricError(f"the released notebook {notebook} cannot be read: {exc}") from exc
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") != cell_id:
            continue
        if not meta.get("locked"):
            raise RubricError(f"{notebook.name}: cell {cell_id!r} is not locked; only a locked cell defines a "
                              "network the grader builds for every student")
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name == function:
                return ast.get_source_segment(source, node) or ""
        raise RubricError(f"{notebook.name}: the locked cell {cell_id!r} defines no function {function}()")
    raise RubricError(f"{notebook.name} has no cell {cell_id!r}")


def build_locked(notebook: Path, cell_id: str, function: str, seed: int) -> Any:
    """A fresh network from the course's own definition, initialized under ``seed``."""
    import keras

    source = locked_function(notebook, cell_id, function)
    namespace: dict[str, Any] = {"keras": keras, "layers": keras.layers}
    exec(compile(source, f"{notebook.name}, cell {cell_id}", "exec"), namespace)  # the course's code, not a student's
    keras.utils.set_random_seed(seed)
    return namespace[function]()
