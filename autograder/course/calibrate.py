"""``make calibrate``: rerun the reference solutions and compare them with the rubric.

For every check that records a ``reference_*`` figure, print the thresholds,
the recorded figures and what the reference measures now, for several seeds;
with ``write=True`` the measured figures replace the recorded ones in the
rubric files (thresholds are never changed automatically).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from autograder import rubric as rubrics
from autograder.paths import REFERENCE_DIR
from autograder.pipeline.grade import GradingSettings, grade
from autograder.pipeline.score import ScoringPool


def measure(profile: str, seeds: Sequence[int], assignments: Optional[Sequence[str]] = None,
            data_dir: Optional[str] = None) -> dict[tuple[str, str], list[Optional[float]]]:
    """{(assignment, check): [value per seed]} from grading the reference solutions."""
    values: dict[tuple[str, str], list[Optional[float]]] = {}
    with ScoringPool() as pool, tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        for seed in seeds:
            notebooks = grade(REFERENCE_DIR, Path(tmp) / str(seed), assignments,
                              GradingSettings(profile, data_dir, seed), pool)
            for r in (r for nb in notebooks for r in nb.results):
                values.setdefault((r.assignment, r.id), []).append(r.value)
    return values


def table(profile: str, values: dict[tuple[str, str], list[Optional[float]]]) -> str:
    lines = [f"{'check':<28} {'threshold':<24} {'recorded':<28} measured ({profile})"]
    for rubric in rubrics.all_rubrics().values():
        for spec in rubric.checks:
            refs = spec.references(profile)
            if not refs:
                continue
            args = spec.args_for(profile)
            thresholds = ", ".join(f"{k}={v}" for k, v in args.items() if k.startswith(("min_", "max_")))
            measured = values.get((rubric.id, spec.id))
            shown = "not run" if measured is None else ", ".join("-" if v is None else f"{v:.4g}" for v in measured)
            recorded = ", ".join(map(str, refs.values()))
            lines.append(f"{rubric.id + ' ' + spec.id:<28} {thresholds:<24} {recorded:<28} {shown}")
    return "\n".join(lines)


def write(profile: str, values: dict[tuple[str, str], list[Optional[float]]]) -> list[Path]:
    """Replace each recorded ``reference_*`` figure with the measured ones (rounded to 4 places)."""
    changed = []
    for rubric in rubrics.all_rubrics().values():
        text = rubric.path.read_text()
        lines = text.splitlines(keepends=True)
        check_id = None
        for i, line in enumerate(lines):
            found = re.match(r'\s*id\s*=\s*"([^"]+)"', line)
            if found:
                check_id = found.group(1)
            measured = values.get((rubric.id, check_id or ""))
            if measured and line.lstrip().startswith(f"{profile} =") and "reference_" in line:
                figures = "[" + ", ".join("nan" if v is None else f"{v:.4f}" for v in measured) + "]"
                lines[i] = re.sub(r"(reference_\w+\s*=\s*)(\[[^\]]*\]|[^,}\s]+)", rf"\g<1>{figures}", line)
        new = "".join(lines)
        if new != text:
            rubric.path.write_text(new)
            changed.append(rubric.path)
    return changed
