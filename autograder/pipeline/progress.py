"""What a grader run shows while it works: rich's live display on a terminal, plain lines in a CI log.

For a class: notebooks done, running and failed, the time spent and the time
left. For one submission: which notebook runs and for how long.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import IO, Any, Iterator, Optional

from autograder.results import CheckResult


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


@contextmanager
def notebook_running(name: str, stream: IO[str] = sys.stderr, live: Optional[bool] = None) -> Iterator[None]:
    """Show that ``name`` runs, with a clock, until the block ends; a plain line before and after in a log."""
    live = _interactive(stream) if live is None else live
    started = time.monotonic()
    if live:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn(f"{name}: running"), TimeElapsedColumn(),
                      console=Console(file=stream), transient=True) as progress:
            progress.add_task(name, total=None)
            yield
    else:
        print(f"{name}: running", file=stream, flush=True)
        yield
    print(f"{name}: done in {time.monotonic() - started:.1f} s", file=stream, flush=True)
