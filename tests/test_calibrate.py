"""Recording what the references reached: figures per seed, the machine, and never a CPU run as full."""

from __future__ import annotations

import shutil
import tomllib

import pytest

from autograder import rubric as rubrics
from autograder.course.calibrate import Calibration, from_json, merge, table, to_json, write
from autograder.errors import AutograderError


@pytest.fixture()
def rubric_copy(tmp_path):
    shutil.copytree(rubrics.RUBRIC_DIR, tmp_path / "rubric", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return tmp_path / "rubric"


def measured(profile: str, device: str) -> Calibration:
    return Calibration(
        profile, [0, 1, 2],
        values={("03", "accuracy"): [0.99, 0.991, 0.989], ("06", "beats_base"): [0.05, 0.06, 0.07],
                ("03", "param_count"): [61706, 61706, 61706], ("06", "epochs"): [50, 50, 50]},
        wall_s={"03": [30.5, 31.0, 29.9], "06": [400.0, 410.0, 405.0]},
        peak_gpu_mb={"03": [1200, 1210, 1190], "06": [None, None, None]},
        machine={"device": device, "driver": "550.54", "cuda": "12.4", "tensorflow": "2.21.0", "keras": "3.15.1"},
    )


def test_figures_and_machine_are_recorded_per_seed(rubric_copy):
    changed = write(measured("full", "NVIDIA H100 80GB HBM3"), rubric_copy)
    assert {p.name for p in changed} == {"03_lenet5.toml", "06_separable_cifar10.toml"}
    lenet = rubrics.load(rubric_copy / "03_lenet5.toml")
    assert lenet.check("accuracy").references("full") == {"reference_accuracy": [0.99, 0.991, 0.989]}
    assert lenet.check("accuracy").args_for("full")["min_accuracy"] == 0.975  # thresholds are a person's call
    assert lenet.check("param_count").references("full") == {}  # no threshold, nothing recorded
    separable = rubrics.load(rubric_copy / "06_separable_cifar10.toml")
    assert separable.check("beats_base").references("full") == {"reference_gap": [0.05, 0.06, 0.07]}
    assert separable.check("epochs").references("full") == {"reference_epochs": [50, 50, 50]}  # not an accuracy
    run = tomllib.loads((rubric_copy / "03_lenet5.toml").read_text())["calibration"]["full"]
    assert run["device"] == "NVIDIA H100 80GB HBM3" and run["wall_s"] == [30.5, 31.0, 29.9]
    assert run["peak_gpu_mb"] == [1200, 1210, 1190] and run["seeds"] == [0, 1, 2]


def test_writing_twice_replaces_not_appends(rubric_copy):
    write(measured("full", "NVIDIA H100 80GB HBM3"), rubric_copy)
    once = (rubric_copy / "03_lenet5.toml").read_text()
    write(measured("full", "NVIDIA H100 80GB HBM3"), rubric_copy)
    assert (rubric_copy / "03_lenet5.toml").read_text() == once


def test_a_cpu_may_record_full_profile_figures_labelled_until_a_gpu_replaces_them(rubric_copy):
    write(measured("full", "CPU"), rubric_copy)
    text = (rubric_copy / "03_lenet5.toml").read_text()
    line = next(l for l in text.splitlines() if l.startswith("full =") and "reference_accuracy" in l)
    assert line.endswith("# CPU-measured"), line
    assert rubrics.load(rubric_copy / "03_lenet5.toml").check("accuracy").references("full")
    assert tomllib.loads(text)["calibration"]["full"]["device"] == "CPU"
    assert "CPU-measured" in table(measured("full", "CPU"))
    write(measured("full", "NVIDIA H100 80GB HBM3"), rubric_copy)  # the GPU's figures replace the label
    again = (rubric_copy / "03_lenet5.toml").read_text()
    assert "CPU-measured" not in again and tomllib.loads(again)["calibration"]["full"]["device"].startswith("NVIDIA")
    write(measured("smoke", "CPU"), rubric_copy)  # smoke runs on a CPU: nothing to label
    assert "CPU-measured" not in (rubric_copy / "03_lenet5.toml").read_text()
    assert "CPU-measured" not in table(measured("smoke", "CPU"))


def test_a_comment_after_a_profile_table_is_kept(rubric_copy):
    path = rubric_copy / "06_separable_cifar10.toml"
    write(measured("full", "CPU"), rubric_copy)
    line = next(l for l in path.read_text().splitlines() if l.startswith("full =") and "reference_gap" in l)
    assert line == "full = { margin = 0.0, reference_gap = [0.05, 0.06, 0.07] }  # CPU-measured", line


def test_the_table_shows_thresholds_figures_and_times():
    text = table(measured("full", "NVIDIA H100 80GB HBM3"))
    assert "03 accuracy" in text and "min_accuracy=0.975" in text and "0.99, 0.991, 0.989" in text
    assert "30.5, 31, 29.9" in text and "NVIDIA H100" in text


def test_a_checks_line_below_the_calibration_table_is_refused(rubric_copy):
    """TOML reads a line under [calibration.smoke] as part of it: a check's ``full = {...}`` written there would
    silently leave its check (06's history check lost its full profile that way)."""
    path = rubric_copy / "06_separable_cifar10.toml"
    path.write_text(path.read_text() + 'full = { validation_size = 10000 }\n')
    with pytest.raises(AutograderError, match=r"\[calibration.smoke\] holds full; keep every check's lines above"):
        rubrics.load(path)


def test_seeds_run_side_by_side_merge_into_one_calibration_through_json():
    """The GPU kit runs each seed in a process of its own; their calibration.json files merge as one run."""
    whole = measured("full", "NVIDIA H100 80GB HBM3")
    parts = [Calibration("full", [seed], {k: [v[i]] for k, v in whole.values.items()},
                         {k: [v[i]] for k, v in whole.wall_s.items()},
                         {k: [v[i]] for k, v in whole.peak_gpu_mb.items()}, dict(whole.machine))
             for i, seed in enumerate(whole.seeds)]
    assert merge([from_json(to_json(part)) for part in parts]) == whole
    other = Calibration("full", [3], machine={**whole.machine, "device": "NVIDIA A100"})
    with pytest.raises(AutograderError, match="another profile or machine"):
        merge([parts[0], other])
