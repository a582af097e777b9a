"""Calibration that accumulates across runs: one record per notebook and seed, written as each finishes.

``make calibrate`` keeps ``calibration/PROFILE/NN_name.seedS.json`` (committed) for every reference notebook and
seed it grades: the device it ran on (the CPU's model, or the GPU's name, driver and CUDA), the framework and
grader versions, the wall time, the peak GPU memory and every check's figure. A second run resumes where the first
stopped: a record made under the same grader version, rubric and reference notebook (:func:`record_key`) is not
graded again, except that a GPU replaces a CPU figure. Recording figures in a rubric (``--write``) changes none of
the keys: :func:`rubric_digest` leaves the recorded figures and the ``[calibration.*]`` tables out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Optional

import autograder
from autograder.paths import REFERENCE_DIR, ROOT
from autograder.rubric import Rubric

RECORDS_DIR = ROOT / "calibration"  # committed: calibration/PROFILE/NN_name.seedS.json
CPU = "CPU"


def record_path(folder: Path, profile: str, rubric: Rubric, seed: int) -> Path:
    return Path(folder) / profile / f"{rubric.name}.seed{seed}.json"


def _without_figures(value: Any) -> Any:
    """A rubric's parsed TOML less what calibration writes into it (``reference_*`` figures)."""
    if isinstance(value, dict):
        return {k: _without_figures(v) for k, v in value.items() if not k.startswith("reference_")}
    if isinstance(value, list):
        return [_without_figures(v) for v in value]
    return value


def rubric_digest(rubric: Rubric) -> str:
    """A digest of what the rubric grades with: its checks, thresholds, profiles and models, not the figures and
    ``[calibration.*]`` tables a calibration writes into it."""
    data = tomllib.loads(rubric.path.read_text())
    data.pop("calibration", None)
    text = json.dumps(_without_figures(data), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def reference_digest(rubric: Rubric, references: Path = REFERENCE_DIR) -> str:
    """A digest of the reference notebook a record graded ("absent" without one)."""
    path = Path(references) / rubric.name / rubric.notebook
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "absent"


def record_key(rubric: Rubric, profile: str, seed: int, references: Path = REFERENCE_DIR) -> dict[str, Any]:
    """What a stored record must match to be reused: grader version, rubric, reference notebook, profile, seed."""
    return {"grader": autograder.__version__, "rubric": rubric_digest(rubric),
            "reference": reference_digest(rubric, references), "profile": profile, "seed": seed}


def on_gpu(machine: dict[str, Any]) -> bool:
    return machine.get("device", CPU) != CPU


def load_record(path: Path) -> Optional[dict[str, Any]]:
    """A stored record, or None when there is none readable."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("machine"), dict) else None


def reusable(record: Optional[dict[str, Any]], key: dict[str, Any], machine: dict[str, Any]) -> bool:
    """Whether ``record`` stands for this run: made under ``key``, and not a CPU figure a GPU run would replace."""
    if record is None or record.get("key") != key:
        return False
    return on_gpu(record["machine"]) or not on_gpu(machine)


def make_record(rubric: Rubric, key: dict[str, Any], machine: dict[str, Any], wall_s: float,
                peak_gpu_mb: Optional[int], values: dict[str, Optional[float]]) -> dict[str, Any]:
    return {"assignment": rubric.id, "name": rubric.name, "profile": key["profile"], "seed": key["seed"],
            "key": key, "machine": machine, "wall_s": round(wall_s, 1), "peak_gpu_mb": peak_gpu_mb,
            "values": values, "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def store_record(path: Path, record: dict[str, Any]) -> None:
    """Write ``record`` atomically (a run stopped mid-write leaves the record before it, or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)


def records(folder: Path, profile: str) -> list[dict[str, Any]]:
    """Every readable record of ``profile`` in ``folder``, by notebook and seed."""
    found = [load_record(p) for p in sorted((Path(folder) / profile).glob("*.seed*.json"))]
    return sorted((r for r in found if r is not None), key=lambda r: (r.get("assignment", ""), r.get("seed", 0)))


def device_words(machine: dict[str, Any]) -> str:
    """``CPU (Intel(R) Xeon(R) Processor, 2 cores)`` or the GPU's name."""
    if on_gpu(machine):
        return str(machine["device"])
    detail = ", ".join(str(machine[k]) for k in ("cpu", "cores") if machine.get(k))
    return f"{CPU} ({detail}{' cores' if machine.get('cores') else ''})" if detail else CPU
