"""``make calibrate``: rerun the reference solutions, compare them with the rubric, record what they reach.

Every reference notebook is graded for several seeds, one notebook at a time,
so that each gets its own wall time and (on a GPU) its own peak GPU memory.
:func:`table` prints each threshold beside the recorded and the measured
figures; :func:`write` records the measured ones in the rubric files: a
``reference_*`` figure per seed on each check that has a threshold, and a
``[calibration.PROFILE]`` table with the machine, the versions, the wall time
and the peak GPU memory per seed. Thresholds are never changed automatically.
With a records folder (``make calibrate`` passes ``calibration/``), each
notebook and seed is stored as it finishes and a later run resumes
(:mod:`autograder.course.calibration_records`). A CPU may record full-profile
figures: they are labelled "CPU-measured" in the rubric and in the table until
a GPU run replaces them.
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
from autograder.course import calibration_records as recs
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
    devices: dict[str, dict[str, str]] = field(default_factory=dict)  # per notebook, where it differs from machine

    def machine_of(self, assignment: str) -> dict[str, str]:
        """The machine ``assignment``'s figures were measured on."""
        return self.devices.get(assignment, self.machine)


CPU_LABEL = "CPU-measured"


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
    if info["device"] == recs.CPU:
        info.update(cpu=cpu_model(), cores=str(os.cpu_count() or 1))
    info["backend"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    for package in ("tensorflow", "tensorflow-cpu", "keras", "torch", "jax"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return info


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's word for it."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(profile: str, seeds: Sequence[int], assignments: Optional[Sequence[str]] = None,
            data_dir: Optional[str] = None, out: Optional[Path] = None,
            records: Optional[Path] = None) -> Calibration:
    """Grade each reference notebook for each seed and collect its figures.

    With ``out``, each grading folder (summary, feedback page, figures) is kept in
    ``out/seed-N/NN`` as each notebook finishes, and the figures so far in
    ``out/calibration.json`` after each notebook; otherwise they go to a temporary folder.
    With ``records``, each notebook and seed is stored there as it finishes
    (:mod:`autograder.course.calibration_records`), and one already stored for the same grader,
    rubric and reference is taken as it is, not graded again (a GPU run regrades a CPU record).
    """
    chosen = [r for r in rubrics.all_rubrics().values()
              if not assignments or r.id in assignments or r.name in assignments]
    here = machine()
    done: list[dict] = []
    with ScoringPool() as pool, tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        root = Path(out) if out is not None else Path(tmp)
        for seed in seeds:
            for rubric in chosen:
                key = recs.record_key(rubric, profile, seed)
                path = recs.record_path(records, profile, rubric, seed) if records is not None else None
                stored = recs.load_record(path) if path is not None else None
                if not recs.reusable(stored, key, here):
                    stored = _grade_one(rubric, key, here, GradingSettings(profile, data_dir, seed), root, pool)
                    if path is not None:
                        recs.store_record(path, stored)
                done.append(stored)
                if out is not None:
                    (root / "calibration.json").write_text(to_json(from_records(done, profile, here)))
    return from_records(done, profile, here)


def _grade_one(rubric: rubrics.Rubric, key: dict, here: dict[str, str], settings: GradingSettings, root: Path,
               pool: ScoringPool) -> dict:
    """Grade one reference notebook for one seed: its record (figures, wall time, peak GPU memory, machine)."""
    started, load = time.perf_counter(), os.getloadavg()[0]
    with GpuMemory() as gpu:
        notebooks = grade(REFERENCE_DIR, root / f"seed-{settings.seed}" / rubric.id, [rubric.id], settings, pool)
    values = {r.id: r.value for nb in notebooks for r in nb.results if r.assignment == rubric.id}
    record = recs.make_record(rubric, key, here, time.perf_counter() - started, gpu.peak, values)
    record["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]  # others' work sharing the machine
    return record


def from_records(records: Sequence[dict], profile: str, here: Optional[dict[str, str]] = None) -> Calibration:
    """One calibration from stored records (each notebook's figures in seed order); ``machine`` is this run's
    (``here``) or the first record's, ``devices`` the machine of every notebook measured elsewhere."""
    ordered = sorted(records, key=lambda r: (r["assignment"], r["seed"]))
    seeds = sorted({r["seed"] for r in ordered})
    first = here if here is not None else (ordered[0]["machine"] if ordered else {})
    result = Calibration(profile, seeds, machine=dict(first))
    for record in ordered:
        assignment = record["assignment"]
        result.wall_s.setdefault(assignment, []).append(record["wall_s"])
        result.peak_gpu_mb.setdefault(assignment, []).append(record.get("peak_gpu_mb"))
        for check_id, value in record["values"].items():
            result.values.setdefault((assignment, check_id), []).append(value)
        if record["machine"] != result.machine:
            result.devices[assignment] = _preferred(result.devices.get(assignment), record["machine"])
    return result


def _preferred(known: Optional[dict[str, str]], other: dict[str, str]) -> dict[str, str]:
    """Of two machines that measured one notebook, the one its label names: a GPU over a CPU."""
    if known is None or (recs.on_gpu(other) and not recs.on_gpu(known)):
        return dict(other)
    return known


def to_json(calibration: Calibration) -> str:
    """The figures as JSON (check keys as ``assignment/check``), for :func:`from_json` and :func:`merge`."""
    values = {f"{a}/{c}": v for (a, c), v in calibration.values.items()}
    return json.dumps({"profile": calibration.profile, "seeds": calibration.seeds, "values": values,
                       "wall_s": calibration.wall_s, "peak_gpu_mb": calibration.peak_gpu_mb,
                       "machine": calibration.machine, "devices": calibration.devices}, indent=1)


def from_json(text: str) -> Calibration:
    data = json.loads(text)
    values = {tuple(key.split("/", 1)): v for key, v in data["values"].items()}
    return Calibration(data["profile"], data["seeds"], values, data["wall_s"], data["peak_gpu_mb"], data["machine"],
                       data.get("devices", {}))


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
        for assignment, other in part.devices.items():
            merged.devices[assignment] = _preferred(merged.devices.get(assignment), other)
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
            on = calibration.machine_of(rubric.id)
            shown = "not run" if measured is None else _figures(measured) + _label(profile, on)
            recorded = ", ".join(map(str, spec.references(profile).values())) or "none"
            recorded += _label(profile, recorded_on(rubric, profile)) if spec.references(profile) else ""
            lines.append(f"{rubric.id + ' ' + spec.id:<28} {thresholds:<24} {recorded:<28} {shown}")
    lines += ["", f"{'notebook':<10} {'wall s per seed':<28} peak GPU MB per seed   on {calibration.machine.get('device')}"]
    for assignment, walls in calibration.wall_s.items():
        memory = calibration.peak_gpu_mb.get(assignment, [])
        elsewhere = calibration.devices.get(assignment)
        lines.append(f"{assignment:<10} {', '.join(f'{w:g}' for w in walls):<28} "
                     f"{', '.join('-' if m is None else str(m) for m in memory)}"
                     + (f"   on {recs.device_words(elsewhere)}" if elsewhere else ""))
    return "\n".join(lines)


def _label(profile: str, machine: Optional[dict[str, str]]) -> str:
    """`` (CPU-measured)`` beside a GPU profile's figures that a CPU measured, nothing beside a GPU's."""
    label = _gpu_label(profile, machine) if machine is not None else ""
    return f" ({label})" if label else ""


def recorded_on(rubric: rubrics.Rubric, profile: str) -> Optional[dict[str, str]]:
    """The machine of the rubric's recorded ``[calibration.PROFILE]`` figures, None where none are recorded."""
    import tomllib

    table = tomllib.loads(rubric.path.read_text()).get("calibration", {}).get(profile)
    return {k: str(v) for k, v in table.items() if isinstance(v, str)} if isinstance(table, dict) else None


def _toml_list(values: Sequence[object]) -> str:
    def one(v: object) -> str:
        if v is None:
            return "nan"
        if isinstance(v, float):
            return repr(round(v, 4))
        return str(v)

    return "[" + ", ".join(one(v) for v in values) + "]"


def _split_comment(line: str) -> tuple[str, str]:
    """A TOML line's code and its trailing comment (a ``#`` outside strings, brackets and braces)."""
    text, depth, quote = line.rstrip("\n"), 0, ""
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote and text[i - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "#" and depth == 0:
            return text[:i].rstrip(), text[i:]
    return text.rstrip(), ""


def _labelled(comment: str, label: str) -> str:
    """``comment`` with the label of CPU figures in front where ``label`` is set, and without it otherwise."""
    rest = re.sub(rf"^#\s*{CPU_LABEL}(;\s*)?", "#", comment).removeprefix("#").strip()
    words = "; ".join(w for w in (label, rest) if w)
    return f"  # {words}" if words else ""


def _record_reference(block: list[str], profile: str, key: str, figures: str, label: str = "") -> list[str]:
    """One [[checks]] block's lines with ``key = figures`` in its ``profile = { ... }`` table, the line's comment
    starting with ``label`` (``CPU-measured``) where one is given."""
    for i, line in enumerate(block):
        if line.lstrip().startswith(f"{profile} ="):
            code, comment = _split_comment(line)
            if re.search(rf"\b{key}\s*=", code):
                code = re.sub(rf"({key}\s*=\s*)(\[[^\]]*\]|[^,}}\s]+)", rf"\g<1>{figures}", code)
            else:
                code = re.sub(r"\s*}\s*$", f", {key} = {figures} }}", code)
            block[i] = code + _labelled(comment, label) + "\n"
            return block
    end = len(block)
    while end > 0 and not block[end - 1].strip():
        end -= 1
    return [*block[:end], f"{profile} = {{ {key} = {figures} }}{_labelled('', label)}\n", *block[end:]]


def _calibration_table(calibration: Calibration, assignment: str) -> str:
    info = calibration.machine_of(assignment)
    lines = [f"[calibration.{calibration.profile}]  # written by `make calibrate PROFILE={calibration.profile} "
             "WRITE=1`; never by hand"]
    if _gpu_label(calibration.profile, info):
        lines.append(f"# {CPU_LABEL}: the {calibration.profile} profile runs on a GPU; these figures stand until a "
                     "GPU run replaces them")
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in info.items()]
    lines.append(f"seeds = {_toml_list(calibration.seeds)}")
    lines.append(f"wall_s = {_toml_list(calibration.wall_s.get(assignment, []))}")
    lines.append(f"peak_gpu_mb = {_toml_list(calibration.peak_gpu_mb.get(assignment, []))}")
    return "\n".join(lines) + "\n"


def write(calibration: Calibration, directory: Path = rubrics.RUBRIC_DIR) -> list[Path]:
    """Record the measured figures in the rubric files of ``directory``; the paths changed."""
    profile = calibration.profile
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
            label = _gpu_label(profile, calibration.machine_of(rubric.id))
            blocks[b] = "".join(_record_reference(block.splitlines(keepends=True), profile, key, _toml_list(values),
                                                  label))
        new = "".join(blocks).rstrip("\n") + "\n\n" + _calibration_table(calibration, rubric.id)
        if new != rubric.path.read_text():
            rubric.path.write_text(new)
            changed.append(rubric.path)
    return changed


GPU_PROFILES = ("full",)  # profiles the course grades on a GPU runner: a CPU's figures for them are labelled


def _gpu_label(profile: str, machine: dict[str, str]) -> str:
    """``CPU-measured`` for a GPU profile's figures a CPU measured, else nothing."""
    return CPU_LABEL if profile in GPU_PROFILES and not recs.on_gpu(machine) else ""
