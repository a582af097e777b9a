"""Run a student's functions on the grader's hidden cases, in a process of their own.

Some checks must call what the student wrote (a generator, a data pipeline)
on inputs the student never saw. The student's kernel is not trusted, so the
grader lifts the definitions out of the staged notebook without running it
(``ast``): imports, functions, classes and constant assignments, never
top-level calls. They are written to a module and exercised by a harness of
the grader's (:mod:`autograder.harnesses`) in a fresh Python process with the
kernel's scrubbed environment, a temporary working directory and a timeout.
Only JSON comes back.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from autograder.checks import ArtifactError, CheckTimeout, MissingArtifact


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
    nb = nbformat.read(notebook, as_version=4)
    kept: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # a cell that does not parse cannot define anything
        kept += [ast.get_source_segment(source, node) or ast.unparse(node) for node in tree.body if _keep(node)]
    return "\n\n".join(kept) + "\n"


def run_harness(notebook: Path, harness: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Facts a harness gathered by calling the student's definitions; raises on crash or timeout."""
    from autograder.execute import kernel_environment

    if notebook is None or not Path(notebook).is_file():
        raise MissingArtifact("the staged notebook is not available to this check")
    with tempfile.TemporaryDirectory(prefix="sandbox-") as tmp:
        defs = Path(tmp) / "student_definitions.py"
        defs.write_text(student_definitions(Path(notebook)))
        command = [sys.executable, "-m", "autograder.harnesses", harness, str(defs), json.dumps(args)]
        try:
            proc = subprocess.run(command, cwd=tmp, env=kernel_environment(), capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CheckTimeout(f"your code ran past the {timeout:.0f} s this check allows") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = [line for line in proc.stderr.splitlines() if line.strip()][-3:]
        raise ArtifactError("running your definitions failed: " + (" | ".join(tail) or f"exit code {proc.returncode}"))
    return json.loads(lines[-1])
