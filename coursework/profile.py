"""Which profile a notebook runs: what the grader injected, else ``$CNN_PROFILE``, else what this machine can bear.

Opened in Jupyter without a choice, a notebook runs ``smoke`` (small subsets, a few epochs: minutes on a laptop)
unless a GPU is present, where it runs ``full`` (all the data and epochs: hours on a CPU). It always says which
profile runs and why.
"""

from __future__ import annotations

import os
from typing import Optional

PROFILES = ("smoke", "full")


def gpu_present() -> bool:
    """Whether the Keras backend in use sees a GPU (checked without starting one where possible)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available())
        if backend == "jax":
            import jax

            return any(d.platform == "gpu" for d in jax.devices())
    except Exception:  # a broken GPU driver is no GPU
        return False
    return False


def choose_profile(given: Optional[str] = None, announce: bool = True) -> str:
    """The profile to run, printed with the reason: ``given`` (the grader's), ``$CNN_PROFILE``, or the machine's."""
    env = os.environ.get("CNN_PROFILE", "").strip()
    if given:
        profile, reason = given, "set in the parameters cell (the grader sets it when it grades)"
    elif env:
        profile, reason = env, "from $CNN_PROFILE"
    elif gpu_present():
        profile, reason = "full", "a GPU is present; set CNN_PROFILE=smoke for a quick check"
    else:
        profile, reason = "smoke", "no GPU found, so the quick CPU check; set CNN_PROFILE=full for the real run"
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    if announce:
        print(f"profile {profile}: {reason}")
    return profile
