"""`pytest --submission DIR`: the warm-up's checks as test items, with the statuses and points of `grade`."""

import json
import os
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

from autograder.paths import ROOT
from tests.notebooks import variant
from tests.routes import plugin_args


def wrong_hand_count(nb) -> None:
    for c in nb.cells:
        if c.cell_type == "code" and "PARAMS_BY_HAND =" in c.source:
            c.source = "PARAMS_BY_HAND = 1234"
            return
    raise AssertionError("no PARAMS_BY_HAND cell")


@pytest.mark.notebooks
@pytest.mark.parametrize("edit", [None, wrong_hand_count], ids=["correct", "wrong"])
def test_pytest_reports_what_grade_reports(tmp_path, data_dir, edit):
    submission = variant(tmp_path / "submission", "00_warmup", edit)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_COURSE_DATA": str(data_dir)}
    junit = tmp_path / "junit.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", *plugin_args(), "--submission", str(submission),
                          "--profile", "smoke", "--junitxml", str(junit), "-p", "no:cacheprovider", "-q"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)  # not the project root
    grade = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--profile", "smoke",
                            "--out", str(tmp_path / "grading")], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=600)
    assert grade.returncode == 0, grade.stderr

    rows = json.loads((tmp_path / "grading" / "results.json").read_text())["results"]
    checks = [r for r in rows if r["id"] not in ("locked_cells", "output_size", "feedback")]
    cases = ET.parse(junit).getroot().iter("testcase")
    reported = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")} for c in cases}
    assert list(reported) == [r["id"] for r in checks]  # one item per rubric check, and no project test
    for r in checks:
        assert reported[r["id"]] == {"status": r["status"], "points": str(r["points"]),
                                     "max_points": str(r["max_points"])}
    failed = [r["id"] for r in checks if r["status"] != "pass"]
    assert run.returncode == (1 if failed else 0), run.stdout[-3000:]
    assert failed == ([] if edit is None else ["params_by_hand"])
    assert "total: " in run.stdout  # the score table in the terminal summary


ESCAPES = "\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07\r\x1b[2Kall checks passed"


@pytest.mark.notebooks
@pytest.mark.parametrize("route", ["pytest", "grade"])
def test_no_terminal_escape_of_a_file_name_reaches_the_terminal(tmp_path, data_dir, route):
    """A file named with OSC 52 (writes the clipboard) and erase-line is named, escaped, in the score table."""
    from tests.notebooks import RELEASED

    submission = variant(tmp_path / "submission", "00_warmup", base=RELEASED)  # stops at its first unsolved cell
    (submission / "00_warmup" / f"notes{ESCAPES}.txt").symlink_to("/etc/hostname")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_COURSE_DATA": str(data_dir)}
    command = ([sys.executable, "-m", "pytest", *plugin_args(), "--submission", str(submission), "--profile",
                "smoke", "-p", "no:cacheprovider", "-q"] if route == "pytest" else
               [sys.executable, "-m", "autograder", "grade", str(submission), "--profile", "smoke", "--out",
                str(tmp_path / "grading")])
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=600)
    assert b"(a symlink)" in run.stdout, run.stdout[-2000:]
    for stream in (run.stdout, run.stderr):
        assert b"\x1b" not in stream and b"\x07" not in stream and b"\r" not in stream, stream[-2000:]
    assert b"notes\\x1b]52;c;" in run.stdout
