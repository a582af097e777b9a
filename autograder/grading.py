"""What one grading run shares, whether it grades one submission or a class: its settings and its results.

A leaf below :mod:`autograder.pipeline` and :mod:`autograder.classrun`: both import these types, neither the other.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import rubric as rubrics
from autograder.defaults import TRY_PROFILE
from autograder.paths import RELEASED_DIR
from autograder.points import Score, score
from autograder.results import CheckResult, Status
from autograder.sandbox import SANDBOX_MODES, SandboxUnavailable, bwrap_problem, claim_slot


@dataclass(frozen=True)
class GradingSettings:
    """How to grade: one value passed down the pipeline."""

    profile: str = TRY_PROFILE
    data_dir: Optional[str] = None
    seed: int = 0
    released_dir: Path = RELEASED_DIR  # the released notebooks whose locked cells are the truth
    limits: dict[str, float] = field(default_factory=dict)  # overrides of the rubric's limits
    sandbox: str = "require"  # one of SANDBOX_MODES
    slot: Optional[int] = None  # the job slot (its sandbox user; None: claim one); no bearing on the grade
    # Figures of networks the grader trained once for the class (autograder.scoring.shared_base), per assignment
    # name: {baseline key: figures}; decided by the key's inputs, so no part of a job's key.
    shared: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def job_slot(self) -> int:
        """The slot to grade in: the one given, else one this process claims (no other grader's job shares it)."""
        return claim_slot() if self.slot is None else self.slot

    def limits_for(self, rubric: rubrics.Rubric) -> rubrics.Limits:
        return rubric.profiles[self.profile].limits.replace(self.limits)

    def resolved(self) -> "GradingSettings":
        """These settings with the sandbox mode settled for this machine: "require" or "off".

        Raises :class:`SandboxUnavailable` when a sandbox is required and none can start;
        with "prefer", says once on stderr that student code runs unsandboxed.
        """
        if self.sandbox not in SANDBOX_MODES:
            raise ValueError(f"sandbox must be one of {SANDBOX_MODES}, not {self.sandbox!r}")
        problem = bwrap_problem() if self.sandbox != "off" else None
        if problem is None:
            return self
        if self.sandbox == "require":
            raise SandboxUnavailable(f"{problem}. Student code is only run in a sandbox; "
                                     "`--no-sandbox` runs it without one, at your own risk.")
        print(f"warning: no sandbox ({problem}); your notebooks run unsandboxed", file=sys.stderr)
        return dataclasses.replace(self, sandbox="off")


NOT_SUBMITTED = "is not in the submission"  # how every check of a notebook never handed in ends


@dataclass
class NotebookGrade:
    """One graded notebook: its rubric, one result per check, and where the time went."""

    rubric: rubrics.Rubric
    results: list[CheckResult]
    timings: dict[str, float] = field(default_factory=dict)
    lateness: Any = None  # an autograder.classrun.lateness.Lateness, for a class run
    stale: bool = False  # a class run's stored result whose key no longer matches (not regraded by this run)
    retry: str = ""  # a class run's notebook whose last grading failed for the grader's reasons: why (retried)

    @property
    def submitted(self) -> bool:
        """Whether the student handed this notebook in (one not in the submission is graded 0, as missing)."""
        return not (self.results and all(r.status == Status.MISSING and r.message.endswith(NOT_SUBMITTED)
                                         for r in self.results))

    @property
    def score(self) -> Score:
        """Raw, possible, penalty and final points (:mod:`autograder.points`)."""
        return score(self.results, self.penalty_percent)

    @property
    def points(self) -> tuple[float, float]:
        """The raw points earned and the points possible."""
        return self.score.raw, self.score.possible

    @property
    def penalty_percent(self) -> float:
        return float(getattr(self.lateness, "penalty_percent", 0.0) or 0.0)

    @property
    def final_points(self) -> float:
        """The points after the late penalty."""
        return self.score.final


def load_rubrics() -> list[rubrics.Rubric]:
    """Every rubric, each naming only registered check functions: loaded once, before any student code runs."""
    from autograder import checks  # here: the light commands (job-key, actions) load no check's libraries

    return [checks.validated(r) for r in rubrics.all_rubrics().values()]


def chosen_rubrics(available: Sequence[rubrics.Rubric], submission: Path,
                   assignments: Optional[Sequence[str]]) -> list[rubrics.Rubric]:
    """The rubrics named, or those whose folder the submission has (all, if it has none)."""
    if assignments:
        named = {key: r for r in available for key in (r.id, r.name)}
        missing = [a for a in assignments if a not in named]
        if missing:
            raise rubrics.RubricError(f"no rubric for assignment {', '.join(missing)}")
        return [named[a] for a in assignments]
    return [r for r in available if (submission / r.name).is_dir()] or list(available)
