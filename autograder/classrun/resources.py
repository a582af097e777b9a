"""What one machine offers a class run: its GPUs and a job count that fits it.

Each worker holds a job slot (:func:`autograder.sandbox.claim_slot`); slot N
runs student code as its own sandbox user and, on a GPU machine, on GPU
``N mod count``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

JOB_MEMORY_BYTES = 3_000_000_000  # one CPU job: a kernel with TensorFlow and its share of scoring


def visible_gpus() -> list[str]:
    """The GPUs jobs may use: $CUDA_VISIBLE_DEVICES when set, else those nvidia-smi lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(listed.splitlines()) if line.startswith("GPU ")]


def available_memory() -> int:
    """MemAvailable from /proc/meminfo, in bytes (a large number where it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 1 << 50


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_jobs() -> int:
    """One job per GPU; without GPUs, as many as the cores and memory allow."""
    gpus = visible_gpus()
    if gpus:
        return len(gpus)
    return max(1, min(cores(), available_memory() // JOB_MEMORY_BYTES))


def core_share(jobs: int) -> int:
    """The cores each of ``jobs`` side by side may use (at least one)."""
    return max(1, cores() // jobs)


def share_cores(jobs: int) -> None:
    """Give this process (and the kernels it starts) its share of the cores among ``jobs`` side by side, unless
    $OMP_NUM_THREADS is set. PyTorch's OpenMP threads spin while they wait: two gradings of 03 and 05 on torch
    side by side on two cores took 3.45x as long with two threads each as with one (benchmarks/thread_sharing.py)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(core_share(jobs)))


def pin_gpu(slot: int, gpus: list[str]) -> None:
    """Give this process (and the kernels it starts) one GPU of ``gpus``, chosen by its slot."""
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
