"""Release: source/ -> assignments/ (nbgrader) and reference_solutions/ (completed notebooks).

``assignments/NN/NN.ipynb`` is what ``nbgrader generate_assignment`` makes of
``source/NN/NN.ipynb``; ``.released/NN/NN.ipynb`` is a pristine copy of it, which
students do not edit: the locked cells that staging restores from, so that a
student's ``make check`` of ``assignments/`` runs the released cells, as the GPU runner does. ``reference_solutions/NN/NN.ipynb`` is that released
notebook with every solution cell filled in from the source: exactly what a
student who solved everything would hand in, so the reference is itself a
gradable submission, and the solutions exist once (in ``source/``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import nbformat

from autograder.errors import ReleaseError
from autograder.paths import ROOT

_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
_HIDDEN = re.compile(r"^\s*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\s*$\n?", re.S | re.M)


def solution_text(source: str) -> str:
    """A source cell's text with nbgrader's solution markers and hidden tests removed."""
    source = _HIDDEN.sub("", source)
    return "\n".join(line for line in source.splitlines() if not _MARKER.match(line))


def reference_notebook(released: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: solution_text(c.source)
        for c in source.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    completed = nbformat.from_dict(released)
    for cell in completed.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in solutions:
            cell.source = solutions[gid]
    return completed


def nbgrader_environment(**extra: str) -> dict[str, str]:
    """This environment with the virtual environment's bin/ first on PATH (nbgrader runs `alembic` from it)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def assignment_names(root: Path = ROOT) -> list[str]:
    return sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and not p.name.startswith("."))


def generate(names: Optional[Sequence[str]] = None, root: Path = ROOT, out: Optional[Path] = None) -> Path:
    """Release ``names`` (default: all) into ``out`` (default: ``root``): assignments/ and reference_solutions/."""
    out = out or root
    names = list(names or assignment_names(root))
    env = nbgrader_environment()
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        course = Path(tmp)
        shutil.copy(root / "nbgrader_config.py", course)
        shutil.copytree(root / "source", course / "source")
        for name in names:
            proc = subprocess.run(
                [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force"],
                cwd=course, env=env, capture_output=True, text=True,
            )
            released = course / "assignments" / name
            if proc.returncode != 0 or not released.is_dir():
                raise ReleaseError(f"nbgrader generate_assignment {name} failed:\n{proc.stderr[-3000:]}")
            target = out / "assignments" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(released, target)
            pristine = out / ".released" / name
            if pristine.exists():
                shutil.rmtree(pristine)
            pristine.mkdir(parents=True)
            for notebook in released.glob("*.ipynb"):
                shutil.copy(notebook, pristine / notebook.name)
            reference_dir = out / "reference_solutions" / name
            if reference_dir.exists():
                shutil.rmtree(reference_dir)
            shutil.copytree(released, reference_dir)  # the same layout, helper files included
            for notebook in released.glob("*.ipynb"):
                completed = reference_notebook(
                    nbformat.read(notebook, as_version=4),
                    nbformat.read(root / "source" / name / notebook.name, as_version=4),
                )
                nbformat.write(completed, reference_dir / notebook.name)
    return out
