"""Score: run a notebook's rubric checks on its artifacts, outside the student's kernel.

Checks read the artifacts through a :class:`~autograder.scoring.context.ScoringContext`. :class:`ScoringPool`
scores each notebook in a worker process of its own (started, with Keras imported, while that notebook's kernel
runs), so a crash, a hang or a Keras global set while loading a hostile model costs that notebook alone, never
the batch or the next student.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import workers
from autograder.checks import CHECKS
from autograder.errors import ArtifactError, CheckTimeout, MissingArtifact
from autograder.results import CheckResult, Outcome, Status, unscored
from autograder.rubric import CheckSpec, Limits, Rubric
from autograder.sandbox import Sandbox
from autograder.scoring.context import ScoringContext


def run_check(function: str, context: ScoringContext, args: dict[str, Any]
                       ) -> tuple[Status, str, Optional[float], float, Optional[dict[str, Any]]]:
    """(status, message, value, fraction, detail) for one check; never raises."""
    try:
        outcome = CHECKS[function](context, **args)
    except MissingArtifact as exc:
        return Status.MISSING, str(exc), None, 0.0, None
    except ArtifactError as exc:
        return Status.ERROR, str(exc), None, 0.0, None
    except CheckTimeout as exc:
        return Status.TIMEOUT, str(exc), None, 0.0, None
    except Exception as exc:  # a check that crashes on odd input is an error for this check only
        return Status.ERROR, f"the check could not run: {type(exc).__name__}: {exc}", None, 0.0, None
    if not isinstance(outcome, Outcome):
        return Status.ERROR, f"check {function} returned {type(outcome).__name__}, not an Outcome", None, 0.0, None
    if outcome.passed is None:
        return Status.NOT_JUDGED, outcome.message, outcome.value, 0.0, outcome.detail
    fraction = outcome.fraction if outcome.fraction is not None else (1.0 if outcome.passed else 0.0)
    return ((Status.PASS if outcome.passed else Status.FAIL), outcome.message, outcome.value,
            max(0.0, min(1.0, fraction)), outcome.detail)


def selected(rubric: Rubric, check_ids: Optional[Sequence[str]] = None, static_only: bool = False) -> list[CheckSpec]:
    """The rubric's checks, restricted to ``check_ids`` and to those that need no execution."""
    return [s for s in rubric.checks
            if (check_ids is None or s.id in check_ids) and not (static_only and s.needs_execution)]


def score(
    rubric: Rubric,
    profile: str,
    artifacts: Path,
    notebook: Optional[Path],
    data_dir: Optional[str] = None,
    check_ids: Optional[Sequence[str]] = None,
    static_only: bool = False,
    limits: Optional[Limits] = None,
    sandbox: Optional[Sandbox] = None,
    seed: int = 0,
    shared: Optional[dict[str, Any]] = None,
) -> list[CheckResult]:
    """Run the rubric's checks (all, or ``check_ids``) in this process; ``seed``: the run's injected seed;
    ``shared``: figures of networks trained once for the class."""
    context = ScoringContext(artifacts, notebook, profile, limits or rubric.profiles[profile].limits, data_dir,
                             sandbox, rubric.profiles[profile].epochs, seed, rubric, shared)
    results = []
    for spec in selected(rubric, check_ids, static_only):
        status, message, value, fraction, detail = run_check(spec.function, context,
                                                                      spec.args_for(profile))
        results.append(CheckResult(rubric.id, spec.id, spec.description, round(spec.points * fraction, 3),
                                   spec.max_points, status, message, value, detail))
    return results


def _score_job(rubric: Rubric, profile: str, artifacts: str, notebook: Optional[str], data_dir: Optional[str],
               static_only: bool, limits: Limits, sandbox: Optional[Sandbox], seed: int = 0,
               shared: Optional[dict[str, Any]] = None) -> list[CheckResult]:
    """Worker entry point: score one notebook."""
    import sys

    _memory_capped(limits)
    try:
        return score(rubric, profile, Path(artifacts), Path(notebook) if notebook else None, data_dir,
                     static_only=static_only, limits=limits, sandbox=sandbox, seed=seed, shared=shared)
    finally:
        if "keras" in sys.modules:
            sys.modules["keras"].backend.clear_session()


def _fingerprint_job(artifacts: str, profile: str, limits: Limits) -> dict[str, Any]:
    """Worker entry point: the similarity fingerprint of one notebook's saved models and curves."""
    import sys

    from autograder.pipeline.fingerprint import fingerprint

    _memory_capped(limits)
    try:
        return fingerprint(ScoringContext(Path(artifacts), None, profile, limits))
    finally:
        if "keras" in sys.modules:
            sys.modules["keras"].backend.clear_session()


def _start_worker(grader: int) -> None:
    """A scoring worker: dies with the grader, has no network, logs TensorFlow's C++ chatter to /dev/null."""
    workers.die_with(grader)
    workers.without_network()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


def _memory_capped(limits: Limits) -> None:
    """Cap this worker's heap at the profile's ``memory_bytes`` for the job at hand (what a sandboxed kernel may
    use): an artifact that makes scoring allocate past it fails this notebook, not the grader's machine."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = limits.memory_bytes if hard == resource.RLIM_INFINITY else min(limits.memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))


def _warm_up() -> int:
    """Import Keras (and its backend) in a new scoring process before its notebook is ready to score; its pid."""
    import keras  # noqa: F401

    return os.getpid()


def _failed(future: Any) -> bool:
    """Whether ``future`` (a warm-up) ended without its result: its process died, or never ran it."""
    return future is not None and future.done() and (future.cancelled() or future.exception() is not None)


class ScoringPool:
    """A scoring process per notebook: scoring and fingerprinting one notebook's artifacts share a process, which
    is never used for another notebook. Whatever reading one notebook's artifacts left in a process (a Keras module
    global set through a config, a cache) cannot reach another student's scores; a job that kills or hangs its
    process costs that notebook alone.

    :meth:`notebook_done` (``grade_notebook`` calls it) ends the process and starts the next one at once, so that
    it imports Keras while the next notebook's kernel runs. A ``score`` in a process that has read another
    notebook's artifacts first replaces it (without that head start); so does a ``fingerprint`` of artifacts
    other than the ones its process scored.
    """

    def __init__(self) -> None:
        self._executor: Optional[ProcessPoolExecutor] = None
        self._warming: Optional[Any] = None  # the new process's warm-up: its pid once Keras is imported
        self._artifacts: Optional[str] = None  # the one notebook's artifacts the process has read (None: none)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = workers.pool(1, _start_worker)
            self._warming = self._executor.submit(_warm_up)
        return self._executor

    def _process_for(self, artifacts: Path, scoring: bool) -> ProcessPoolExecutor:
        """A process that has read no artifacts but ``artifacts`` (none at all, to ``score``): this one, or a new
        one in its place."""
        if self._artifacts is not None and (scoring or self._artifacts != str(artifacts)):
            self.kill()
        elif self._artifacts is None and _failed(self._warming):
            self.kill()  # it died before reading anything (the grader's failure, not this notebook's): start again
        executor = self._pool()
        self._artifacts = str(artifacts)
        return executor

    def warm_up(self) -> None:
        """Start the scoring process now: it imports Keras while the first notebook runs."""
        self._pool()

    def notebook_done(self) -> None:
        """The notebook in hand is scored and fingerprinted: end its process now and start the next one, which
        imports Keras while the next notebook runs (a process that has read no artifacts is kept)."""
        if self._artifacts is not None:
            self.kill()
            self._pool()

    def kill(self) -> None:
        """End the scoring process now, with any job in it."""
        self._artifacts = None
        if self._executor is None:
            return
        workers.kill(self._executor)
        self._executor = self._warming = None

    def score(self, rubric: Rubric, profile: str, artifacts: Path, notebook: Optional[Path],
              data_dir: Optional[str] = None, static_only: bool = False,
              limits: Optional[Limits] = None, sandbox: Optional[Sandbox] = None, seed: int = 0,
              shared: Optional[dict[str, Any]] = None) -> list[CheckResult]:
        """``rubric``'s checks on ``artifacts``, in a process that has read no other artifacts; ``shared``: figures
        of networks the grader trained once for the class (:mod:`autograder.scoring.shared_base`)."""
        limits = limits or rubric.profiles[profile].limits
        try:
            future = self._process_for(artifacts, scoring=True).submit(
                _score_job, rubric, profile, str(artifacts), str(notebook) if notebook else None, data_dir,
                static_only, limits, sandbox, seed, shared)
            return future.result(timeout=limits.scoring_timeout)
        except FutureTimeout:
            self.kill()
            status, message = Status.TIMEOUT, f"scoring took longer than {limits.scoring_timeout:.0f} s and was stopped"
        except BrokenProcessPool:
            self.kill()
            status, message = Status.ERROR, "the scoring process died while loading or evaluating the artifacts"
        return unscored(rubric.id, selected(rubric, static_only=static_only), status, message)

    def fingerprint(self, artifacts: Path, profile: str, limits: Limits) -> dict[str, Any]:
        """The similarity fingerprint of ``artifacts`` (autograder.pipeline.fingerprint), read in the process that
        scored them (else in a new one)."""
        try:
            future = self._process_for(artifacts, scoring=False).submit(_fingerprint_job, str(artifacts), profile,
                                                                        limits)
            return future.result(timeout=limits.scoring_timeout)
        except FutureTimeout:
            self.kill()
            error = f"fingerprinting took longer than {limits.scoring_timeout:.0f} s and was stopped"
        except BrokenProcessPool:
            self.kill()
            error = "the scoring process died while fingerprinting the artifacts"
        return {"version": 1, "models": {}, "histories": {}, "errors": [error]}

    def close(self) -> None:
        """End the scoring process and wait for it to go (no job is in flight between notebooks; the warm-up of a
        process no notebook will use is cut short, not waited for)."""
        if self._executor is not None:
            workers.kill(self._executor, join_seconds=10)
        self._executor = self._warming = self._artifacts = None

    def __enter__(self) -> "ScoringPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.close()
        else:  # interrupted: do not wait for a job in flight
            self.kill()
