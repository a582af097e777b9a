"""Check functions: each takes a scoring context and its rubric arguments and
returns an :class:`Outcome`. Checks never run student code; they read the
artifacts a notebook wrote and recompute every fact they grade.

A check is registered by name with :func:`check`; rubrics refer to that name.
"""

from __future__ import annotations

from typing import Callable

from autograder.errors import ArtifactError, CheckTimeout, MissingArtifact
from autograder.results import Outcome

__all__ = ["CHECKS", "ArtifactError", "CheckTimeout", "MissingArtifact", "Outcome", "check"]


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


from autograder.checks import accuracy, artifacts, depth, layer_annotations, pipelines, structure, transfer  # noqa: E402,F401  (registers the checks)
