"""The preflight checks every rubric against its checks' signatures: an unknown or a missing argument is one
clear error naming the rubric file, the check and the argument, before any notebook runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import checks
from autograder import rubric as rubrics
from autograder.errors import RubricError
from autograder.grading import GradingSettings
from autograder.paths import ROOT
from autograder.preflight import PreflightError, preflight

WARMUP_RUBRIC = "00_warmup.toml"
# (text in the warm-up's rubric, its broken replacement, what the error must say)
BREAKS = {
    "unknown": ('args = { answer = "params_by_hand" }', 'args = { answer = "params_by_hand", answr = "x" }',
                "00_warmup.toml: check 'params_by_hand' (answer_equals_params): unknown argument 'answr'"),
    "missing": ('args = { answer = "params_by_hand" }', 'args = { model = "model" }',
                "00_warmup.toml: check 'params_by_hand' (answer_equals_params): missing required argument 'answer'"),
    "profile": ("full = { min_accuracy = 0.92,", "full = { min_accuracy = 0.92, min_acuracy = 0.9,",
                "00_warmup.toml: check 'accuracy' (validation_accuracy), [full] profile: unknown argument "
                "'min_acuracy'"),
}


def broken_rubrics(folder: Path, kind: str) -> Path:
    """A copy of the shipped rubrics (and limits) whose warm-up rubric has the ``kind`` of broken argument."""
    shutil.copytree(rubrics.RUBRIC_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    old, new, _ = BREAKS[kind]
    path = folder / WARMUP_RUBRIC
    text = path.read_text()
    assert text.count(old) == 1, f"the warm-up rubric changed: update BREAKS[{kind!r}]"
    path.write_text(text.replace(old, new))
    return folder


def test_every_shipped_rubric_matches_its_checks_signatures():
    problems = [p for r in rubrics.all_rubrics(rubrics.RUBRIC_DIR).values() for p in checks.rubric_problems(r)]
    assert problems == []


@pytest.mark.parametrize("kind", sorted(BREAKS))
def test_a_broken_argument_is_named_by_file_check_and_argument(tmp_path, kind):
    rubric = rubrics.find("00", broken_rubrics(tmp_path / "rubric", kind))
    problems = checks.rubric_problems(rubric)
    assert len(problems) == 1 and problems[0].startswith(BREAKS[kind][2]), problems
    with pytest.raises(RubricError, match=r"00_warmup\.toml: check"):
        checks.validated(rubric)


def test_the_argument_check_reads_the_signature():
    def takes(ctx, answer: str, model: str = "model", *, hidden: bool = False):
        raise AssertionError("never called")

    def anything(ctx, answer: str, **rest):
        raise AssertionError("never called")

    assert checks.argument_problems(takes, {"answer": "a", "hidden": True}) == []
    assert checks.argument_problems(takes, {"modle": "m"}) == [
        "unknown argument 'modle' (it takes: answer, model, hidden)", "missing required argument 'answer'"]
    assert checks.argument_problems(anything, {"answer": "a", "whatever": 1}) == []
    assert checks.argument_problems(anything, {}) == ["missing required argument 'answer'"]


def test_preflight_names_the_broken_argument(tmp_path, data_dir):
    rubric = rubrics.find("00", broken_rubrics(tmp_path / "rubric", "unknown"))
    with pytest.raises(PreflightError) as raised:
        preflight([rubric], GradingSettings(profile="smoke", data_dir=str(data_dir), sandbox="prefer"))
    assert "nothing was graded" in str(raised.value)
    assert f"rubric {BREAKS['unknown'][2]}" in str(raised.value)


@pytest.mark.parametrize("route", ["grade", "batch"])
def test_no_notebook_runs_with_a_broken_rubric(tmp_path, data_dir, route):
    """Through the CLI with an edited copy of the rubrics: the run stops with the argument's name, no kernel."""
    folder = broken_rubrics(tmp_path / "rubric", "missing")
    out = tmp_path / "out"
    submission = tmp_path / ("class" if route == "batch" else "sub")
    target = submission / "ann" / "00_warmup" if route == "batch" else submission / "00_warmup"
    shutil.copytree(ROOT / "reference_solutions" / "00_warmup", target)
    proc = subprocess.run([sys.executable, "-m", "autograder", route, str(submission), "--out", str(out),
                           "--assignment", "00", "--rubric-dir", str(folder), "--data-dir", str(data_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode != 0
    assert BREAKS["missing"][2] in proc.stderr, proc.stderr[-2000:]
    assert not out.exists() or not list(out.rglob("*.ipynb")), "a notebook ran"
