"""Small contracts of the pipeline: thresholds as written, no orphaned scoring worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from autograder.checks.accuracy import validation_accuracy
from tests.conftest import ROOT


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
