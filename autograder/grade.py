"""Grade a submission: stage -> execute -> score -> report, one notebook at a time.

A notebook that is missing, unreadable, raises, loops, or kills its kernel
gets its own statuses; the others are graded all the same.
"""

from __future__ import annotations

import csv
import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import report, rubric as rubrics
from autograder.execute import OK, execute
from autograder.scoring import ERROR, MISSING, PASS, TAMPERED, CheckResult, ScoringPool, unscored
from autograder.stage import StagingError, stage

ROOT = Path(__file__).resolve().parent.parent
RELEASED_DIR = ROOT / "assignments"


@dataclass
class NotebookGrade:
    rubric: rubrics.Rubric
    results: list[CheckResult]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class GradeRun:
    profile: str
    out: Path
    notebooks: list[NotebookGrade]

    @property
    def results(self) -> list[CheckResult]:
        return [r for nb in self.notebooks for r in nb.results]


def grade_notebook(
    rubric: rubrics.Rubric,
    submission: Path,
    profile_name: str,
    out: Path,
    workroot: Path,
    pool: ScoringPool,
    data_dir: Optional[str],
    seed: int,
    released_dir: Path = RELEASED_DIR,
    limits: Optional[dict[str, float]] = None,
) -> NotebookGrade:
    profile = dataclasses.replace(rubric.profiles[profile_name], **(limits or {}))
    notebook = submission / rubric.name / rubric.notebook
    if not notebook.is_file():
        return NotebookGrade(rubric, unscored(rubric, MISSING, f"{rubric.name}/{rubric.notebook} is not in the submission"))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        staged = stage(notebook, released_dir / rubric.name / rubric.notebook, workroot / rubric.name)
    except StagingError as exc:
        return NotebookGrade(rubric, unscored(rubric, ERROR, str(exc)))
    integrity = CheckResult(
        rubric.id, "locked_cells", "Locked and grade cells are as released", 0.0, 0.0,
        TAMPERED if staged.tampering else PASS,
        "; ".join(staged.tampering) + " (graded with the released cells)" if staged.tampering
        else "every locked cell is as released",
    )
    artifacts = workroot / f"{rubric.name}-artifacts"
    timings["stage_s"] = time.perf_counter() - t0

    parameters: dict[str, Any] = {
        "PROFILE": profile_name, "EPOCHS": profile.epochs, "DATA_DIR": data_dir, "SEED": seed,
        "OUTPUT_DIR": str(artifacts), **profile.parameters,
    }
    executed = out / rubric.notebook
    run = execute(staged.notebook, executed, parameters, staged.directory, profile.cell_timeout,
                  profile.notebook_timeout, profile.output_limit)
    timings["execute_s"] = run.wall_seconds
    timings["cells_s"] = run.cell_seconds

    t0 = time.perf_counter()
    if run.status == OK:
        results = pool.score(rubric, profile_name, artifacts, staged.notebook, data_dir)
    else:
        static = pool.score(rubric, profile_name, artifacts, staged.notebook, data_dir, static_only=True)
        results = static + unscored(rubric, run.status, run.message, [s for s in rubric.checks if s.needs_execution])
        order = {s.id: i for i, s in enumerate(rubric.checks)}
        results.sort(key=lambda r: order[r.id])
    if run.output_truncated:
        results = [CheckResult(rubric.id, "output_size", "Cell output stays within the limit", 0.0, 0.0, "fail",
                               f"output beyond {profile.output_limit:,} bytes was dropped")] + results
    results = [integrity, *results]
    timings["score_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if executed.exists():
        try:
            report.feedback_html(executed, executed.with_suffix(".html"), results, f"{rubric.id} {rubric.title}")
        except Exception as exc:  # feedback is a courtesy; the grade stands without it
            results.append(CheckResult(rubric.id, "feedback", "Feedback page", 0.0, 0.0, "error",
                                       f"could not render feedback HTML: {exc}"))
    timings["export_s"] = time.perf_counter() - t0
    return NotebookGrade(rubric, results, {k: round(v, 3) for k, v in timings.items()})


def grade(
    submission: Path,
    assignments: Optional[Sequence[str]] = None,
    profile: str = "smoke",
    out: Path = Path("grading"),
    data_dir: Optional[str] = None,
    seed: int = 0,
    released_dir: Path = RELEASED_DIR,
    pool: Optional[ScoringPool] = None,
    limits: Optional[dict[str, float]] = None,
) -> GradeRun:
    """Grade every assignment (or those named) of ``submission`` and write the reports into ``out``."""
    submission, out = submission.resolve(), out.resolve()  # papermill runs notebooks from another directory
    available = rubrics.all_rubrics()
    chosen = [rubrics.find(a) for a in assignments] if assignments else list(available.values())
    if assignments is None:
        chosen = [r for r in chosen if (submission / r.name).is_dir()] or chosen
    out.mkdir(parents=True, exist_ok=True)
    own_pool = pool is None
    pool = pool or ScoringPool()
    pool.warm_up()
    notebooks = []
    try:
        with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
            for rubric in chosen:
                notebooks.append(grade_notebook(rubric, submission, profile, out, Path(tmp), pool, data_dir, seed,
                                                released_dir, limits))
    finally:
        if own_pool:
            pool.close()
    run = GradeRun(profile, out, notebooks)
    titles = {nb.rubric.id: nb.rubric.title for nb in notebooks}
    meta = {"submission": str(submission), "profile": profile, "seed": seed,
            "timings": {nb.rubric.id: nb.timings for nb in notebooks}}
    report.write_json(out / "results.json", run.results, meta)
    report.write_summary(out / "summary.md", report.markdown(run.results, titles, profile))
    report.write_junit(out / "junit.xml", run.results)
    return run


def grade_class(
    class_dir: Path,
    assignments: Optional[Sequence[str]] = None,
    profile: str = "smoke",
    out: Path = Path("grading"),
    data_dir: Optional[str] = None,
    seed: int = 0,
    limits: Optional[dict[str, float]] = None,
) -> dict[str, GradeRun]:
    """Grade every student folder of ``class_dir`` (nbgrader's ``submitted/`` layout) with one scoring process.

    Writes ``out/STUDENT/`` per student and ``out/grades.csv`` for the class.
    """
    students = sorted(p.name for p in class_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    pool = ScoringPool()
    runs = {}
    try:
        for student in students:
            runs[student] = grade(class_dir / student, assignments, profile, out / student, data_dir, seed,
                                  pool=pool, limits=limits)
    finally:
        pool.close()
    with open(out / "grades.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "points", "max_points", "statuses"])
        for student, run in runs.items():
            for nb in run.notebooks:
                statuses = sorted({r.status for r in nb.results})
                writer.writerow([student, nb.rubric.name, round(sum(r.points for r in nb.results), 3),
                                 round(sum(r.max_points for r in nb.results), 3), " ".join(statuses)])
    return runs
