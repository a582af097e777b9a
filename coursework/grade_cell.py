"""``coursework.grade_cell(...)``: what an nbgrader grade cell calls while a student works.

The check runs in a separate process (``python -m autograder score``), never in
the student's kernel, and prints its verdict. It is a courtesy for the student:
the grade itself is always computed outside the notebook, by the pipeline,
whatever this function does or is replaced by.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


class CheckFailed(AssertionError):
    """A check that did not pass. IPython shows it as its one line, without a traceback through the grader."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for exceptions that print themselves
        return [f"{type(self).__name__}: {self}"]


def grade_cell(assignment: str, check_id: str, output_dir: os.PathLike | str, profile: str = "full") -> None:
    """Run one rubric check on the notebook's artifacts; print its verdict when it passes, raise
    :class:`CheckFailed` (an AssertionError, shown as one line) when it does not.

    The notebook is found in the working directory (nbgrader and Jupyter run a
    notebook from its own folder), for checks that read its definitions.
    """
    notebooks = sorted(Path.cwd().glob(f"{assignment}*.ipynb"))
    command = [sys.executable, "-m", "autograder", "score", str(output_dir), "--assignment", assignment,
               "--check", check_id, "--profile", profile]
    if notebooks:
        command += ["--notebook", str(notebooks[0])]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise CheckFailed(f"the grader could not run this check here: {last}")
    (result,) = json.loads(proc.stdout)
    message = f"[{result['status']}] {result['message']}"
    if result["status"] != "pass":
        raise CheckFailed(message)
    print(message)
