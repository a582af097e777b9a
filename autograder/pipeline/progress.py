"""Progress while grading: which notebook runs, for how long, and a result line as each finishes.

:func:`autograder.pipeline.grade.grade` calls a :class:`Progress` (default: none, silent) before and after
each notebook; :class:`TerminalProgress` prints to a stream, with a ticking elapsed time on a terminal.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from autograder.pipeline.grade import NotebookGrade
    from autograder.rubric import Rubric


class Progress:
    """The hooks :func:`grade` calls; this base class does nothing."""

    def started(self, rubric: "Rubric", index: int, count: int) -> None:
        pass

    def finished(self, graded: "NotebookGrade", index: int, count: int) -> None:
        pass


class TerminalProgress(Progress):
    """``[2/7] 03 LeNet-5 ... 41 s`` while a notebook runs, then its score and statuses on one line."""

    def __init__(self, stream: Optional[IO[str]] = None, tick: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.tick = tick
        self.begun = time.monotonic()
        self._stop: Optional[threading.Event] = None
        self._thread: Optional[threading.Thread] = None

    def _live(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def started(self, rubric: "Rubric", index: int, count: int) -> None:
        self.t0 = time.monotonic()
        self.head = f"[{index}/{count}] {rubric.id} {rubric.title}"
        if not self._live():
            print(f"{self.head}: running", file=self.stream, flush=True)
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ticker, args=(self._stop,), daemon=True)
        self._thread.start()

    def _ticker(self, stop: threading.Event) -> None:
        while not stop.wait(self.tick):
            print(f"\r{self.head}: running, {time.monotonic() - self.t0:4.0f} s", end="", file=self.stream,
                  flush=True)

    def finished(self, graded: "NotebookGrade", index: int, count: int) -> None:
        if self._stop is not None and self._thread is not None:
            self._stop.set()
            self._thread.join()
            print("\r\033[K", end="", file=self.stream)
        points = sum(r.points for r in graded.results)
        most = sum(r.max_points for r in graded.results)
        counts: dict[str, int] = {}
        for r in graded.results:
            counts[str(r.status)] = counts.get(str(r.status), 0) + 1
        statuses = ", ".join(f"{n} {s}" for s, n in counts.items())
        print(f"{self.head}: {points:g} / {most:g} points ({statuses}) in {time.monotonic() - self.t0:.0f} s; "
              f"{time.monotonic() - self.begun:.0f} s so far", file=self.stream, flush=True)
