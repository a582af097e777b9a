"""Small contracts of the pipeline: thresholds as written, no orphaned scoring worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from autograder.checks.accuracy import validation_accuracy
from autograder.paths import ROOT


class Measured:
    """A scoring context reduced to the one figure this check asks for."""

    profile = "full"

    def __init__(self, accuracy: float):
        self._accuracy = accuracy

    def accuracy(self, *args, **kwargs) -> float:
        return self._accuracy

    def confusion(self, *args, **kwargs) -> list[list[int]]:
        right = round(1000 * self._accuracy)
        return [[right // 2, 500 - right // 2], [1000 - right - (500 - right // 2), right - right // 2]]


def test_thresholds_are_printed_exactly_as_the_rubric_holds_them():
    outcome = validation_accuracy(Measured(0.982), "mnist", min_accuracy=0.985)
    assert not outcome.passed and "below the 0.985 required" in outcome.message
    assert "0.98 " not in outcome.message


def test_the_scoring_worker_dies_with_the_grader():
    script = (
        "import sys\nfrom autograder.pipeline.score import ScoringPool\n"
        "pool = ScoringPool()\npool.warm_up()\n"
        "print(*[p.pid for p in pool._pool()._processes.values()], flush=True)\n"
        "import time\ntime.sleep(600)\n"
    )
    grader = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    worker = int(grader.stdout.readline().split()[0])
    os.kill(grader.pid, signal.SIGKILL)  # no chance to clean up, as with SIGKILL or a crash
    grader.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(f"/proc/{worker}"):
        time.sleep(0.2)
    state = open(f"/proc/{worker}/stat").read().rsplit(")", 1)[1].split()[0] if os.path.exists(f"/proc/{worker}") else "gone"
    assert state in ("gone", "Z", "X"), state


# --- which cell raised (issue 30) ------------------------------------------------------------------------------

def _error_notebook(path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Fill in PARAMS, a dict of the settings."),
        nbformat.v4.new_code_cell("# YOUR CODE HERE\ndef build():\n    raise NotImplementedError()"),
        nbformat.v4.new_markdown_cell("Now the grader builds it."),
        nbformat.v4.new_code_cell("x = 1\nmodel = build()"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_the_cell_that_raised_is_the_code_cell_of_the_innermost_frame_from_a_recorded_traceback(tmp_path):
    import json

    from autograder.pipeline.execute import raising_cells, traceback_counts

    cells = [{"cell_type": "markdown", "source": "An Exception was encountered at In [2]", "metadata": {}},
             {"cell_type": "markdown", "source": "Fill in PARAMS, a dict…", "metadata": {}},
             {"cell_type": "code", "source": "def build():\n    raise NotImplementedError()", "execution_count": 1},
             {"cell_type": "markdown", "source": "Execution using papermill encountered an exception", "metadata": {}},
             {"cell_type": "code", "source": "model = build()", "execution_count": 2}]
    executed = tmp_path / "executed.ipynb"
    executed.write_text(json.dumps({"cells": cells}))
    traceback = ["\x1b[0;31mNotImplementedError\x1b[0m  Traceback (most recent call last)",
                 "Cell \x1b[0;32mIn[2], line 1\x1b[0m\n\x1b[0;32m----> 1\x1b[0m model \x1b[38;5;241m=\x1b[39m build()",
                 "Cell \x1b[0;32mIn[1], line 2\x1b[0m, in \x1b[0;36mbuild\x1b[0;34m()\x1b[0m"]
    assert traceback_counts(traceback) == [2, 1]
    assert raising_cells(executed, 2, traceback) == (
        "the cell starting `def build():` (In [1] on the feedback page)",
        "the cell starting `model = build()` (In [2] on the feedback page)")
    assert raising_cells(executed, 2, traceback[:2]) == (
        "the cell starting `model = build()` (In [2] on the feedback page)", "")


@pytest.mark.notebooks
def test_an_unsolved_notebook_names_the_code_cell_that_raised(tmp_path):
    from autograder.pipeline.execute import execute
    from autograder.rubric import default_limits

    notebook = _error_notebook(tmp_path / "nb.ipynb")
    done = execute(notebook, tmp_path / "executed.ipynb", {}, tmp_path, default_limits()["smoke"])
    assert done.message.startswith("the cell starting `def build():` (In [1] on the feedback page) raised "
                                   "NotImplementedError"), done.message
    assert "(called from the cell starting `x = 1` (In [2] on the feedback page))" in done.message
    assert "Fill in PARAMS" not in done.message
