"""Check functions: each takes a scoring context and its rubric arguments and
returns an :class:`Outcome`. Checks never run student code; they read the
artifacts a notebook wrote and recompute every fact they grade.

A check is registered by name with :func:`check`; rubrics refer to that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class Outcome:
    passed: bool
    message: str
    value: Optional[float] = None  # the measured figure (an accuracy, ...), for calibration
    fraction: Optional[float] = None  # partial credit in [0, 1]; default: all or nothing


class MissingArtifact(FileNotFoundError):
    """A file the check needs was not written by the notebook."""


class ArtifactError(ValueError):
    """An artifact exists but cannot be read (corrupt, too large, wrong format)."""


class CheckTimeout(TimeoutError):
    """The student's code, run by a check, did not finish in time."""


CheckFunction = Callable[..., Outcome]
CHECKS: dict[str, CheckFunction] = {}


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under ``name``."""

    def register(function: CheckFunction) -> CheckFunction:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = function
        return function

    return register


from autograder.checks import accuracy, artifacts, depth, pipelines, receptive_fields, structure, transfer  # noqa: E402,F401  (registers the checks)
