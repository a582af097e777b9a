"""Where jobs run: worker processes on this machine, or a Ray cluster. Neither is home-made.

Both take a list of :class:`~autograder.pipeline.jobs.Job` and yield
``(job, result)`` pairs as jobs finish (the result is a dict from
:func:`~autograder.pipeline.jobs.run_job`, or the exception that stopped the
job). Leaving the iteration early (Ctrl-C, SIGTERM) ends every worker: a
worker's kernels die with it (bubblewrap's ``--die-with-parent``) and so does
its scoring process (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Iterator, Optional, Sequence

from autograder.errors import AutograderError
from autograder.pipeline.jobs import Job, pack, run_job

EXECUTORS = ("local", "ray")


def _start_worker(grader: int) -> None:
    """A local worker: dies with the grader, leaves Ctrl-C to it (the grader ends the workers)."""
    from autograder.pipeline.score import die_with

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(grader)


def run_local(jobs: Sequence[Job], settings: Any, workers: int, gpus: list[str]) -> Iterator[tuple[Job, Any]]:
    """Run ``jobs`` on ``workers`` processes of this machine, each with a job slot (and a GPU, where there are)."""
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(os.getpid(),))
    futures: dict[Future, Job] = {executor.submit(run_job, job, settings, gpus): job for job in jobs}
    finished = False
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                error = future.exception()
                yield futures[future], (error if error is not None else future.result())
        finished = True
    finally:
        if finished:
            executor.shutdown(wait=True)
        else:  # interrupted: end every worker now, with what runs inside it
            processes = list(getattr(executor, "_processes", {}).values())
            for process in processes:
                process.kill()
            executor.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.join(timeout=30)


def run_ray(jobs: Sequence[Job], settings: Any, address: Optional[str], gpus_per_job: Optional[float] = None,
            num_cpus: Optional[int] = None) -> Iterator[tuple[Job, Any]]:
    """Run ``jobs`` as Ray tasks: on the cluster at ``address`` ("auto": the one this machine belongs to),
    or on a local one started here (``num_cpus`` workers). Each job carries its submission as a tar and
    asks for one CPU, and one GPU where the cluster has GPUs (Ray sets its CUDA_VISIBLE_DEVICES)."""
    try:
        import ray
    except ImportError as exc:
        raise AutograderError("the Ray executor needs ray: pip install -r requirements/cpu.txt") from exc

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    if gpus_per_job is None:
        gpus_per_job = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    task = ray.remote(num_cpus=1, num_gpus=gpus_per_job, max_retries=0)(run_job)
    refs = {}
    for job in jobs:
        shipped = Job(job.student, job.assignment, job.submission, job.key, pack_job(job))
        refs[task.remote(shipped, settings, None)] = job
    finished = False
    try:
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    result: Any = ray.get(ref)
                except Exception as exc:  # the task's error, or its worker's death
                    result = exc
                yield refs[ref], result
        finished = True
    finally:
        if not finished:
            for ref in refs:
                ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def pack_job(job: Job) -> bytes:
    from pathlib import Path

    return pack(Path(job.submission) / job.assignment)
