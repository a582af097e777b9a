"""One submission through the four stages: stage -> execute -> score -> report.

Each stage returns its own results; this module only chains them. A notebook
that is missing, unreadable, raises, loops, or kills its kernel gets its own
statuses; the others are graded all the same. A class run
(:mod:`autograder.classrun`) calls :func:`grade_notebook` once per job.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import rubric as rubrics
from autograder.errors import StagingError
from autograder.preflight import preflight
from autograder.grading import NOT_SUBMITTED, GradingSettings, NotebookGrade, chosen_rubrics, load_rubrics
from autograder.pipeline import report
from autograder.pipeline.execute import execute
from autograder.pipeline.fingerprint import EMPTY, FINGERPRINT_SUFFIX
from autograder.pipeline.score import ScoringPool
from autograder.pipeline.stage import stage
from autograder.progress import Progress
from autograder.results import unscored, Status
from autograder.sandbox import hand_over, sandbox_for, sweep
from autograder.student_data import student_view
from coursework.submit import HISTORIES


def grade_notebook(rubric: rubrics.Rubric, submission: Path, out: Path, workroot: Path, pool: ScoringPool,
                   settings: GradingSettings) -> NotebookGrade:
    """Grade one assignment of ``submission``; write its executed notebook and feedback page into ``out``."""
    profile = rubric.profiles[settings.profile]
    limits = settings.limits_for(rubric)
    notebook = submission / rubric.name / rubric.notebook
    if not os.path.lexists(notebook):  # a symlink or special file is refused by staging, with its reason
        return NotebookGrade(rubric, unscored(rubric.id, rubric.checks, Status.MISSING,
                                              f"{rubric.name}/{rubric.notebook} {NOT_SUBMITTED}"))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        staged = stage(notebook, settings.released_dir / rubric.name / rubric.notebook, workroot / rubric.name,
                       limits.copy_bytes, limits.copy_files, limits.notebook_cells)
    except StagingError as exc:
        return NotebookGrade(rubric, unscored(rubric.id, rubric.checks, Status.ERROR, str(exc)))
    artifacts = workroot / f"{rubric.name}-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    box = None
    view = student_view(settings.data_dir)  # the notebook's data: training splits only; scoring reads the test splits
    if settings.sandbox != "off":
        box = sandbox_for(limits, [staged.directory, artifacts], view, settings.job_slot())
        hand_over(staged.directory, artifacts, slot=box.slot)
    timings["stage_s"] = time.perf_counter() - t0

    parameters: dict[str, Any] = {
        "PROFILE": settings.profile, "EPOCHS": profile.epochs, "DATA_DIR": str(view), "SEED": settings.seed,
        "OUTPUT_DIR": str(artifacts), **profile.parameters,
    }
    executed = out / rubric.notebook
    run = execute(staged.notebook, executed, parameters, staged.directory, limits, box)
    timings["execute_s"] = run.wall_seconds
    timings["cells_s"] = run.cell_seconds

    t0 = time.perf_counter()
    scored = pool.score(rubric, settings.profile, artifacts, staged.notebook, settings.data_dir,
                        static_only=not run.ok, limits=limits, sandbox=box, seed=settings.seed,
                        shared=settings.shared.get(rubric.name))
    if not run.ok:
        scored += unscored(rubric.id, [s for s in rubric.checks if s.needs_execution], run.status, run.message)
        order = {s.id: i for i, s in enumerate(rubric.checks)}
        scored.sort(key=lambda r: order[r.id])
    results = [staged.result(rubric.id), *run.results(rubric.id), *scored]
    write_fingerprint(out / f"{rubric.name}{FINGERPRINT_SUFFIX}", pool, artifacts, settings.profile, limits)
    pool.notebook_done()  # no other student is scored in this process; the next one imports Keras meanwhile
    timings["score_s"] = time.perf_counter() - t0
    if box is not None:
        sweep(box.slot)  # whatever of the notebook outlived its sandbox (the slot's user is this grader's alone)

    t0 = time.perf_counter()
    if executed.exists():
        results += report.feedback_page(executed, results, rubric)
    timings["export_s"] = time.perf_counter() - t0
    return NotebookGrade(rubric, results, {k: round(v, 3) for k, v in timings.items()})



def write_fingerprint(path: Path, pool: ScoringPool, artifacts: Path, profile: str, limits: rubrics.Limits) -> None:
    """What a class's similarity report compares of this notebook's models and curves (read in ``pool``)."""
    saved = artifacts.is_dir() and any(p.suffix == ".keras" or p.name == HISTORIES for p in artifacts.iterdir())
    path.write_text(json.dumps(pool.fingerprint(artifacts, profile, limits) if saved else EMPTY))

def grade(submission: Path, out: Path = Path("grading"), assignments: Optional[Sequence[str]] = None,
          settings: GradingSettings = GradingSettings(), pool: Optional[ScoringPool] = None,
          available: Optional[Sequence[rubrics.Rubric]] = None,
          progress: Optional[Progress] = None) -> list[NotebookGrade]:
    """Grade every assignment (or those named) of ``submission`` and write the reports into ``out``.

    ``available``: the rubrics, loaded once before any student code runs (default: all of them, now).
    ``progress``: told as each notebook starts and finishes (default: nothing is printed).
    """
    submission, out = submission.resolve(), out.resolve()  # papermill runs notebooks from another directory
    available = load_rubrics() if available is None else available
    chosen = chosen_rubrics(available, submission, assignments)
    settings = preflight(chosen, settings)  # data, sandbox, rubrics: before any student code runs
    out.mkdir(parents=True, exist_ok=True)
    with (ScoringPool() if pool is None else contextlib.nullcontext(pool)) as scoring:
        scoring.warm_up()
        progress = progress or Progress()
        progress.start(len(chosen))
        with progress, tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
            notebooks = []
            for r in chosen:
                label = f"{r.id} {r.title}"
                progress.started(label)
                t0 = time.monotonic()
                notebooks.append(grade_notebook(r, submission, out, Path(tmp), scoring, settings))
                progress.finished(label, notebooks[-1].results, time.monotonic() - t0)
    report.write_reports(out, notebooks, {"submission": str(submission), "profile": settings.profile,
                                          "seed": settings.seed})
    return notebooks
