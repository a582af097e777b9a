"""A class run: every student's notebooks as jobs on an executor, results stored as they finish.

``batch`` calls :func:`grade_class`. It plans the jobs (students x assignments), skips those whose stored
result is current, runs the rest on an executor (:data:`~autograder.classrun.executors.EXECUTORS`), and
after every finished notebook rewrites the student's reports, ``grades.csv`` and ``gradebook.csv``; the
class report is written at the end, also after an interruption.

The tables are always written from the whole store: every result stored in the output folder, whatever this
run's ``students`` and ``assignments`` (a partial run changes its own rows only). A stored result this run did
not regrade and whose key no longer matches (a rubric edited since, a new submission, other settings) is kept
and marked ``stale``; one that no longer has a submission folder or a rubric, too. No stored grade is dropped.

A failure of the grader's own machinery is never a grade: :func:`grader_failure` says which failures are, the
notebook is recorded to retry (``NN_name.retry.json``, the result stored before kept), named on stderr, graded
again by the next run, and ``batch`` exits 1 while any is left.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import similarity
from autograder.classrun import class_report, regrade, reviews, shared, store
from autograder.classrun.collected import workflow_record
from autograder.classrun.executors import EXECUTORS
from autograder.classrun.jobs import Job
from autograder.classrun.lateness import CourseConfig, Lateness, apply_policy, lateness, read_config
from autograder.classrun.resources import default_jobs
from autograder.errors import AutograderError
from autograder.grading import GradingSettings, NotebookGrade, chosen_rubrics, load_rubrics
from autograder.preflight import preflight
from autograder.pipeline import report
from autograder.pipeline.execute import KERNEL_START
from autograder.progress import Progress, display
from autograder.results import Status
from autograder.rubric import Rubric

NAMED = 10  # how many notebooks a line on stderr names before "and N more"


def grader_failure(done: Any) -> Optional[str]:
    """Why a finished job is a failure of the grader's own machinery, to retry, or None when it is a grade.

    The rule, conservative: a notebook is the student's once the student's code can have run. So a job is the
    grader's failure, and retried, only when

    - it raised instead of returning a result: the worker process was lost (killed, out of memory: the local
      pool's ``BrokenProcessPool``, a Ray worker that died), the grader's own code crashed, or the worker lacked
      what the preflight checks (a data set, pretrained weights, the sandbox: :func:`autograder.classrun.jobs.run_job`
      runs it on the worker before anything else);
    - or its results hold execution's ``kernel_start`` row: the notebook's kernel never answered (its sandbox or
      kernel could not be launched, or did not answer within the start-up time), so no cell ran.

    Everything after the kernel answered is final and the student's: a cell that raises, a timeout, a kernel
    that dies or is killed at a limit, a missing or unreadable artifact, a check that errs on what the notebook
    saved, and the scoring process dying on an artifact (it is capped at the student's own memory limit so that
    a hostile artifact kills it). ``batch --retry-errors`` reruns those deliberately.
    """
    if isinstance(done, BaseException):
        return f"{type(done).__name__}: {done}".rstrip(": ")
    for row in done.get("results", ()):
        if row.get("id") == KERNEL_START and row.get("status") == str(Status.ERROR) and not row.get("max_points"):
            return str(row.get("message") or "the notebook's kernel did not start")
    return None


def _named(pairs: Sequence[tuple[str, str]]) -> str:
    shown = ", ".join(f"{s} {a}" for s, a in pairs[:NAMED])
    return shown + (f" and {len(pairs) - NAMED} more" if len(pairs) > NAMED else "")


def stand_in(name: str) -> Rubric:
    """A rubric for a stored result whose assignment the rubrics in use no longer hold: its rows are shown as
    stored."""
    return Rubric(id=name.split("_", 1)[0], name=name, title=name, notebook=f"{name}.ipynb", profiles={},
                  checks=(), path=Path(name))


@dataclass
class ClassRun:
    """The plan of a class run, and every notebook of the grading folder: stored, or finished by this run."""

    class_dir: Path
    out: Path
    settings: GradingSettings
    everyone: list[str]
    available: list[Rubric]
    plan: list[tuple[str, Rubric]]  # (student, rubric) this run may grade, in report order
    keys: dict[tuple[str, str], str]
    course: CourseConfig
    late: dict[tuple[str, str], Lateness] = field(default_factory=dict)  # the policy applied, per notebook
    workflow: dict[str, str] = field(default_factory=dict)  # collect's record: unchanged, changed, missing
    changes: list[regrade.Change] = field(default_factory=list)  # this run's regrades that moved a score
    notebooks: dict[tuple[str, str], NotebookGrade] = field(default_factory=dict)  # every one the tables show
    current: set[tuple[str, str]] = field(default_factory=set)  # stored results this run need not grade again
    stale: set[tuple[str, str]] = field(default_factory=set)  # stored results keyed otherwise, not regraded yet
    retry: dict[tuple[str, str], str] = field(default_factory=dict)  # the grader failed on them: why
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # stored results that cannot be read
    reviews: dict[reviews.Key, reviews.Review] = field(default_factory=dict)  # the instructor's review sheets

    def rubric_of(self, assignment: str) -> Rubric:
        return next((r for r in self.available if r.name == assignment), None) or stand_in(assignment)

    def order(self) -> list[str]:
        """The assignments in report order: the rubrics', then those only stored results name."""
        known = [r.name for r in self.available]
        return known + sorted({a for _, a in self.notebooks} - set(known))

    def in_order(self, students: Optional[Sequence[str]] = None) -> dict[str, list[NotebookGrade]]:
        """Every notebook of the grading folder (of ``students``, default all) per student, in report order,
        with its lateness and whether it is stale or to retry."""
        rank = {a: i for i, a in enumerate(self.order())}
        graded: dict[str, list[NotebookGrade]] = {}
        for s, a in sorted(self.notebooks, key=lambda pair: (pair[0], rank[pair[1]])):
            if students is None or s in students:
                nb = self.notebooks[s, a]
                nb.lateness = self.late.get((s, a))
                nb.stale = (s, a) in self.stale
                nb.retry = self.retry.get((s, a), "")
                graded.setdefault(s, []).append(nb)
        return graded

    def has_errors(self, student: str, assignment: str) -> bool:
        nb = self.notebooks.get((student, assignment))
        return nb is not None and any(r.status.is_error for r in nb.results)

    def write_tables(self) -> dict[str, list[NotebookGrade]]:
        graded = self.in_order()
        report.write_grades_csv(self.out / "grades.csv", graded)
        class_report.write_gradebook(self.out / "gradebook.csv", graded, self.order(), self.workflow)
        return graded

    def record(self, job: Job, done: dict[str, Any]) -> Optional[regrade.Change]:
        """Store a finished job and rewrite its student's reports and the class tables; what moved against the
        result it replaces, if anything (also logged in ``regrade.csv``)."""
        if done["grader"] != store.grader_version():
            raise AutograderError(f"a worker runs grader {done['grader']}, this machine "
                                  f"{store.grader_version()}: install the same grader everywhere")
        change = regrade.compare(store.load_result(self.out, job.student, job.assignment), done)
        store.store_result(self.out, done)  # and the record to retry it, if any, goes
        if change is not None:
            self.changes.append(change)
            regrade.append_log(self.out, [change])
        pair = (job.student, job.assignment)
        self.notebooks[pair] = NotebookGrade(self.rubric_of(job.assignment), reviews.merged(
            job.student, job.assignment, store.results_of(done), self.reviews), done["timings"])
        self.retry.pop(pair, None)
        self.stale.discard(pair)
        self.current.add(pair)
        meta = {"submission": job.submission, "profile": self.settings.profile, "seed": self.settings.seed}
        mine = self.in_order([job.student]).get(job.student, [])
        report.write_reports(self.out / job.student, mine, meta)
        self.show_lateness(job.student, self.notebooks[pair])
        self.write_tables()
        return change

    def show_lateness(self, student: str, nb: NotebookGrade) -> None:
        """Render a late notebook's feedback page again, here where the late policy is known, so that the student
        reads the raw points, days late, grace days, penalty and final points (the worker knew none of them); and
        one with an answer graded by the instructor, with those points (:mod:`.reviews`)."""
        report.late_feedback_page(self.out / student, nb, reviews.reviewed(nb.results))

    def show_reviews(self) -> None:
        """Rewrite the reports and feedback page of every stored notebook the review sheets changed since its page
        was written, so that the student reads the instructor's points."""
        for student, notebooks in self.in_order().items():
            changed = [nb for nb in notebooks if reviews.newer_than_page(self.out, student, nb)]
            if not changed:
                continue
            meta = {"submission": str(self.class_dir / student), "profile": self.settings.profile,
                    "seed": self.settings.seed}
            report.write_reports(self.out / student, notebooks, meta)
            for nb in changed:
                self.show_lateness(student, nb)

    def record_failure(self, job: Job, reason: str) -> None:
        """The grader failed on ``job``: record it to retry (the result stored before, if any, stays) and rewrite
        the class tables, where it is flagged ``retry``."""
        store.store_retry(self.out, job.student, job.assignment, job.key, reason)
        pair = (job.student, job.assignment)
        self.retry[pair] = reason
        self.current.discard(pair)
        self.notebooks.setdefault(pair, NotebookGrade(self.rubric_of(job.assignment), []))
        self.write_tables()


def plan_class(class_dir: Path, out: Path, assignments: Optional[Sequence[str]], settings: GradingSettings,
               students: Optional[Sequence[str]], course_config: Optional[Path]) -> ClassRun:
    """Every (student, assignment) of ``class_dir``, with its key; and every notebook stored in ``out``, current,
    stale or to retry."""
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
    load_store(run)
    run.reviews = reviews.read_sheets(out, run.notebooks)  # refused before any notebook runs
    reviews.merge_all(run.notebooks, run.reviews)
    shown = {(s, a): run.rubric_of(a) for s, a in run.notebooks} | {(s, r.name): r for s, r in plan}
    run.late = late_notebooks(class_dir, [(s, r) for (s, _), r in shown.items()], run.course)
    run.workflow = workflow_record(class_dir)
    return run


def load_store(run: ClassRun) -> None:
    """Every notebook stored in ``run.out``: its result (current for this run, or stale) and its retry record."""
    names = {r.name for r in run.available}
    for student, assignment in store.stored_notebooks(run.out):
        pair = (student, assignment)
        result = store.load_result(run.out, student, assignment)
        retry = store.load_retry(run.out, student, assignment)
        if retry is not None:
            run.retry[pair] = str(retry.get("reason", "")) or "the grader failed"
        if result is None:
            if store.result_path(run.out, student, assignment).exists():
                run.unreadable.append(pair)
            if retry is None:
                continue
            run.notebooks[pair] = NotebookGrade(run.rubric_of(assignment), [])
            continue
        try:
            run.notebooks[pair] = NotebookGrade(run.rubric_of(assignment), store.results_of(result),
                                                result.get("timings", {}))
        except (KeyError, TypeError, ValueError):  # not a result this grader wrote
            run.unreadable.append(pair)
            continue
        key = run.keys.get(pair)
        if key is None and assignment in names and (run.class_dir / student).is_dir():
            key = store.job_key(run.class_dir / student, assignment, run.settings)  # outside this run's selection
        if key is not None and result.get("key") == key:
            if retry is None:
                run.current.add(pair)
        else:
            run.stale.add(pair)


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


def _say_plan(progress: Progress, run: ClassRun, skipped: int, retried: Sequence[tuple[str, str]]) -> None:
    """What this run will not grade, and what it grades again."""
    if run.unreadable:
        progress.say(f"unreadable stored result(s), left as they are: {_named(run.unreadable)}")
    if skipped:
        progress.say(f"{skipped} notebook(s) unchanged since their stored results: skipped")
    if retried:
        progress.say(f"{len(retried)} notebook(s) the grader failed on before: graded again")


def _record(run: ClassRun, progress: Progress, job: Job, done: Any) -> None:
    """Store one finished job, or, where the grader failed (not the student), record it to retry next run."""
    reason = grader_failure(done)
    if reason is not None:
        run.record_failure(job, reason)
        progress.say(f"{job.student} {job.assignment}: not graded, the grader failed (not the student): {reason}; "
                     "to be retried")
        return
    change = run.record(job, done)
    progress.finished(f"{job.student} {job.assignment}", store.results_of(done), store.seconds(done))
    if change is not None:
        progress.say(f"regraded {change.describe()}")


def _say_left(progress: Progress, run: ClassRun) -> None:
    """The stored notebooks this run left stale, and those left to retry."""
    stale = sorted(run.stale)
    if stale:
        progress.say(f"{len(stale)} stored notebook(s) were not regraded by this run and were graded with "
                     f"other inputs (rubric, grader, submission or settings): kept and marked stale in "
                     f"grades.csv and gradebook.csv: {_named(stale)}")
    pending = sorted(run.retry)
    if pending:
        progress.say(f"{len(pending)} notebook(s) could not be graded: the grader's own machinery failed, "
                     "no grade was stored for them, and they are retried by the next run: "
                     + "; ".join(f"{s} {a}: {run.retry[s, a]}" for s, a in pending[:NAMED])
                     + (f"; and {len(pending) - NAMED} more" if len(pending) > NAMED else ""))


def grade_class(class_dir: Path, out: Path = Path("grading"), assignments: Optional[Sequence[str]] = None,
                settings: GradingSettings = GradingSettings(), jobs: Optional[int] = None, executor: str = "local",
                address: Optional[str] = None, students: Optional[Sequence[str]] = None,
                course_config: Optional[Path] = None, progress: Optional[Progress] = None,
                retry_errors: bool = False) -> dict[str, list[NotebookGrade]]:
    """Grade every student folder of ``class_dir`` (nbgrader's ``submitted/`` layout), one job per notebook.

    ``jobs`` notebooks run at once (default: one per GPU, else what the cores and memory allow) on ``executor``
    ("local" processes, or "ray" at ``address``). Each finished notebook is stored at once under
    ``out/STUDENT/``; a notebook whose stored result has the same key is skipped, unless it is recorded to retry
    (the grader failed on it: :func:`grader_failure`) or, with ``retry_errors``, its result holds an ``error``,
    ``timeout`` or ``kernel-died`` check; ``students`` regrades only those (all their notebooks).
    ``grades.csv``, ``gradebook.csv`` and the class report always hold every notebook stored in ``out`` (stale
    ones marked, those to retry flagged). ``progress``: the display (default: live on a terminal, plain lines
    otherwise). Returns every notebook of ``out`` per student; :func:`autograder.classrun.store.retries` says
    which are left to retry.
    """
    if executor not in EXECUTORS:
        raise AutograderError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    class_dir, out = class_dir.resolve(), out.resolve()
    run = plan_class(class_dir, out, assignments, settings, students, course_config)
    run.show_reviews()
    settings = run.settings
    selected = [(s, r) for s, r in run.plan if not students or s in students]
    if students:
        todo = selected
    else:
        todo = [(s, r) for s, r in selected if (s, r.name) not in run.current
                or (retry_errors and run.has_errors(s, r.name))]
    retried = [(s, r.name) for s, r in todo if (s, r.name) in run.retry]
    queue = [Job(s, r.name, str(class_dir / s), run.keys[s, r.name]) for s, r in todo]
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or display()
    progress.start(len(queue), max(1, min(jobs or default_jobs(), len(queue))))
    try:
        with progress:
            _say_plan(progress, run, len(selected) - len(todo), retried)
            if queue:  # networks a locked cell defines: trained once for the class, before anyone is graded
                settings = shared.prepare(out, {r.name: r for _, r in todo}.values(), settings, progress.say)
                with contextlib.closing(EXECUTORS[executor](queue, settings, jobs, address)) as results:
                    for job, done in results:
                        _record(run, progress, job, done)
            _say_left(progress, run)
    finally:
        graded = run.write_tables()
        reviews.write_sheets(out, graded, run.reviews)
        class_report.write_class_report(out, graded, run.workflow, regrade.report_lines(run.changes),
                                        reviews.report_lines(out, graded))
    similarity.write(out, settings.released_dir, [r.name for _, r in run.plan])  # evidence for a person; no grade
    return graded
