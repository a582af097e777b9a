"""`python -m autograder classroom`: the payload GitHub Classroom's reporter decodes, annotations, summary.

The reporter (classroom-resources/autograding-grading-reporter) reads ``<RUNNER>_RESULTS`` as base64 of a JSON
object; Classroom's points are the sum of ``tests[].score`` over ``max_score``; its step fails when ``status`` is
``"fail"`` or ``"error"``; a test's ``status`` is ``pass``, ``fail`` or ``error``.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.pipeline import report
from autograder.results import CheckResult, Status
from tests.conftest import ROOT
from tests.notebooks import RELEASED

WARMUP = "00_warmup"


def warmup_results(folder: Path) -> None:
    """A results.json as `grade --out` writes it: partial credit, a failure, an error, a zero-point flag."""
    rows = [CheckResult("00", "locked_cells", "Locked cells", 0, 0, Status.PASS, "as released"),
            CheckResult("00", "structure", "Structure", 0.5, 1, Status.FAIL, "half: no conv, layers right"),
            CheckResult("00", "params_by_hand", "Hand count", 0, 1, Status.FAIL, "1,234 is not 8,714"),
            CheckResult("00", "accuracy", "Accuracy", 0, 2, Status.ERROR, "ValueError: no model yet"),
            CheckResult("00", "history", "History", 0, 0, Status.PASS, "agrees")]
    folder.mkdir(parents=True)
    report.write_json(folder / "results.json", rows, {"submission": "s", "profile": "full", "seed": 0})


def raise_in_submit_cell(released: Path, executed: Path) -> str:
    """The executed notebook with an error output in the cell that calls submit(); that cell's id."""
    nb = nbformat.read(released, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "submit(" in c.source)
    cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="no model yet", traceback=[])]
    nbformat.write(nb, executed)
    return cell.id


def run_classroom(*args, env=None):
    return subprocess.run([sys.executable, "-m", "autograder", "classroom", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture()
def run_dir(tmp_path):
    submission = tmp_path / "repo"
    shutil.copytree(RELEASED / WARMUP, submission / WARMUP)
    grading = tmp_path / "grading"
    warmup_results(grading / WARMUP)
    raised = raise_in_submit_cell(submission / WARMUP / f"{WARMUP}.ipynb", grading / WARMUP / f"{WARMUP}.ipynb")
    return submission, grading, raised


def decode(output_file: Path) -> dict:
    (line,) = [line for line in output_file.read_text().splitlines() if line.startswith("result=")]
    return json.loads(base64.b64decode(line.removeprefix("result=")))


def test_payload_is_what_the_reporter_decodes(run_dir, tmp_path):
    submission, grading, raised = run_dir
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    result = run_classroom(str(grading), "--submission", str(submission), "--expect", "00", "--annotate",
                           "--step-output", str(output), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stderr
    data = decode(output)
    assert data["version"] == 1 and data["status"] == "pass"  # graded to the end: green whatever the score
    assert data["max_score"] == 4 and sum(t["score"] for t in data["tests"]) == 0.5  # what Classroom shows
    tests = {t["name"].split(":")[0]: t for t in data["tests"]}
    assert [t["status"] for t in tests.values()] == ["pass", "fail", "fail", "error", "pass"]
    assert set(data["tests"][0]) >= {"name", "status", "score", "message", "test_code", "filename", "line_no"}

    text = (submission / WARMUP / f"{WARMUP}.ipynb").read_text()
    hand = tests["00 params_by_hand"]
    assert hand["filename"] == f"{WARMUP}/{WARMUP}.ipynb"
    grade_cell = next(c for c in nbformat.reads(text, as_version=4).cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") == "test_params_by_hand")
    assert text.splitlines()[hand["line_no"] - 1].strip() == f'"id": "{grade_cell.id}",'  # its grade cell
    accuracy = tests["00 accuracy"]  # an execution error points at the cell that raised
    assert text.splitlines()[accuracy["line_no"] - 1].strip() == f'"id": "{raised}",'

    notes = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(notes) == 3 and all(n.startswith(f"::error file={WARMUP}/{WARMUP}.ipynb,line=") for n in notes)
    assert "title=00 accuracy%3A error (0/2)::00_warmup in cell" in notes[2]
    assert "00 Warm-up" in summary.read_text() and "0.5 / 4" in summary.read_text()


def test_a_notebook_without_results_makes_the_job_red(run_dir, tmp_path):
    _, grading, _ = run_dir
    output = tmp_path / "github_output"
    assert run_classroom(str(grading), "--expect", "00", "03", "--step-output", str(output)).returncode == 0
    data = decode(output)
    assert data["status"] == "error"  # the reporter fails its step: 03's job never finished
    lenet = [t for t in data["tests"] if t["name"].startswith("03 ")]
    assert lenet and {t["status"] for t in lenet} == {"error"} and "did not finish" in lenet[0]["message"]
    assert data["max_score"] > 4


def test_red_below_a_fraction(run_dir, tmp_path):
    _, grading, _ = run_dir
    output = tmp_path / "github_output"
    assert run_classroom(str(grading), "--red-below", "0.5", "--step-output", str(output)).returncode == 0
    assert decode(output)["status"] == "fail"


@pytest.mark.skipif(not os.environ.get("CLASSROOM_REPORTER_JS"),
                    reason="set CLASSROOM_REPORTER_JS to the reporter's dist/main.js to run it on the payload")
def test_the_real_reporter_reads_the_points(run_dir, tmp_path):
    _, grading, _ = run_dir
    output = tmp_path / "github_output"
    run_classroom(str(grading), "--step-output", str(output))
    encoded = output.read_text().strip().removeprefix("result=")
    done = subprocess.run(["node", os.environ["CLASSROOM_REPORTER_JS"]], capture_output=True, text=True,
                          env={**os.environ, "INPUT_RUNNERS": "autograde", "AUTOGRADE_RESULTS": encoded})
    assert '{"totalPoints":0.5,"maxPoints":4}' in done.stdout and done.returncode == 0
