"""`python -m autograder cost`: work from the reference networks, hours from measured rates, named inputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from autograder.course import cost_plan
from autograder.errors import AutograderError
from autograder.paths import ROOT


def cpu_record(assignment: str, name: str, profile: str, wall_s: float, device: str = "CPU") -> dict:
    machine = {"device": device, "cpu": "Test CPU", "cores": "2"} if device == "CPU" else {"device": device}
    return {"assignment": assignment, "name": name, "profile": profile, "seed": 0, "key": {}, "machine": machine,
            "wall_s": wall_s, "peak_gpu_mb": None, "values": {}, "finished": "2026-12-07T00:00:00+00:00"}


@pytest.fixture()
def records(tmp_path):
    """A records folder with 03 measured in full on a CPU (as `make calibrate PROFILE=full` leaves it)."""
    folder = tmp_path / "calibration"
    (folder / "full").mkdir(parents=True)
    (folder / "full" / "03_lenet5.seed0.json").write_text(json.dumps(cpu_record("03", "03_lenet5", "full", 300.0)))
    return folder


def test_the_cli_prints_a_table_whose_cpu_measured_inputs_are_named(records):
    done = subprocess.run([sys.executable, "-m", "autograder", "cost", "--profile", "full", "--class-size", "200",
                           "--gpu", "T4", "--assignment", "03", "06", "--records", str(records)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert "class of 200" in text and "AN ESTIMATE" in text
    assert re.search(r"^03 .*model 4\.3e5", text, re.M) and re.search(r"^06 .*base 5\.5e7.*3\.3e14", text, re.M)
    assert "03: " in text and "calibration/full/03_lenet5.seed{0}.json: 300.0 s on CPU (Test CPU, 2 cores)" in text
    assert "06: " in text and "06_separable_cifar10.toml [calibration.smoke]" in text and "scaled by the work" in text
    assert "8.1 TFLOPS fp32" in text and "NVIDIA T4" in text and "$0.05 a minute" in text
    assert re.search(r"at the measured rates: \$[\d,.]+ \(an estimate", text)


def test_hours_and_prices_scale_linearly_with_the_class(records):
    small = cost_plan.estimate("full", 100, "T4", ["03", "06"], records)
    large = cost_plan.estimate("full", 200, "T4", ["03", "06"], records)
    shared = sum(r.shared_seconds for r in large.rows) / 3600
    assert shared > 0  # 06's base: once per class, whatever its size
    assert large.hours() - shared == pytest.approx(2 * (small.hours() - shared))
    floor_shared = sum(r.floor_shared for r in large.rows) / 3600
    assert large.floor_hours() - floor_shared == pytest.approx(2 * (small.floor_hours() - floor_shared))
    assert large.price(large.hours()) == pytest.approx(large.hours() * 60 * 0.05)
    lenet = large.rows[0]
    # 03 measured in full: 300 s is the fixed cost plus its rate times the work it trained
    assert lenet.seconds_per_student == pytest.approx(300.0, rel=1e-6)
    assert lenet.floor_per_student == pytest.approx(lenet.work.per_student * 2 / 8.1e12)


def test_a_gpu_figure_replaces_the_cpu_one(records):
    gpu = cpu_record("03", "03_lenet5", "full", 40.0, device="Tesla T4")
    (records / "full" / "03_lenet5.seed1.json").write_text(json.dumps({**gpu, "seed": 1}))
    row = cost_plan.estimate("full", 10, "T4", ["03"], records).rows[0]
    assert row.rate.device == "Tesla T4" and row.seconds_per_student == pytest.approx(40.0)
    assert "03_lenet5.seed{1}.json" in row.rate.basis
    cpu_row = cost_plan.estimate("full", 10, "A100", ["03"], records).rows[0]
    assert cpu_row.rate.device.startswith("CPU")  # no A100 figure: the CPU's stands


def test_an_unknown_gpu_is_refused_by_name(records):
    with pytest.raises(AutograderError, match="no peak figures for GPU 'V100'"):
        cost_plan.estimate("full", 10, "V100", ["03"], records)
