"""The orchestrator: stage -> execute -> score -> report, for one submission or a class.

Each stage returns its own results; this module only chains them. A notebook
that is missing, unreadable, raises, loops, or kills its kernel gets its own
statuses; the others are graded all the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import rubric as rubrics
from autograder.errors import StagingError
from autograder.paths import RELEASED_DIR
from autograder.pipeline import report
from autograder.pipeline.execute import execute
from autograder.pipeline.progress import Progress
from autograder.pipeline.resources import claim_slot
from autograder.pipeline.score import ScoringPool
from autograder.pipeline.stage import stage
from autograder.results import CheckResult, Status, unscored
from autograder.sandbox import SandboxUnavailable, bwrap_problem, hand_over, sandbox_for, sweep

SANDBOX_MODES = ("require", "prefer", "off")  # refuse to run without one; warn and go on; never use one


@dataclass(frozen=True)
class GradingSettings:
    """How to grade: one value passed down the pipeline."""

    profile: str = "smoke"
    data_dir: Optional[str] = None
    seed: int = 0
    released_dir: Path = RELEASED_DIR  # the released notebooks whose locked cells are the truth
    limits: dict[str, float] = field(default_factory=dict)  # overrides of the rubric's limits
    sandbox: str = "require"  # one of SANDBOX_MODES
    slot: Optional[int] = None  # the job slot (its sandbox user; None: claim one); no bearing on the grade

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


@dataclass
class NotebookGrade:
    rubric: rubrics.Rubric
    results: list[CheckResult]
    timings: dict[str, float] = field(default_factory=dict)
    lateness: Any = None  # an autograder.course.lateness.Lateness, for a class run


def grade_notebook(rubric: rubrics.Rubric, submission: Path, out: Path, workroot: Path, pool: ScoringPool,
                   settings: GradingSettings) -> NotebookGrade:
    """Grade one assignment of ``submission``; write its executed notebook and feedback page into ``out``."""
    profile = rubric.profiles[settings.profile]
    limits = settings.limits_for(rubric)
    notebook = submission / rubric.name / rubric.notebook
    if not os.path.lexists(notebook):  # a symlink or special file is refused by staging, with its reason
        return NotebookGrade(rubric, unscored(rubric.id, rubric.checks, Status.MISSING,
                                              f"{rubric.name}/{rubric.notebook} is not in the submission"))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        staged = stage(notebook, settings.released_dir / rubric.name / rubric.notebook, workroot / rubric.name,
                       limits.copy_bytes, limits.copy_files)
    except StagingError as exc:
        return NotebookGrade(rubric, unscored(rubric.id, rubric.checks, Status.ERROR, str(exc)))
    artifacts = workroot / f"{rubric.name}-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    box = None
    if settings.sandbox != "off":
        box = sandbox_for(limits, [staged.directory, artifacts], settings.data_dir, settings.job_slot())
        hand_over(staged.directory, artifacts, slot=box.slot)
    timings["stage_s"] = time.perf_counter() - t0

    parameters: dict[str, Any] = {
        "PROFILE": settings.profile, "EPOCHS": profile.epochs, "DATA_DIR": settings.data_dir, "SEED": settings.seed,
        "OUTPUT_DIR": str(artifacts), **profile.parameters,
    }
    executed = out / rubric.notebook
    run = execute(staged.notebook, executed, parameters, staged.directory, limits, box)
    timings["execute_s"] = run.wall_seconds
    timings["cells_s"] = run.cell_seconds

    t0 = time.perf_counter()
    scored = pool.score(rubric, settings.profile, artifacts, staged.notebook, settings.data_dir,
                        static_only=not run.ok, limits=limits, sandbox=box)
    if not run.ok:
        scored += unscored(rubric.id, [s for s in rubric.checks if s.needs_execution], run.status, run.message)
        order = {s.id: i for i, s in enumerate(rubric.checks)}
        scored.sort(key=lambda r: order[r.id])
    results = [staged.result(rubric.id), *run.results(rubric.id), *scored]
    timings["score_s"] = time.perf_counter() - t0
    if box is not None:
        sweep(box.slot)  # whatever of the notebook outlived its sandbox (the slot's user is this grader's alone)

    t0 = time.perf_counter()
    if executed.exists():
        results += report.feedback_page(executed, results, rubric)
    timings["export_s"] = time.perf_counter() - t0
    return NotebookGrade(rubric, results, {k: round(v, 3) for k, v in timings.items()})


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


def grade(submission: Path, out: Path = Path("grading"), assignments: Optional[Sequence[str]] = None,
          settings: GradingSettings = GradingSettings(), pool: Optional[ScoringPool] = None,
          available: Optional[Sequence[rubrics.Rubric]] = None,
          progress: Optional[Progress] = None) -> list[NotebookGrade]:
    """Grade every assignment (or those named) of ``submission`` and write the reports into ``out``.

    ``available``: the rubrics, loaded once before any student code runs (default: all of them, now).
    ``progress``: told as each notebook starts and finishes (default: nothing is printed).
    """
    submission, out = submission.resolve(), out.resolve()  # papermill runs notebooks from another directory
    available = list(rubrics.all_rubrics().values()) if available is None else available
    chosen = chosen_rubrics(available, submission, assignments)
    settings = settings.resolved()
    out.mkdir(parents=True, exist_ok=True)
    with (ScoringPool() if pool is None else contextlib.nullcontext(pool)) as scoring:
        scoring.warm_up()
        with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
            progress = progress or Progress()
            notebooks = []
            for index, r in enumerate(chosen, 1):
                progress.started(r, index, len(chosen))
                notebooks.append(grade_notebook(r, submission, out, Path(tmp), scoring, settings))
                progress.finished(notebooks[-1], index, len(chosen))
    report.write_reports(out, notebooks, {"submission": str(submission), "profile": settings.profile,
                                          "seed": settings.seed})
    return notebooks


def grade_class(class_dir: Path, out: Path = Path("grading"), assignments: Optional[Sequence[str]] = None,
                settings: GradingSettings = GradingSettings(), jobs: Optional[int] = None, executor: str = "local",
                address: Optional[str] = None, students: Optional[Sequence[str]] = None,
                course_config: Optional[Path] = None, live: Optional[bool] = None) -> dict[str, list[NotebookGrade]]:
    """Grade every student folder of ``class_dir`` (nbgrader's ``submitted/`` layout), one job per notebook.

    ``jobs`` notebooks run at once (default: one per GPU, else what the cores and memory allow) on ``executor``
    ("local" processes, or "ray" at ``address``). Each finished notebook is stored at once under
    ``out/STUDENT/``; a notebook whose stored result has the same key (submission, grader version, profile,
    seed) is skipped; ``students`` regrades only those. ``grades.csv``, ``gradebook.csv`` and the class
    report always hold every notebook finished so far, also after an interruption.
    """
    from autograder.course.lateness import due_dates, lateness
    from autograder.errors import AutograderError
    from autograder.pipeline import class_report, jobs as joblib
    from autograder.pipeline.executors import EXECUTORS, run_local, run_ray
    from autograder.pipeline.progress import ClassProgress
    from autograder.pipeline.resources import default_jobs, visible_gpus

    if executor not in EXECUTORS:
        raise AutograderError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    class_dir, out = class_dir.resolve(), out.resolve()
    everyone = sorted(p.name for p in class_dir.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    unknown = sorted(set(students or ()) - set(everyone))
    if unknown:
        raise AutograderError(f"no submission folder in {class_dir} for {', '.join(unknown)}")
    available = list(rubrics.all_rubrics().values())  # once, before any student code runs
    settings = settings.resolved()
    due = due_dates(course_config)
    plan = [(s, r) for s in everyone for r in chosen_rubrics(available, class_dir / s, assignments)]
    keys = {(s, r.name): joblib.job_key(class_dir / s, r.name, settings) for s, r in plan}
    finished = _stored(out, plan, keys)  # (student, assignment) -> NotebookGrade, current ones only
    if students:
        chosen = [(s, r) for s, r in plan if s in students]
    else:
        chosen = [(s, r) for s, r in plan if (s, r.name) not in finished]
    todo = [joblib.Job(s, r.name, str(class_dir / s), keys[s, r.name]) for s, r in chosen]
    unchanged = 0 if students else len(finished)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(jobs or default_jobs(), len(todo)))
    meta = {"profile": settings.profile, "seed": settings.seed}

    def in_order(students_of: Sequence[str] = everyone) -> dict[str, list[NotebookGrade]]:
        """The finished notebooks (of ``students_of``) per student, in the plan's order, with their lateness."""
        graded: dict[str, list[NotebookGrade]] = {}
        for s, r in plan:
            if s in students_of and (s, r.name) in finished:
                nb = finished[s, r.name]
                nb.lateness = lateness(class_dir / s / r.name, due.get(r.name, due.get(r.id)))
                graded.setdefault(s, []).append(nb)
        return graded

    def write_tables() -> dict[str, list[NotebookGrade]]:
        graded = in_order()
        report.write_grades_csv(out / "grades.csv", graded)
        class_report.write_gradebook(out / "gradebook.csv", graded, [r.name for r in available])
        return graded

    try:
        with ClassProgress(len(todo), workers, live=live) as shown:
            if unchanged:
                shown.say(f"{unchanged} notebook(s) unchanged since their stored results: skipped")
            if not todo:
                stream = (done for done in ())  # a generator, closed like the others
            elif executor == "local":
                stream = run_local(todo, settings, workers, visible_gpus())
            else:
                stream = run_ray(todo, settings, address, num_cpus=jobs)
            with contextlib.closing(stream):
                for job, done in stream:
                    if isinstance(done, BaseException):  # the grader failed, not the student: retried next run
                        shown.say(f"{job.student} {job.assignment}: the job failed: {type(done).__name__}: {done}")
                        continue
                    if done["grader"] != joblib.grader_version():
                        raise AutograderError(f"a worker runs grader {done['grader']}, this machine "
                                              f"{joblib.grader_version()}: install the same grader everywhere")
                    joblib.store_result(out, done)
                    rubric = next(r for s, r in plan if s == job.student and r.name == job.assignment)
                    finished[job.student, job.assignment] = NotebookGrade(rubric, joblib.results_of(done),
                                                                          done["timings"])
                    report.write_reports(out / job.student, in_order([job.student]).get(job.student, []),
                                         {"submission": job.submission, **meta})
                    write_tables()
                    shown.finished(job.student, job.assignment, joblib.results_of(done), joblib.seconds(done))
    finally:
        graded = write_tables()
        class_report.write_class_report(out, graded)
    return graded


def _stored(out: Path, plan: Sequence[tuple[str, rubrics.Rubric]],
            keys: dict[tuple[str, str], str]) -> dict[tuple[str, str], NotebookGrade]:
    """The notebooks of ``plan`` whose stored result is current."""
    from autograder.pipeline.jobs import load_result, results_of

    found = {}
    for student, rubric in plan:
        stored = load_result(out, student, rubric.name)
        if stored is not None and stored.get("key") == keys[student, rubric.name]:
            found[student, rubric.name] = NotebookGrade(rubric, results_of(stored), stored["timings"])
    return found
