"""`python -m autograder actions`: what a student sees on the run page (job summary, annotations naming notebook
and cell, the commit status "Points P/M"), and `job-key`, the key a notebook's stored result is reused under."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.paths import ROOT
from autograder.pipeline import report
from autograder.results import CheckResult, Status
from tests.notebooks import RELEASED, WARMUP



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


def run_actions(*args, env=None):
    return subprocess.run([sys.executable, "-m", "autograder", "actions", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture()
def run_dir(tmp_path):
    submission = tmp_path / "repo"
    shutil.copytree(RELEASED / WARMUP, submission / WARMUP)
    grading = tmp_path / "grading"
    warmup_results(grading / WARMUP)
    raised = raise_in_submit_cell(submission / WARMUP / f"{WARMUP}.ipynb", grading / WARMUP / f"{WARMUP}.ipynb")
    return submission, grading, raised


def step_output(output_file: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output_file.read_text().splitlines())


def test_summary_annotations_and_status(run_dir, tmp_path):
    submission, grading, raised = run_dir
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    result = run_actions(str(grading), "--submission", str(submission), "--expect", "00", "--annotate",
                         "--step-output", str(output), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stderr
    status = step_output(output)  # graded to the end: green whatever the score
    assert status == {"state": "success", "description": "Points 0.5/4", "points": "0.5", "max_points": "4"}

    text = (submission / WARMUP / f"{WARMUP}.ipynb").read_text()
    notes = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(notes) == 3 and all(n.startswith(f"::error file={WARMUP}/{WARMUP}.ipynb,line=") for n in notes)
    grade_cell = next(c for c in nbformat.reads(text, as_version=4).cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") == "test_params_by_hand")
    line_of = lambda note: int(note.split(",line=")[1].split(",")[0])  # noqa: E731
    hand = next(n for n in notes if "params_by_hand" in n)
    assert text.splitlines()[line_of(hand) - 1].strip() == f'"id": "{grade_cell.id}",'  # its grade cell
    accuracy = next(n for n in notes if "00 accuracy" in n)  # an execution error points at the cell that raised
    assert text.splitlines()[line_of(accuracy) - 1].strip() == f'"id": "{raised}",'
    assert "title=00 accuracy%3A error (0/2)::00_warmup in cell" in accuracy
    assert "00 Warm-up" in summary.read_text() and "0.5 / 4" in summary.read_text()
    assert summary.read_text() in (grading / "summary.md").read_text() + "\n"


def test_a_notebook_without_results_makes_the_status_an_error(run_dir, tmp_path):
    _, grading, _ = run_dir
    output = tmp_path / "github_output"
    result = run_actions(str(grading), "--expect", "00", "03", "--annotate", "--step-output", str(output))
    assert result.returncode == 0, result.stderr
    status = step_output(output)
    assert status["state"] == "error" and status["description"].startswith("Points 0.5/")
    assert "no results" in status["description"] and float(status["max_points"]) > 4
    lenet = [n for n in result.stdout.splitlines() if n.startswith("::error") and "title=03 " in n]
    assert lenet and all("did not finish" in n for n in lenet)


def test_red_below_a_fraction(run_dir, tmp_path):
    _, grading, _ = run_dir
    output = tmp_path / "github_output"
    assert run_actions(str(grading), "--red-below", "0.5", "--step-output", str(output)).returncode == 0
    assert step_output(output)["state"] == "failure"
    output.unlink()
    assert run_actions(str(grading), "--red-below", "0.1", "--step-output", str(output)).returncode == 0
    assert step_output(output)["state"] == "success"


def test_job_key_is_the_key_batch_stores_a_result_under(run_dir, tmp_path):
    """The workflow's cache key of a notebook's result: batch's job_key, changed by the notebook and the limits."""
    from autograder.classrun.store import job_key
    from autograder.grading import GradingSettings

    submission, _, _ = run_dir
    key = lambda *extra: subprocess.run([sys.executable, "-m", "autograder", "job-key", str(submission),  # noqa: E731
                                         "--assignment", "00", "--profile", "full", "--data-dir", "/data", *extra],
                                        cwd=ROOT, capture_output=True, text=True, timeout=120).stdout.strip()
    first = key("--notebook-timeout", "1200")
    settings = GradingSettings("full", "/data", 0, limits={"notebook_timeout": 1200.0}, sandbox="require")
    assert first == job_key(submission, WARMUP, settings)
    assert key("--notebook-timeout", "1200") == first and key("--notebook-timeout", "600") != first
    (submission / WARMUP / "notes.txt").write_text("changed")
    assert key("--notebook-timeout", "1200") != first
