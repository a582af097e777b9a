"""The provenance rule in the other routes: smuggled weights earn no accuracy point through nbgrader's
autograde and through the pytest plugin, as through `grade` (tests/test_provenance.py); and a notebook that
fills its folder is stopped there too, as in `batch` (tests/test_hostile_class.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile_students import STUDENTS
from tests.notebooks import WARMUP, variant
from tests.provenance_attacks import attacks, config_attacks
from tests.routes import gradebook_scores, new_course, plugin_args

pytestmark = pytest.mark.notebooks  # every test here grades notebooks end to end


def attack_in(target: Path, attack: str, trained) -> Path:
    edit, files = {**attacks(trained), **config_attacks(trained)}[attack]
    variant(target, WARMUP, edit)
    for name, data in files.items():
        (target / WARMUP / name).write_bytes(data)
    return target


def npz_attack(target: Path, trained) -> Path:
    return attack_in(target, "npz", trained)


def test_the_nbgrader_route_gives_smuggled_weights_no_point(tmp_path, trained_elsewhere):
    from autograder.course.nbgrader_course import autograde

    course = new_course(tmp_path, WARMUP)
    variant(course / "submitted" / "alice", WARMUP)
    npz_attack(course / "submitted" / "mallory", trained_elsewhere)
    variant(course / "submitted" / "trudy", WARMUP, STUDENTS["many_files"][0])  # 100,000 files in her folder
    attack_in(course / "submitted" / "oscar", "constants", trained_elsewhere)  # weights in the config
    attack_in(course / "submitted" / "peggy", "poison", trained_elsewhere)  # an activation that sets a global
    variant(course / "submitted" / "zoe", WARMUP)  # an honest classmate graded after the poison
    autograde(course, [WARMUP], profile="smoke")
    alice, _ = gradebook_scores(course, WARMUP, "alice")
    mallory, grades = gradebook_scores(course, WARMUP, "mallory")
    assert alice == 4
    assert grades["test_accuracy"] == 0 and mallory == 2, grades
    assert gradebook_scores(course, WARMUP, "trudy")[0] == 0
    oscar, grades = gradebook_scores(course, WARMUP, "oscar")
    assert oscar == 0 and grades["test_accuracy"] == 0, grades
    assert "kernel\\_initializer.value" in (course / "grading" / "oscar" / "summary.md").read_text()  # Markdown-escaped
    peggy, grades = gradebook_scores(course, WARMUP, "peggy")
    assert peggy == 0 and grades["test_accuracy"] == 0, grades
    assert gradebook_scores(course, WARMUP, "zoe")[0] == 4
    trudy = (course / "grading" / "trudy" / "summary.md").read_text()
    assert "filled its folder past the limit" in trudy, trudy[-2000:]


def plugin_run(submission: Path, tmp_path: Path, data_dir) -> tuple[subprocess.CompletedProcess, dict]:
    """The pytest plugin on ``submission`` (smoke): the run, and each check's JUnit properties by name."""
    from xml.etree import ElementTree as ET

    from autograder.paths import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_COURSE_DATA": str(data_dir)}
    junit = tmp_path / "junit.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", *plugin_args(), "--submission", str(submission),
                          "--profile", "smoke", "--junitxml", str(junit), "-p", "no:cacheprovider", "-q"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    cases = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")}
             for c in ET.parse(junit).getroot().iter("testcase")} if junit.is_file() else {}
    return run, cases


def test_the_pytest_plugin_gives_smuggled_weights_no_point(tmp_path, data_dir, trained_elsewhere):
    run, cases = plugin_run(npz_attack(tmp_path / "submission", trained_elsewhere), tmp_path, data_dir)
    assert run.returncode == 1, run.stdout[-3000:]
    assert cases["accuracy"]["status"] == "fail" and cases["accuracy"]["points"] == "0.0", cases
    assert cases["structure"]["status"] == "pass"


def test_the_pytest_plugin_stops_a_notebook_that_fills_its_folder(tmp_path, data_dir):
    run, _ = plugin_run(variant(tmp_path / "submission", WARMUP, STUDENTS["many_files"][0]), tmp_path, data_dir)
    assert run.returncode == 1 and "filled its folder past the limit" in run.stdout, run.stdout[-3000:]


@pytest.mark.parametrize("attack, refusal", [("constants", "kernel_initializer.value: expected a number"),
                                             ("poison", "activation: an activation is one of Keras's by name")])
def test_the_pytest_plugin_builds_no_config_that_carries_weights_or_calls(tmp_path, data_dir, trained_elsewhere,
                                                                          attack, refusal):
    run, cases = plugin_run(attack_in(tmp_path / "submission", attack, trained_elsewhere), tmp_path, data_dir)
    assert run.returncode == 1, run.stdout[-3000:]
    assert cases["accuracy"]["status"] == "error" and cases["accuracy"]["points"] == "0.0", cases
    assert refusal in run.stdout, run.stdout[-3000:]
