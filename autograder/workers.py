"""Worker processes that die with the grader: the one home of starting and killing a process pool.

Scoring and a local class run both keep work in ``concurrent.futures`` process pools (spawned, so no
state of the grader is forked into them). Each worker dies with the grader, even when the grader is
SIGKILLed, and :func:`kill` ends a pool at once, jobs in flight included.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Optional


def die_with(grader: int) -> None:
    """Make this worker process die with ``grader``, its parent: no orphan after SIGTERM or SIGKILL."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent's shutdown still ends the worker
        pass
    if os.getppid() != grader:  # the grader died while this worker was starting
        os._exit(0)


def without_network() -> bool:
    """Move this process into a network namespace of its own (nothing but a down loopback): root may, others
    through a user namespace of their own. False where the kernel refuses both (the process keeps the network)."""
    import ctypes

    CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    if os.geteuid() == 0:
        return libc.unshare(CLONE_NEWNET) == 0
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return False
    # Map this user to itself, so that files keep their owner and a sandbox started from here (bubblewrap, a
    # user namespace inside this one) may still be created.
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as file:
                file.write(text)
    except OSError:
        return False  # no network all the same; only a sandbox started from here may fail to nest
    return True


def pool(workers: int, initializer: Optional[Callable[..., None]] = None, *initargs: Any) -> ProcessPoolExecutor:
    """``workers`` spawned processes; ``initializer(grader_pid, *initargs)`` runs first in each
    (default: :func:`die_with` alone)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer or die_with, initargs=(os.getpid(), *initargs))


def kill(executor: ProcessPoolExecutor, join_seconds: float = 0.0) -> None:
    """End ``executor``'s processes now, with whatever runs in them (waiting up to ``join_seconds`` each)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())  # the pool's own, not public
    for process in processes:
        process.kill()
    executor.shutdown(wait=False, cancel_futures=True)
    if join_seconds:
        for process in processes:
            process.join(timeout=join_seconds)
