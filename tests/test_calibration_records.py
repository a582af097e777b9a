"""`make calibrate` stores each notebook and seed as it finishes, and a second run resumes where the first stopped."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from autograder import rubric as rubrics
from autograder.course import calibration_records as recs
from autograder.course.calibrate import Calibration, measure, table, write

CPU = {"device": "CPU", "cpu": "Test CPU", "cores": "2"}
GPU = {"device": "NVIDIA H100 80GB HBM3", "driver": "550.54", "cuda": "12.4"}


def test_a_record_is_reused_for_the_same_grader_and_rubric_and_a_gpu_replaces_a_cpu():
    rubric = rubrics.find("00")
    key = recs.record_key(rubric, "full", 0)
    assert set(key) == {"grader", "rubric", "reference", "profile", "seed"}
    on_cpu = {"key": key, "machine": CPU}
    assert recs.reusable(on_cpu, key, CPU)
    assert not recs.reusable(on_cpu, key, GPU)  # a GPU run measures what a CPU measured
    assert recs.reusable({"key": key, "machine": GPU}, key, CPU)  # a CPU never replaces a GPU's figure
    assert not recs.reusable({"key": {**key, "rubric": "edited"}, "machine": CPU}, key, CPU)
    assert not recs.reusable({"key": {**key, "seed": 1}, "machine": CPU}, key, CPU)
    assert not recs.reusable(None, key, CPU)


def test_recording_figures_in_a_rubric_keeps_its_records_current(tmp_path):
    """The rubric digest leaves out what calibration writes (reference figures, [calibration.*]): writing them
    must not send the next run back to the start."""
    shutil.copytree(rubrics.RUBRIC_DIR, tmp_path / "rubric", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = tmp_path / "rubric" / "03_lenet5.toml"
    before = recs.rubric_digest(rubrics.load(path))
    write(Calibration("full", [0], {("03", "accuracy"): [0.99]}, {"03": [30.0]}, {"03": [None]}, dict(CPU)),
          tmp_path / "rubric")
    assert "reference_accuracy = [0.99]" in path.read_text()
    assert recs.rubric_digest(rubrics.load(path)) == before
    path.write_text(path.read_text().replace("min_accuracy = 0.975", "min_accuracy = 0.97"))
    assert recs.rubric_digest(rubrics.load(path)) != before  # a threshold is what it grades with


def test_an_unreadable_record_is_graded_again(tmp_path):
    path = tmp_path / "smoke" / "00_warmup.seed0.json"
    path.parent.mkdir()
    path.write_text("{ half a record")
    assert recs.load_record(path) is None and recs.records(tmp_path, "smoke") == []


@pytest.mark.notebooks
def test_a_second_run_resumes_where_the_first_stopped(tmp_path, data_dir):
    records = tmp_path / "calibration"
    first = measure("smoke", [0], ["00"], str(data_dir), records=records)
    path = records / "smoke" / "00_warmup.seed0.json"
    stored = json.loads(path.read_text())
    assert stored["assignment"] == "00" and stored["seed"] == 0 and stored["profile"] == "smoke"
    assert stored["machine"]["device"] == "CPU" and stored["machine"]["cpu"] and stored["machine"]["keras"]
    assert stored["key"]["grader"] and stored["wall_s"] > 0 and stored["values"]["accuracy"] > 0.5
    assert first.values[("00", "accuracy")] == [stored["values"]["accuracy"]]

    started = time.perf_counter()
    second = measure("smoke", [0], ["00"], str(data_dir), records=records)
    assert time.perf_counter() - started < stored["wall_s"]  # nothing graded: the record stands
    assert json.loads(path.read_text()) == stored
    assert second.values == first.values and second.wall_s == first.wall_s
    assert "00 accuracy" in table(second)
