"""Score artifacts and notebook variants directly (no kernel), for tests of single checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import rubric as rubrics
from autograder.pipeline.score import score


def scored(assignment: str, artifacts: Optional[Path] = None, notebook: Optional[Path] = None,
           checks: Optional[Sequence[str]] = None, limits: Optional[dict[str, Any]] = None
           ) -> dict[str, tuple[str, str, float]]:
    """``{check id: (status, message, points)}`` of the smoke profile's checks (or ``checks``)."""
    rubric = rubrics.find(assignment)
    results = score(rubric, "smoke", artifacts or notebook.parent / "none", notebook,
                    os.environ.get("CNN_COURSE_DATA"), checks,
                    limits=rubric.profiles["smoke"].limits.replace(limits or {}))
    return {r.id: (r.status, r.message, r.points) for r in results}
