"""The grader's vocabulary: one :class:`Status` and one :class:`CheckResult` per rubric check.

Every stage speaks it: staging reports tampering, execution a timeout or a dead
kernel, scoring pass or fail; the reports classify by :class:`Status` alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Optional, Sequence


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    TIMEOUT = "timeout"
    KERNEL_DIED = "kernel-died"
    MISSING = "missing-artifact"
    TAMPERED = "tampered"
    NOT_JUDGED = "not-judged"  # the check cannot judge in this profile (too little training): no points, no blame

    @property
    def is_error(self) -> bool:
        """Something broke (as opposed to a check that ran and said no)."""
        return self in (Status.ERROR, Status.TIMEOUT, Status.KERNEL_DIED)


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: its verdict, a message, and the figure it measured.

    ``passed`` is None when the check cannot judge in this profile (reported as not judged, no points).
    ``detail`` carries what the feedback page draws (a confusion matrix, a layer table), as plain JSON data.
    """

    passed: Optional[bool]
    message: str
    value: Optional[float] = None  # the measured figure (an accuracy, ...), for calibration
    fraction: Optional[float] = None  # partial credit in [0, 1]; default: all or nothing
    detail: Optional[dict[str, Any]] = None


@dataclass(frozen=True)
class CheckResult:
    assignment: str
    id: str
    description: str
    points: float
    max_points: float
    status: Status
    message: str
    value: Optional[float] = None
    detail: Optional[dict[str, Any]] = None  # for the feedback page (see Outcome)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


def points(results: Sequence[CheckResult]) -> tuple[float, float]:
    """The points earned and the points possible over ``results`` (:mod:`autograder.points`)."""
    from autograder.points import earned, possible

    return earned(results), possible(results)


def unscored(assignment: str, checks: Sequence[Any], status: Status, message: str) -> list[CheckResult]:
    """Zero-point results with one status and message for ``checks`` (rubric check specs)."""
    return [CheckResult(assignment, s.id, s.description, 0.0, getattr(s, "max_points", s.points), status, message)
            for s in checks]
