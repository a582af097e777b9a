"""Check functions: each takes a scoring context and its rubric arguments and
returns an :class:`Outcome`. Checks never run student code; they read the
artifacts a notebook wrote and recompute every fact they grade.

A check is registered by name with :func:`check`; rubrics refer to that name.
"""

from __future__ import annotations

from typing import Callable

from autograder.errors import ArtifactError, CheckTimeout, MissingArtifact, RubricError
from autograder.results import Outcome
from autograder.rubric import Rubric

__all__ = ["CHECKS", "ArtifactError", "CheckTimeout", "MissingArtifact", "Outcome", "check", "validated"]


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


def validated(rubric: Rubric) -> Rubric:
    """``rubric``, once every check it names is a registered function."""
    for spec in rubric.checks:
        if spec.function not in CHECKS:
            raise RubricError(f"{rubric.path.name}: check {spec.id!r} names unknown function {spec.function!r}")
    return rubric


from autograder.checks import accuracy, artifacts, depth, layer_annotations, data_pipelines, structure, transfer  # noqa: E402,F401  (registers the checks)
