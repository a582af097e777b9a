"""Points: the one home of raw points, points possible, rounding, the late penalty, final points and totals.

Every output that shows a score (``results.json``, ``summary.md``, the feedback page, the lines ``batch``
prints, ``grades.csv``, ``gradebook.csv``, the class report, the regrade log, the LMS exports and the nbgrader
route's late penalty) reads it from here, so that none can disagree with another.

- **Raw points**: the sum of a notebook's check points; **points possible**: the sum of their maxima.
- **Penalty**: ``penalty_percent`` of the raw points (the late policy, :mod:`autograder.classrun.lateness`).
- **Final points**: raw points less the penalty. A total sums raw, possible and penalty over notebooks.
- **Awaiting review**: the points possible of written answers no person has graded yet (a result whose
  ``detail["review"]["state"]`` is ``"awaiting"``). They are in the points possible and not in the raw points
  (nothing is earned before a person reads the answer), and every score says them in words:
  ``10 / 11 (1 point awaiting review)``.

Every figure is rounded to :data:`DECIMALS` places, once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

DECIMALS = 3


def rounded(value: float) -> float:
    """``value`` to :data:`DECIMALS` places (every figure shown or stored)."""
    return round(float(value), DECIMALS)


def shown(value: float) -> str:
    """A figure as people read it: ``7.2``, ``8``."""
    return f"{rounded(value):g}"


def counted(value: float) -> str:
    """``1 point``, ``0.8 points``: a figure with its word, right for 1."""
    return f"{shown(value)} point{'' if rounded(value) == 1 else 's'}"


def earned(results: Iterable[Any]) -> float:
    """The raw points of ``results`` (anything with ``points``)."""
    return rounded(sum(r.points for r in results))


def possible(results: Iterable[Any]) -> float:
    """The points possible of ``results`` (anything with ``max_points``)."""
    return rounded(sum(r.max_points for r in results))


def awaiting_review(results: Iterable[Any]) -> float:
    """The points possible of ``results`` that wait for a person to read a written answer."""
    return rounded(sum(r.max_points - r.points for r in results if is_awaiting(getattr(r, "detail", None))))


def is_awaiting(detail: Any) -> bool:
    """Whether a result's ``detail`` says its written answer waits for a person's points."""
    review = detail.get("review") if isinstance(detail, dict) else None
    return isinstance(review, dict) and review.get("state") == "awaiting"


def penalty_points(raw: float, percent: float) -> float:
    """The points a late penalty of ``percent`` takes off ``raw`` points."""
    return rounded(raw * percent / 100) if percent else 0.0


def final_points(raw: float, penalty: float) -> float:
    """``raw`` points less a late ``penalty`` in points (never below 0): the final points."""
    return max(0.0, rounded(raw - penalty))


def after_penalty(raw: float, percent: float) -> float:
    """``raw`` points less a late penalty of ``percent``: the final points."""
    return final_points(raw, penalty_points(raw, percent))


@dataclass(frozen=True)
class Score:
    """One notebook's points (or a total's): raw, possible, the penalty in points and in percent, final."""

    raw: float
    possible: float
    penalty: float = 0.0  # points off for lateness
    penalty_percent: float = 0.0  # of one notebook; 0 for a total
    pending: float = 0.0  # points possible awaiting a person's review (not in ``raw``)

    @property
    def final(self) -> float:
        return final_points(self.raw, self.penalty)

    def describe(self) -> str:
        """``7.2 / 12`` (final points over points possible), ``10 / 11 (1 point awaiting review)``."""
        waiting = f" ({counted(self.pending)} awaiting review)" if self.pending else ""
        return f"{shown(self.final)} / {shown(self.possible)}{waiting}"


def score(results: Iterable[Any], penalty_percent: float = 0.0) -> Score:
    """The score of one notebook's ``results`` with a late penalty of ``penalty_percent``."""
    rows = list(results)
    raw = earned(rows)
    return Score(raw, possible(rows), penalty_points(raw, penalty_percent), float(penalty_percent or 0.0),
                 awaiting_review(rows))


def total(scores: Iterable[Score]) -> Score:
    """The sum of ``scores`` (a student's notebooks): raw, possible and penalty points added up."""
    items = list(scores)
    return Score(rounded(sum(s.raw for s in items)), rounded(sum(s.possible for s in items)),
                 rounded(sum(s.penalty for s in items)), pending=rounded(sum(s.pending for s in items)))


def sum_final(values: Iterable[float]) -> float:
    """The total of final points already computed (a gradebook row, an export row)."""
    return rounded(sum(values))
