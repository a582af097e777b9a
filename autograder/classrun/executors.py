"""Where jobs run: worker processes on this machine, or a Ray cluster. Neither is home-made.

An executor is a function that takes the jobs and the settings and yields ``(job, result)`` pairs as jobs
finish (the result is :func:`~autograder.classrun.jobs.run_job`'s dict, or the exception that stopped the
job); :data:`EXECUTORS` names them. Leaving the iteration early (Ctrl-C, SIGTERM) ends every worker: a
worker's kernels die with it (bubblewrap's ``--die-with-parent``) and so does its scoring process.
"""

from __future__ import annotations

import signal
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Callable, Iterator, Optional, Sequence

from autograder import workers as processes
from autograder.classrun.jobs import Job, run_job, shipped
from autograder.classrun.resources import default_jobs, share_cores, visible_gpus
from autograder.errors import AutograderError
from autograder.grading import GradingSettings

Results = Iterator[tuple[Job, Any]]


def _start_worker(grader: int, workers: int) -> None:
    """A local worker: dies with the grader, leaves Ctrl-C to it (the grader ends the workers), and takes its
    share of the cores."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    processes.die_with(grader)
    share_cores(workers)


def run_local(jobs: Sequence[Job], settings: GradingSettings, workers: Optional[int] = None,
              address: Optional[str] = None) -> Results:
    """Run ``jobs`` on ``workers`` processes of this machine (default: what it bears), each with a job slot
    and a GPU where there are."""
    gpus = visible_gpus()
    count = max(1, min(workers or default_jobs(), len(jobs)))
    executor = processes.pool(count, _start_worker, count)
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
            processes.kill(executor, join_seconds=30)


def run_ray(jobs: Sequence[Job], settings: GradingSettings, workers: Optional[int] = None,
            address: Optional[str] = None) -> Results:
    """Run ``jobs`` as Ray tasks: on the cluster at ``address`` ("auto": the one this machine belongs to),
    or on a local one started here (``workers`` CPUs). Each job carries its submission as a tar and asks
    for one CPU, and one GPU where the cluster has GPUs (Ray sets its CUDA_VISIBLE_DEVICES)."""
    try:
        import ray
    except ImportError as exc:
        raise AutograderError("the Ray executor needs ray: pip install -r requirements/cpu.txt") from exc

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    gpus_per_job = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    task = ray.remote(num_cpus=1, num_gpus=gpus_per_job, max_retries=0)(run_job)
    refs = {task.remote(shipped(job, settings), settings, None): job for job in jobs}
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


EXECUTORS: dict[str, Callable[..., Results]] = {"local": run_local, "ray": run_ray}
