"""A class run: every student's notebooks as jobs on an executor, results stored as they finish.

``batch`` calls :func:`grade_class`. It plans the jobs (students x assignments), skips those whose stored
result is current, runs the rest on an executor (:data:`~autograder.classrun.executors.EXECUTORS`), and
after every finished notebook rewrites the student's reports, ``grades.csv`` and ``gradebook.csv``; the
class report is written at the end, also after an interruption.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import similarity
from autograder.classrun import class_report, regrade, store
from autograder.classrun.executors import EXECUTORS
from autograder.classrun.jobs import Job
from autograder.classrun.lateness import CourseConfig, Lateness, apply_policy, lateness, read_config
from autograder.classrun.resources import default_jobs
from autograder.course.collect import workflow_record
from autograder.errors import AutograderError
from autograder.grading import GradingSettings, NotebookGrade, chosen_rubrics, load_rubrics
from autograder.preflight import preflight
from autograder.pipeline import report
from autograder.progress import Progress, display
from autograder.rubric import Rubric


@dataclass
class ClassRun:
    """The plan of a class run and what is finished so far."""

    class_dir: Path
    out: Path
    settings: GradingSettings
    everyone: list[str]
    available: list[Rubric]
    plan: list[tuple[str, Rubric]]  # (student, rubric), in report order
    keys: dict[tuple[str, str], str]
    course: CourseConfig
    late: dict[tuple[str, str], Lateness] = field(default_factory=dict)  # the policy applied, per notebook
    workflow: dict[str, str] = field(default_factory=dict)  # collect's record: unchanged, changed, missing
    changes: list[regrade.Change] = field(default_factory=list)  # this run's regrades that moved a score
    finished: dict[tuple[str, str], NotebookGrade] = field(default_factory=dict)

    def in_order(self, students: Optional[Sequence[str]] = None) -> dict[str, list[NotebookGrade]]:
        """The finished notebooks (of ``students``, default all) per student, in plan order, with lateness."""
        graded: dict[str, list[NotebookGrade]] = {}
        for s, r in self.plan:
            if (students is None or s in students) and (s, r.name) in self.finished:
                nb = self.finished[s, r.name]
                nb.lateness = self.late.get((s, r.name))
                graded.setdefault(s, []).append(nb)
        return graded

    def write_tables(self) -> dict[str, list[NotebookGrade]]:
        graded = self.in_order()
        report.write_grades_csv(self.out / "grades.csv", graded)
        class_report.write_gradebook(self.out / "gradebook.csv", graded, [r.name for r in self.available],
                                     self.workflow)
        return graded

    def record(self, job: Job, done: dict[str, Any]) -> Optional[regrade.Change]:
        """Store a finished job and rewrite its student's reports and the class tables; what moved against the
        result it replaces, if anything (also logged in ``regrade.csv``)."""
        if done["grader"] != store.grader_version():
            raise AutograderError(f"a worker runs grader {done['grader']}, this machine "
                                  f"{store.grader_version()}: install the same grader everywhere")
        change = regrade.compare(store.load_result(self.out, job.student, job.assignment), done)
        store.store_result(self.out, done)
        if change is not None:
            self.changes.append(change)
            regrade.append_log(self.out, [change])
        rubric = next(r for s, r in self.plan if s == job.student and r.name == job.assignment)
        self.finished[job.student, job.assignment] = NotebookGrade(rubric, store.results_of(done), done["timings"])
        meta = {"submission": job.submission, "profile": self.settings.profile, "seed": self.settings.seed}
        report.write_reports(self.out / job.student, self.in_order([job.student]).get(job.student, []), meta)
        self.write_tables()
        return change


def plan_class(class_dir: Path, out: Path, assignments: Optional[Sequence[str]], settings: GradingSettings,
               students: Optional[Sequence[str]], course_config: Optional[Path]) -> ClassRun:
    """Every (student, assignment) of ``class_dir``, with its key and its stored result where current."""
    everyone = sorted(p.name for p in class_dir.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    unknown = sorted(set(students or ()) - set(everyone))
    if unknown:
        raise AutograderError(f"no submission folder in {class_dir} for {', '.join(unknown)}")
    available = load_rubrics()  # once, before any student code runs
    plan = [(s, r) for s in everyone for r in chosen_rubrics(available, class_dir / s, assignments)]
    settings = preflight(list({r.name: r for _, r in plan}.values()), settings)  # before any notebook runs
    keys = {(s, r.name): store.job_key(class_dir / s, r.name, settings) for s, r in plan}
    run = ClassRun(class_dir, out, settings, everyone, available, plan, keys, read_config(course_config))
    run.late = late_notebooks(class_dir, plan, run.course)
    run.workflow = workflow_record(class_dir)
    run.finished = store.stored(out, plan, keys)
    return run


def late_notebooks(class_dir: Path, plan: Sequence[tuple[str, Rubric]], course: CourseConfig
                   ) -> dict[tuple[str, str], Lateness]:
    """Every planned notebook's lateness with the late policy applied per student (grace days over the course)."""
    per_student: dict[str, dict[str, Lateness]] = {}
    due_of = {}
    for s, r in plan:
        due = course.due.get(r.name, course.due.get(r.id))
        due_of[r.name] = due
        per_student.setdefault(s, {})[r.name] = lateness(class_dir / s / r.name, due)
    due = {a: d for a, d in due_of.items() if d is not None}
    return {(s, a): late for s, notebooks in per_student.items()
            for a, late in apply_policy(course.policy, notebooks, due).items()}


def grade_class(class_dir: Path, out: Path = Path("grading"), assignments: Optional[Sequence[str]] = None,
                settings: GradingSettings = GradingSettings(), jobs: Optional[int] = None, executor: str = "local",
                address: Optional[str] = None, students: Optional[Sequence[str]] = None,
                course_config: Optional[Path] = None, progress: Optional[Progress] = None,
                ) -> dict[str, list[NotebookGrade]]:
    """Grade every student folder of ``class_dir`` (nbgrader's ``submitted/`` layout), one job per notebook.

    ``jobs`` notebooks run at once (default: one per GPU, else what the cores and memory allow) on ``executor``
    ("local" processes, or "ray" at ``address``). Each finished notebook is stored at once under
    ``out/STUDENT/``; a notebook whose stored result has the same key is skipped; ``students`` regrades only
    those. ``grades.csv``, ``gradebook.csv`` and the class report always hold every notebook finished so far.
    ``progress``: the display (default: live on a terminal, plain lines otherwise).
    """
    if executor not in EXECUTORS:
        raise AutograderError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    class_dir, out = class_dir.resolve(), out.resolve()
    run = plan_class(class_dir, out, assignments, settings, students, course_config)
    settings = run.settings
    if students:
        todo = [(s, r) for s, r in run.plan if s in students]
    else:
        todo = [(s, r) for s, r in run.plan if (s, r.name) not in run.finished]
    queue = [Job(s, r.name, str(class_dir / s), run.keys[s, r.name]) for s, r in todo]
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or display()
    progress.start(len(queue), max(1, min(jobs or default_jobs(), len(queue))))
    try:
        with progress:
            if run.finished and not students:
                progress.say(f"{len(run.finished)} notebook(s) unchanged since their stored results: skipped")
            if queue:
                with contextlib.closing(EXECUTORS[executor](queue, settings, jobs, address)) as results:
                    for job, done in results:
                        if isinstance(done, BaseException):  # the grader failed, not the student: retried next run
                            progress.say(f"{job.student} {job.assignment}: the job failed: "
                                         f"{type(done).__name__}: {done}")
                            continue
                        change = run.record(job, done)
                        progress.finished(f"{job.student} {job.assignment}", store.results_of(done),
                                          store.seconds(done))
                        if change is not None:
                            progress.say(f"regraded {change.describe()}")
    finally:
        graded = run.write_tables()
        class_report.write_class_report(out, graded, run.workflow, regrade.report_lines(run.changes))
    similarity.write(out, settings.released_dir, [r.name for _, r in run.plan])  # evidence for a person; no grade
    return graded
