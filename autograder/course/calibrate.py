"""``make calibrate``: rerun the reference solutions, compare them with the rubric, record what they reach.

Every reference notebook is graded for several seeds, one notebook at a time,
so that each gets its own wall time and (on a GPU) its own peak GPU memory.
:func:`table` prints each threshold beside the recorded and the measured
figures; :func:`write` records the measured ones in the rubric files: a
``reference_*`` figure per seed on each check that has a threshold, and a
``[calibration.PROFILE]`` table with the machine, the versions, the wall time
and the peak GPU memory per seed. Thresholds are never changed automatically,
and full-profile figures are only recorded from a GPU: a CPU figure is never a
full-profile reference.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Optional, Sequence

from autograder import rubric as rubrics
from autograder.errors import AutograderError
from autograder.paths import REFERENCE_DIR
from autograder.grading import GradingSettings
from autograder.pipeline.grade import grade
from autograder.pipeline.score import ScoringPool

# Which recorded figure a check's measured value is, by check function; other checks' values are not recorded.
REFERENCE_KEYS = {"validation_accuracy": "reference_accuracy", "accuracy_at_most": "reference_accuracy",
                  "beats_model": "reference_gap", "epochs_within": "reference_epochs"}


@dataclass
class Calibration:
    """What the references reached: per check and per notebook, one entry per seed."""

    profile: str
    seeds: list[int]
    values: dict[tuple[str, str], list[Optional[float]]] = field(default_factory=dict)
    wall_s: dict[str, list[float]] = field(default_factory=dict)
    peak_gpu_mb: dict[str, list[Optional[int]]] = field(default_factory=dict)
    machine: dict[str, str] = field(default_factory=dict)


class GpuMemory:
    """Peak memory used on the GPUs while the block runs, sampled with nvidia-smi (None without one)."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.peak: Optional[int] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @staticmethod
    def used_mb() -> Optional[int]:
        if shutil.which("nvidia-smi") is None:
            return None
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=10).stdout
            return sum(int(v) for v in out.split())
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None

    def _sample(self) -> None:
        while not self._stop.is_set():
            used = self.used_mb()
            if used is not None:
                self.peak = max(self.peak or 0, used)
            self._stop.wait(self.interval)

    def __enter__(self) -> "GpuMemory":
        if shutil.which("nvidia-smi"):
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def machine() -> dict[str, str]:
    """The GPU, driver and CUDA versions (when there is a GPU) and the framework versions."""
    info = {"device": "CPU"}
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10).stdout.splitlines()
            name, driver = (part.strip() for part in out[0].split(","))
            header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=10).stdout
            cuda = re.search(r"CUDA Version:\s*([\d.]+)", header)
            info.update(device=name, driver=driver, cuda=cuda.group(1) if cuda else "unknown")
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            pass
    info["backend"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    for package in ("tensorflow", "tensorflow-cpu", "keras", "torch", "jax"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return info


def measure(profile: str, seeds: Sequence[int], assignments: Optional[Sequence[str]] = None,
            data_dir: Optional[str] = None, out: Optional[Path] = None) -> Calibration:
    """Grade each reference notebook for each seed and collect its figures.

    With ``out``, each grading folder (summary, feedback page, figures) is kept in
    ``out/seed-N/NN`` as each notebook finishes, and the figures so far in
    ``out/calibration.json`` after each notebook; otherwise they go to a temporary folder.
    """
    chosen = [r.id for r in rubrics.all_rubrics().values()
              if not assignments or r.id in assignments or r.name in assignments]
    result = Calibration(profile, list(seeds), machine=machine())
    with ScoringPool() as pool, tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        root = Path(out) if out is not None else Path(tmp)
        for seed in seeds:
            for assignment in chosen:
                started = time.perf_counter()
                with GpuMemory() as gpu:
                    notebooks = grade(REFERENCE_DIR, root / f"seed-{seed}" / assignment, [assignment],
                                      GradingSettings(profile, data_dir, seed), pool)
                result.wall_s.setdefault(assignment, []).append(round(time.perf_counter() - started, 1))
                result.peak_gpu_mb.setdefault(assignment, []).append(gpu.peak)
                for r in (r for nb in notebooks for r in nb.results):
                    result.values.setdefault((r.assignment, r.id), []).append(r.value)
                if out is not None:
                    (root / "calibration.json").write_text(to_json(result))
    return result


def to_json(calibration: Calibration) -> str:
    """The figures as JSON (check keys as ``assignment/check``), for :func:`from_json` and :func:`merge`."""
    values = {f"{a}/{c}": v for (a, c), v in calibration.values.items()}
    return json.dumps({"profile": calibration.profile, "seeds": calibration.seeds, "values": values,
                       "wall_s": calibration.wall_s, "peak_gpu_mb": calibration.peak_gpu_mb,
                       "machine": calibration.machine}, indent=1)


def from_json(text: str) -> Calibration:
    data = json.loads(text)
    values = {tuple(key.split("/", 1)): v for key, v in data["values"].items()}
    return Calibration(data["profile"], data["seeds"], values, data["wall_s"], data["peak_gpu_mb"], data["machine"])


def merge(parts: Sequence[Calibration]) -> Calibration:
    """One calibration from runs of other seeds (run side by side); they must share a profile and a machine."""
    if not parts:
        raise AutograderError("no calibration to merge")
    first = parts[0]
    for part in parts[1:]:
        if part.profile != first.profile or part.machine != first.machine:
            raise AutograderError(f"cannot merge calibrations of another profile or machine: {part.profile} "
                                  f"{part.machine} and {first.profile} {first.machine}")
    merged = Calibration(first.profile, [s for p in parts for s in p.seeds], machine=dict(first.machine))
    for part in parts:
        for table, into in ((part.values, merged.values), (part.wall_s, merged.wall_s),
                            (part.peak_gpu_mb, merged.peak_gpu_mb)):
            for key, figures in table.items():
                into.setdefault(key, []).extend(figures)
    return merged


def _figures(values: Sequence[Optional[float]]) -> str:
    return ", ".join("-" if v is None else f"{v:.4g}" for v in values)


def table(calibration: Calibration) -> str:
    """Thresholds, recorded and measured figures side by side, then wall time and GPU memory per notebook."""
    profile = calibration.profile
    lines = [f"{'check':<28} {'threshold':<24} {'recorded':<28} measured ({profile}, seeds "
             f"{', '.join(map(str, calibration.seeds))})"]
    for rubric in rubrics.all_rubrics().values():
        for spec in rubric.checks:
            args = spec.args_for(profile)
            thresholds = ", ".join(f"{k}={v}" for k, v in args.items() if k.startswith(("min_", "max_", "margin")))
            measured = calibration.values.get((rubric.id, spec.id))
            if not thresholds and not spec.references(profile):
                continue
            shown = "not run" if measured is None else _figures(measured)
            recorded = ", ".join(map(str, spec.references(profile).values())) or "none"
            lines.append(f"{rubric.id + ' ' + spec.id:<28} {thresholds:<24} {recorded:<28} {shown}")
    lines += ["", f"{'notebook':<10} {'wall s per seed':<28} peak GPU MB per seed   on {calibration.machine.get('device')}"]
    for assignment, walls in calibration.wall_s.items():
        memory = calibration.peak_gpu_mb.get(assignment, [])
        lines.append(f"{assignment:<10} {', '.join(f'{w:g}' for w in walls):<28} "
                     f"{', '.join('-' if m is None else str(m) for m in memory)}")
    return "\n".join(lines)


def _toml_list(values: Sequence[object]) -> str:
    def one(v: object) -> str:
        if v is None:
            return "nan"
        if isinstance(v, float):
            return repr(round(v, 4))
        return str(v)

    return "[" + ", ".join(one(v) for v in values) + "]"


def _record_reference(block: list[str], profile: str, key: str, figures: str) -> list[str]:
    """One [[checks]] block's lines with ``key = figures`` in its ``profile = { ... }`` table."""
    for i, line in enumerate(block):
        if line.lstrip().startswith(f"{profile} ="):
            if re.search(rf"{key}\s*=", line):
                block[i] = re.sub(rf"({key}\s*=\s*)(\[[^\]]*\]|[^,}}\s]+)", rf"\g<1>{figures}", line)
            else:
                block[i] = re.sub(r"\s*}\s*$", f", {key} = {figures} }}\n", line)
            return block
    end = len(block)
    while end > 0 and not block[end - 1].strip():
        end -= 1
    return [*block[:end], f"{profile} = {{ {key} = {figures} }}\n", *block[end:]]


def _calibration_table(calibration: Calibration, assignment: str) -> str:
    info = calibration.machine
    lines = [f"[calibration.{calibration.profile}]  # written by `make calibrate PROFILE={calibration.profile} "
             "WRITE=1`; never by hand"]
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in info.items()]
    lines.append(f"seeds = {_toml_list(calibration.seeds)}")
    lines.append(f"wall_s = {_toml_list(calibration.wall_s.get(assignment, []))}")
    lines.append(f"peak_gpu_mb = {_toml_list(calibration.peak_gpu_mb.get(assignment, []))}")
    return "\n".join(lines) + "\n"


def write(calibration: Calibration, directory: Path = rubrics.RUBRIC_DIR) -> list[Path]:
    """Record the measured figures in the rubric files of ``directory``; the paths changed."""
    profile = calibration.profile
    if profile == "full" and calibration.machine.get("device", "CPU") == "CPU":
        raise AutograderError("the full profile's figures are recorded only from a GPU run; this one ran on a CPU")
    changed = []
    for rubric in rubrics.all_rubrics(directory).values():
        if rubric.id not in calibration.wall_s:
            continue
        text = rubric.path.read_text()
        text = re.sub(rf"(?ms)\n*^\[calibration\.{profile}\].*?(?=^\[|\Z)", "\n", text).rstrip("\n") + "\n"
        blocks = re.split(r"(?m)^(?=\[)", text)
        for b, block in enumerate(blocks):
            found = re.search(r'(?m)^id\s*=\s*"([^"]+)"', block)
            if not block.startswith("[[checks]]") or not found:
                continue
            spec = rubric.check(found.group(1))
            values = calibration.values.get((rubric.id, spec.id))
            has_threshold = any(k.startswith(("min_", "max_", "margin")) for k in spec.args_for(profile))
            key = REFERENCE_KEYS.get(spec.function)
            if not values or key is None or not (has_threshold or spec.references(profile)):
                continue
            blocks[b] = "".join(_record_reference(block.splitlines(keepends=True), profile, key, _toml_list(values)))
        new = "".join(blocks).rstrip("\n") + "\n\n" + _calibration_table(calibration, rubric.id)
        if new != rubric.path.read_text():
            rubric.path.write_text(new)
            changed.append(rubric.path)
    return changed
