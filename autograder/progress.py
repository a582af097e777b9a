"""Progress while grading, one interface for ``grade``, ``make check`` and ``batch``.

A :class:`Progress` is told the number of notebooks, then each notebook's start and end, in the order they
happen (several may run at once in a class run). Displays, by name in :data:`DISPLAYS`:

- ``none``: silent (the default of the library functions);
- ``lines``: one plain line as a notebook starts and as it ends, for CI logs and pipes;
- ``live``: rich's live display on a terminal (notebooks done, running and failed, time spent and left),
  with the same end-of-notebook lines above it.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Optional, Sequence

from autograder.inert import terminal_safe
from autograder.results import CheckResult, points


def summary(results: Sequence[CheckResult]) -> str:
    """``3 / 4 points (3 pass, 1 fail)``."""
    counts: dict[str, int] = {}
    for r in results:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    earned, most = points(results)
    return f"{earned:g} / {most:g} points ({', '.join(f'{n} {s}' for s, n in counts.items())})"


class Progress:
    """The hooks a grading run calls; this base class shows nothing."""

    def __init__(self, stream: Optional[IO[str]] = None) -> None:
        self.stream = stream or sys.stderr
        self.total = self.workers = self.begun = self.done = self.failed = 0
        self.t0 = time.monotonic()

    def start(self, total: int, workers: int = 1) -> None:
        self.total, self.workers = total, workers

    def started(self, label: str) -> None:
        self.begun += 1

    def finished(self, label: str, results: Sequence[CheckResult], seconds: float) -> None:
        self.done += 1
        self.failed += any(r.status.is_error for r in results)

    def say(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def line(self, label: str, results: Sequence[CheckResult], seconds: float) -> str:
        return f"[{self.done}/{self.total}] {terminal_safe(label)}: {summary(results)} in {seconds:.0f} s"

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LineProgress(Progress):
    """``[2/7] 03 LeNet-5: running``, then ``[2/7] 03 LeNet-5: 8 / 8 points (5 pass) in 41 s``."""

    def started(self, label: str) -> None:
        super().started(label)
        if self.workers <= 1:  # in parallel, start lines would only interleave with the end lines
            self.say(f"[{self.begun}/{self.total}] {terminal_safe(label)}: running")

    def finished(self, label: str, results: Sequence[CheckResult], seconds: float) -> None:
        super().finished(label, results, seconds)
        self.say(self.line(label, results, seconds))

    def say(self, text: str) -> None:
        print(terminal_safe(text, keep_newlines=True), file=self.stream, flush=True)


class LiveProgress(LineProgress):
    """rich's live display: a bar with done / running / failed, time spent and left; end lines above it."""

    _bar: Any = None

    def start(self, total: int, workers: int = 1) -> None:
        super().start(total, workers)
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._bar = Bar(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[state]}"),
                        TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                        console=Console(file=self.stream), transient=False)
        self._bar.start()
        self._task = self._bar.add_task("class", total=total, state=self._state(""))

    def _state(self, label: str) -> str:
        running = min(self.workers, self.total - self.done)
        from rich.markup import escape

        now = f": {escape(terminal_safe(label))}" if self.workers <= 1 and label else ""
        return f"{self.done} done, {running} running, {self.failed} failed{now}"

    def started(self, label: str) -> None:
        self.begun += 1
        if self._bar is not None:
            self._bar.update(self._task, state=self._state(label))

    def finished(self, label: str, results: Sequence[CheckResult], seconds: float) -> None:
        Progress.finished(self, label, results, seconds)
        self.say(self.line(label, results, seconds))
        if self._bar is not None:
            self._bar.update(self._task, advance=1, state=self._state(""))

    def say(self, text: str) -> None:
        if self._bar is None:
            super().say(text)
        else:
            self._bar.console.print(terminal_safe(text, keep_newlines=True), highlight=False, markup=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


DISPLAYS: dict[str, type[Progress]] = {"none": Progress, "lines": LineProgress, "live": LiveProgress}


def display(stream: IO[str] = sys.stderr, live: Optional[bool] = None) -> Progress:
    """The display for ``stream``: live on a terminal (or where ``live`` says so), plain lines otherwise."""
    if live is None:
        live = bool(getattr(stream, "isatty", lambda: False)())
    return DISPLAYS["live" if live else "lines"](stream)
