"""Progress while grading: which notebook runs, for how long, and a result line as each finishes.

:func:`autograder.pipeline.grade.grade` calls a :class:`Progress` (default: none, silent) before and after
each notebook; :class:`TerminalProgress` prints to a stream, with a ticking elapsed time on a terminal.
:class:`ClassProgress` follows a class run: rich's live display on a terminal (notebooks done, running and
failed, time spent and left), a plain line per finished notebook in a CI log.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any, Optional

from autograder.results import CheckResult

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


def _interactive(stream: IO[str]) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def summary(results: list[CheckResult]) -> str:
    points = sum(r.points for r in results)
    maximum = sum(r.max_points for r in results)
    broken = sorted({str(r.status) for r in results if r.status.is_error})
    return f"{points:g} / {maximum:g}" + (f" ({', '.join(broken)})" if broken else "")


class ClassProgress:
    """Progress of a class run; ``finished`` is called once per notebook, in the order they finish."""

    def __init__(self, total: int, workers: int, stream: IO[str] = sys.stderr, live: Optional[bool] = None):
        self.total, self.workers, self.stream = total, workers, stream
        self.done = self.failed = 0
        self.started = time.monotonic()
        self.live = _interactive(stream) if live is None else live
        self._progress: Any = None

    def __enter__(self) -> "ClassProgress":
        if self.live and self.total:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[state]}"), TimeElapsedColumn(),
                                      TextColumn("left"), TimeRemainingColumn(),
                                      console=Console(file=self.stream), transient=False)
            self._progress.start()
            self._task = self._progress.add_task("class", total=self.total, state=self._state())
        return self

    def _state(self) -> str:
        running = min(self.workers, self.total - self.done)
        return f"{self.done} done, {running} running, {self.failed} failed"

    def finished(self, student: str, assignment: str, results: list[CheckResult], seconds: float) -> None:
        self.done += 1
        self.failed += any(r.status.is_error for r in results)
        line = f"[{self.done}/{self.total}] {student} {assignment}: {summary(results)} in {seconds:.1f} s"
        if self._progress is not None:
            self._progress.console.print(line, highlight=False)
            self._progress.update(self._task, advance=1, state=self._state())
        else:
            print(line, file=self.stream, flush=True)

    def say(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
