"""``python -m autograder cost``: what grading a class costs in training work, hours and money, and on what basis.

Work (:mod:`autograder.modelspec.cost`) is multiply-adds per image x images x epochs x 3 (forward and backward),
counted from each reference notebook's own networks for the notebook's training (``notebook_images`` in
``autograder/cost.toml``, the rubric's epochs) and for the grader's retraining (the rubric's ``retrain`` tables).
A network a locked cell defines (06's base) is trained by the grader once per class, not per student.

Seconds per multiply-add come from wall times measured on a device, per notebook (:func:`timing`): a calibration
record or rubric table of the profile itself, else of the smoke profile scaled by the work, less the fixed cost of
grading a notebook. Every input is named in the output. The floor is the same work at the GPU's peak throughput.
"""

from __future__ import annotations

import functools
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import rubric as rubrics
from autograder.course import calibration_records as recs
from autograder.course.reference_models import DATA_SHAPES, reference_builders, retrainings
from autograder.errors import AutograderError
from autograder.modelspec.cost import BACKWARD_FACTOR, sci
from autograder.paths import PACKAGE

COST_FILE = PACKAGE / "cost.toml"
FLOPS_PER_MAC = 2


def settings(path: Path = COST_FILE) -> dict[str, Any]:
    """The planning data: the runner's price, the GPUs' peak throughput, the notebooks' training images."""
    return tomllib.loads(Path(path).read_text())


@dataclass(frozen=True)
class Work:
    """One notebook's training work in a profile, in multiply-adds."""

    assignment: str
    per_image: dict[str, int]  # model -> multiply-adds per image (forward)
    notebook: float  # the notebook's own training, per student
    grader: float  # the grader's retraining, per student
    shared: float  # the grader's training of locked networks, once per class

    @property
    def per_student(self) -> float:
        return self.notebook + self.grader

    @property
    def per_grading(self) -> float:
        """What one grading outside a class run trains: the locked networks too."""
        return self.per_student + self.shared


def _dataset(rubric: rubrics.Rubric) -> Optional[str]:
    return next((s.args_for(p)["dataset"] for s in rubric.checks for p in rubric.profiles
                 if "dataset" in s.args_for(p)), None)


@functools.lru_cache(maxsize=None)
def per_image(assignment: str, profile: str, shape: Optional[tuple[int, ...]]) -> dict[str, int]:
    """Multiply-adds per image of each network the reference notebook saves, built for ``profile`` (once per
    process: the reference notebooks do not change under it)."""
    import keras

    from autograder.modelspec import describe
    from autograder.modelspec.cost import macs_per_image, with_input_shape

    found = {}
    for name, build in reference_builders(assignment, profile).items():
        keras.backend.clear_session()
        description = describe(build())
        found[name] = macs_per_image(with_input_shape(description, shape) if shape else description)
    return found


def work(rubric: rubrics.Rubric, profile: str, images: dict[str, dict[str, int]]) -> Work:
    """``rubric``'s notebook's training work in ``profile``: its own, the grader's per student, the shared."""
    macs = per_image(rubric.id, profile, DATA_SHAPES.get(_dataset(rubric) or ""))
    epochs = rubric.profiles[profile].epochs
    own = images.get(rubric.id, {}).get(profile, 0)
    notebook = sum(m * own * epochs * BACKWARD_FACTOR for m in macs.values())
    grader = shared = 0.0
    for job in retrainings(rubric, profile):
        total = macs[job.model] * job.images * job.epochs * BACKWARD_FACTOR
        if "locked_cell" in rubric.models.get(job.model, {}):
            shared += total
        else:
            grader += total
    return Work(rubric.id, macs, float(notebook), grader, shared)


@dataclass(frozen=True)
class Measured:
    """A notebook's measured grading wall time (median over seeds) on one device, and where it is recorded."""

    wall_s: float
    profile: str
    device: str
    source: str


def _matches(machine: dict[str, Any], device: str) -> bool:
    """Whether ``machine`` is ``device``: "CPU", or a GPU whose name holds it ("T4" in "Tesla T4")."""
    if device == recs.CPU:
        return not recs.on_gpu(machine)
    return recs.on_gpu(machine) and device.lower() in str(machine["device"]).lower()


def measured(rubric: rubrics.Rubric, profile: str, device: str, folder: Path) -> Optional[Measured]:
    """The wall time of grading ``rubric``'s reference in ``profile`` on ``device``: from calibration records,
    else from the rubric's ``[calibration.PROFILE]`` table; None where neither has it."""
    found = [r for r in recs.records(folder, profile)
             if r.get("assignment") == rubric.id and _matches(r["machine"], device)]
    if found:
        seeds = ",".join(str(r["seed"]) for r in found)
        loads = [x for r in found for x in r.get("load_average", [])]
        shared = f" (load average up to {max(loads):g}: other work shared the machine)" if loads else ""
        return Measured(statistics.median(r["wall_s"] for r in found), profile, recs.device_words(found[0]["machine"]),
                        f"calibration/{profile}/{rubric.name}.seed{{{seeds}}}.json{shared}")
    table = tomllib.loads(rubric.path.read_text()).get("calibration", {}).get(profile)
    walls = [w for w in (table or {}).get("wall_s", []) if w == w]  # NaN: not measured
    if not walls or not _matches({k: str(v) for k, v in table.items()}, device):
        return None
    return Measured(statistics.median(walls), profile, recs.device_words(table),
                    f"autograder/rubric/{rubric.path.name} [calibration.{profile}]")


@dataclass(frozen=True)
class Rate:
    """Seconds per multiply-add of grading one notebook on a device, past the fixed cost of a grading."""

    seconds_per_mac: float
    overhead_s: float
    device: str
    basis: str


def rate(rubric: rubrics.Rubric, profile: str, devices: Sequence[str], folder: Path,
         work_in: Any, overhead: dict[str, Optional[Measured]]) -> Optional[Rate]:
    """The first device of ``devices`` with a measurement of ``rubric``'s notebook, in ``profile`` or else in
    smoke (scaled by the work): (wall - the fixed cost) / the work that grading trained (its locked networks too).
    ``work_in(profile)``: the notebook's :class:`Work` there."""
    for device in devices:
        for source_profile in dict.fromkeys((profile, "smoke")):
            found = measured(rubric, source_profile, device, folder)
            if found is None:
                continue
            fixed = overhead.get(device)
            fixed_s = fixed.wall_s if fixed is not None else 0.0
            trained = work_in(source_profile).per_grading
            seconds = max(found.wall_s - fixed_s, 0.1 * found.wall_s) / max(trained, 1.0)
            scaled = "" if source_profile == profile else f", scaled by the work ({sci(trained)} in {source_profile})"
            basis = f"{found.source}: {found.wall_s:.1f} s on {found.device}{scaled}"
            return Rate(seconds, fixed_s, found.device, basis)
    return None



@dataclass(frozen=True)
class Row:
    """One notebook of the plan: its work, its rate and what a class of it costs."""

    work: Work
    rate: Optional[Rate]
    seconds_per_student: float
    shared_seconds: float
    floor_per_student: float  # the same work at the GPU's fp32 peak
    floor_shared: float


@dataclass(frozen=True)
class Plan:
    profile: str
    class_size: int
    gpu: dict[str, Any]
    runner: dict[str, Any]
    rows: tuple[Row, ...]
    overhead: Optional[Measured]

    def hours(self) -> float:
        return sum(r.seconds_per_student * self.class_size + r.shared_seconds for r in self.rows) / 3600

    def floor_hours(self) -> float:
        return sum(r.floor_per_student * self.class_size + r.floor_shared for r in self.rows) / 3600

    def price(self, hours: float) -> float:
        return hours * 60 * float(self.runner["usd_per_minute"])


def estimate(profile: str, class_size: int, gpu: str = "T4", assignments: Optional[Sequence[str]] = None,
             records: Optional[Path] = None, data: Optional[dict[str, Any]] = None) -> Plan:
    """What grading ``class_size`` students' notebooks once in ``profile`` costs, per notebook."""
    data = data or settings()
    if gpu not in data["gpus"]:
        raise AutograderError(f"no peak figures for GPU {gpu!r} in {COST_FILE.name}: one of {', '.join(data['gpus'])}")
    if class_size < 1:
        raise AutograderError("--class-size must be at least 1")
    folder = Path(records) if records is not None else recs.RECORDS_DIR
    every = rubrics.all_rubrics()
    chosen = [r for a, r in sorted(every.items()) if not assignments or a in assignments or r.name in assignments]
    fixed_rubric = every.get(str(data["calibration"]["overhead_notebook"]))
    devices = (gpu, recs.CPU)
    overhead = {d: measured(fixed_rubric, "smoke", d, folder) if fixed_rubric else None for d in devices}
    peak = float(data["gpus"][gpu]["fp32_tflops"]) * 1e12 / FLOPS_PER_MAC  # multiply-adds per second
    rows = []
    for rubric in chosen:
        works: dict[str, Work] = {}

        def work_in(p: str, rubric: rubrics.Rubric = rubric) -> Work:
            return works.setdefault(p, work(rubric, p, data["notebook_images"]))

        found = rate(rubric, profile, devices, folder, work_in, overhead)
        rows.append((rubric, work_in(profile), found))
    known = [r.seconds_per_mac for _, _, r in rows if r is not None]
    return Plan(profile, class_size, data["gpus"][gpu], data["runner"],
                tuple(_row(w, r, known, overhead.get(recs.CPU), peak) for _, w, r in rows), overhead.get(recs.CPU))


def _row(work_: Work, found: Optional[Rate], known: Sequence[float], overhead: Optional[Measured],
         peak: float) -> Row:
    if found is None:
        fixed = overhead.wall_s if overhead is not None else 0.0
        found = Rate(statistics.median(known) if known else 0.0, fixed, recs.CPU,
                     "no measurement: the median rate of the notebooks measured")
    return Row(work_, found, found.overhead_s + found.seconds_per_mac * work_.per_student,
               found.seconds_per_mac * work_.shared, work_.per_student / peak, work_.shared / peak)


def _models(work_: Work) -> str:
    return ", ".join(f"{name} {sci(m)}" for name, m in work_.per_image.items())


def render(plan: Plan) -> str:
    """The plan as a table, the totals and prices marked as estimates, and every input with its source."""
    gpu = plan.gpu
    n = plan.class_size
    lines = [f"Training cost of grading a class of {n} once, {plan.profile} profile: AN ESTIMATE (basis below)",
             f"work = multiply-adds per image x images x epochs x {BACKWARD_FACTOR} (forward and backward)", "",
             f"{'nb':<3} {'networks (MACs per image)':<42} {'notebook':>8} {'grader':>8} {'per class':>9} "
             f"{'s/student':>9} {'class h':>8} {'floor h':>8}  measured on"]
    for row in plan.rows:
        w = row.work
        hours = (row.seconds_per_student * n + row.shared_seconds) / 3600
        floor = (row.floor_per_student * n + row.floor_shared) / 3600
        lines.append(f"{w.assignment:<3} {_models(w)[:42]:<42} {sci(w.notebook):>8} {sci(w.grader):>8} "
                     f"{sci(w.shared) if w.shared else '-':>9} {row.seconds_per_student:>9.1f} {hours:>8.2f} "
                     f"{floor:>8.3f}  {row.rate.device if row.rate else '-'}")
    hours, floor = plan.hours(), plan.floor_hours()
    lines += [f"{'total':<86} {hours:>8.2f} {floor:>8.3f}", "",
              "notebook, grader: work per student; per class: networks a locked cell defines (06's base), trained "
              "by the grader once per class and seed.",
              f"class h: (the fixed cost of a grading + seconds per multiply-add x work) x {n} students + the "
              "per-class work, at each notebook's measured rate.",
              f"floor h: the same work at the {gpu['name']}'s peak, {gpu['fp32_tflops']:g} TFLOPS fp32 (the course "
              f"trains in float32; {gpu['fp16_tflops']:g} TFLOPS fp16 with mixed precision), no fixed cost: "
              f"{gpu['source']}.", "",
              f"price on the {plan.runner['name']} at ${plan.runner['usd_per_minute']:g} a minute "
              f"({plan.runner['source']}):",
              f"  at the measured rates: ${plan.price(hours):,.2f} (an estimate; where the rate is a CPU's, an upper "
              "bound for a GPU)",
              f"  at the floor:          ${plan.price(floor):,.2f} (no GPU runs faster than its peak)", "",
              "inputs (seconds per multiply-add, per notebook):"]
    for row in plan.rows:
        basis = row.rate.basis if row.rate else "none"
        per = f"{row.rate.seconds_per_mac * 1e12:.3g} s per 1e12" if row.rate else "-"
        lines.append(f"  {row.work.assignment}: {per} from {basis}")
    fixed = plan.overhead
    words = (f"{fixed.wall_s:.1f} s, {fixed.source} on {fixed.device} (its training is a fraction of it)"
             if fixed else "none measured")
    lines.append(f"  the fixed cost of a grading: {words}")
    lines.append(f"  images per notebook: {COST_FILE.name} [notebook_images]; epochs and the grader's retraining: "
                 "the rubrics; networks: reference_solutions/")
    return "\n".join(lines)
