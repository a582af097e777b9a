"""End to end through the real CLI: one class, one submission per failure mode.

Every submission is graded in one `batch` run, which proves that a broken
notebook never stops the others.
"""

import csv
import json
import os
import subprocess
import sys
from xml.etree import ElementTree as ET

import nbformat
import pytest

from autograder.paths import ROOT
from tests.notebooks import WARMUP, cell, variant

pytestmark = pytest.mark.notebooks  # every test here grades notebooks end to end


def wrong(nb):
    cell(nb, "build_model").source = (
        "def build_model():\n"
        "    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(10, activation='softmax')])\n"
        "    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "    return model\n"
    )
    cell(nb, "answers").source = "PARAMS_BY_HAND = 1234"


def raises(nb):
    cell(nb, "build_model").source = "def build_model():\n    raise ValueError('no model yet')\n"


def loops(nb):  # idle, so that it leaves the cores to the other test workers (tests/test_hostile_class.py spins)
    cell(nb, "answers").source = "import time\nwhile True:\n    time.sleep(1)"


def dies(nb):
    cell(nb, "answers").source = "import os\nos._exit(3)"


def tampered(nb):
    train = cell(nb, "train")
    train.source = train.source.replace("epochs=EPOCHS", "epochs=1")
    nb.cells.remove(cell(nb, "test_accuracy"))


def floods(nb):
    cell(nb, "answers").source += "\nfor i in range(200_000):\n    print('spam', i)"


def broken(path):
    (path / WARMUP / f"{WARMUP}.ipynb").write_text("{ this is not json")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    students = root / "submitted"
    for name, edit in [("good", None), ("wrong", wrong), ("raises", raises), ("loops", loops), ("dies", dies),
                       ("tampered", tampered), ("floods", floods)]:
        variant(students / name, WARMUP, edit)
    broken(variant(students / "broken", WARMUP))
    (students / "absent").mkdir()
    out = root / "grading"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", str(students), "--assignment", "00", "--out", str(out),
         "--cell-timeout", "20", "--notebook-timeout", "90"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {s.name: json.loads((out / s.name / "results.json").read_text()) for s in students.iterdir()}
    return out, results, proc.stdout


def statuses(results, student):
    return {r["id"]: r["status"] for r in results[student]["results"]}


def messages(results, student):
    return {r["id"]: r["message"] for r in results[student]["results"]}


def test_correct_submission_gets_full_points(graded):
    out, results, _ = graded
    totals = results["good"]["totals"]
    assert totals["points"] == totals["max_points"] == 4
    assert set(statuses(results, "good").values()) == {"pass"}
    assert (out / "good" / "00_warmup.ipynb").exists()
    html = (out / "good" / "00_warmup.html").read_text()
    assert "Feedback: 00" in html and "params_by_hand" in html


def test_wrong_submission_fails_the_right_checks(graded):
    _, results, _ = graded
    status = statuses(results, "wrong")
    assert status["structure"] == "fail" and status["params_by_hand"] == "fail"
    assert status["locked_cells"] == "pass"
    text = messages(results, "wrong")
    assert "no conv layer" in text["structure"]
    assert "1,234" in text["params_by_hand"] and "650" not in text["params_by_hand"]  # wrong, not the answer


def test_raising_notebook_is_an_error_naming_the_cell(graded):
    _, results, _ = graded
    status = statuses(results, "raises")
    assert {status[c] for c in ("structure", "params_by_hand", "accuracy")} == {"error"}
    assert "ValueError: no model yet" in messages(results, "raises")["accuracy"]


def test_infinite_loop_times_out(graded):
    _, results, _ = graded
    assert statuses(results, "loops")["accuracy"] == "timeout"
    assert "20 s limit per cell" in messages(results, "loops")["accuracy"]


def test_dead_kernel_is_reported(graded):
    _, results, _ = graded
    assert statuses(results, "dies")["accuracy"] == "kernel-died"


def test_tampered_cells_are_restored_and_reported(graded):
    out, results, _ = graded
    status = statuses(results, "tampered")
    assert status["locked_cells"] == "tampered"
    text = messages(results, "tampered")["locked_cells"]
    assert "'train' was edited" in text and "'test_accuracy' was deleted" in text
    assert results["tampered"]["totals"]["points"] == 4  # graded with the released cells
    executed = nbformat.read(out / "tampered" / "00_warmup.ipynb", as_version=4)
    assert "epochs=EPOCHS" in cell(executed, "train").source


def test_output_flood_is_capped(graded):
    out, results, _ = graded
    assert statuses(results, "floods")["output_size"] == "fail"
    assert (out / "floods" / "00_warmup.ipynb").stat().st_size < 3_000_000


def test_unreadable_and_missing_notebooks(graded):
    _, results, _ = graded
    assert set(statuses(results, "broken").values()) == {"error"}
    assert "not a readable notebook" in messages(results, "broken")["accuracy"]
    assert set(statuses(results, "absent").values()) == {"missing-artifact"}


def test_class_reports(graded):
    out, results, stdout = graded
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert {r["student"] for r in rows} == set(results)
    assert {r["student"]: float(r["points"]) for r in rows}["good"] == 4
    junit = ET.parse(out / "wrong" / "junit.xml").getroot()
    assert junit.find(".//testcase[@name='structure']/failure") is not None
    summary = (out / "good" / "summary.md").read_text()
    assert "4 / 4" in summary
    assert "good: 4 / 4" in stdout


def test_step_summary_is_appended(tmp_path):
    """GITHUB_STEP_SUMMARY gets the grade, the kernel never sees GITHUB_TOKEN, and a cell whose output trails its
    reply by 8 s (a busy runner) is graded all the same. Every assertion reads what the grader decides (the score,
    from the artifacts and the cells' replies), never whether a kernel's output arrived: on a loaded machine a
    stream message may come after the grader stopped listening, and an assertion on it was flaky."""
    summary = tmp_path / "step_summary.md"

    def snoops(nb):  # the probe raises where the token is visible: the notebook stops there and earns nothing
        cell(nb, "build_model").source += (
            "\nimport os\nif os.environ.get('GITHUB_TOKEN') is not None:"
            "\n    raise RuntimeError('GITHUB_TOKEN reached the kernel: ' + os.environ['GITHUB_TOKEN'])")
        cell(nb, "answers").source += (
            "\nimport sys, time\nsys.stdout.flush_timeout = sys.stderr.flush_timeout = 1"
            "\nget_ipython().kernel.iopub_thread.schedule(lambda: time.sleep(8))")

    variant(tmp_path / "sub", WARMUP, snoops)
    proc = subprocess.run(  # relative paths, as `make grade` passes them
        [sys.executable, "-m", "autograder", "grade", "sub", "--out", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_TOKEN": "secret-token"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "GITHUB_TOKEN reached" not in json.dumps(results), "the kernel's environment is not scrubbed"
    assert "total: 4 / 4" in proc.stdout, proc.stdout[-2000:]
    assert "Autograder results (smoke profile): 4 / 4" in summary.read_text()
    executed = (tmp_path / "out" / "00_warmup.ipynb").read_text()
    kernel_log = (tmp_path / "out" / "00_warmup.kernel.log").read_text()
    assert "secret-token" not in executed + kernel_log + proc.stdout + proc.stderr + summary.read_text()
