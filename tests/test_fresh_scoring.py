"""No state crosses from one student to the next in the scoring process (issue 29).

The attack: a saved model's ``config.json`` names, as a layer's activation, a public Keras function that
Keras's own deny-list of non-modelling APIs misses and that keeps its argument in a module global
(``keras.config.set_max_epochs``). Building the model calls it on a tensor; that tensor stays the cap of every
later ``fit`` in the process, and ``keras.backend.clear_session`` does not reset it. Scored in a worker reused
for the next notebook, the next honest student's retraining failed (accuracy 0 of 2, ``error``).

So each notebook is scored in a process of its own: these tests grade a poisoned artifact and then an honest
one in the same pool (directly, through ``grade_notebook``, and through ``python -m autograder batch --jobs 1``)
and compare with the honest notebook graded alone. A structural test checks the processes themselves, so that
the guarantee stays tested when the config parser refuses this activation earlier.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import rubric as rubrics
from autograder.grading import GradingSettings
from autograder.paths import ROOT
from autograder.pipeline import grade as grade_module
from autograder.pipeline.execute import Execution
from autograder.pipeline.grade import grade_notebook
from autograder.pipeline.score import ScoringPool
from autograder.sandbox import bwrap_problem
from tests.notebooks import REFERENCE, WARMUP, cell, variant

pytestmark = pytest.mark.notebooks  # every test here grades notebooks end to end

# A public keras.config setter that stores its argument in a module global, named as an activation.
POISON = {"module": "keras.config", "class_name": "function", "config": "set_max_epochs", "registered_name": None}
POISON_CODE = f"""
import json as _json, zipfile as _zipfile

_submit = coursework.submit


def _poisoning_submit(output_dir, **kwargs):
    _submit(output_dir, **kwargs)
    with _zipfile.ZipFile(f"{{output_dir}}/model.keras") as _zip:
        _members = {{_n: _zip.read(_n) for _n in _zip.namelist()}}
    _config = _json.loads(_members["config.json"])
    _config["config"]["layers"][1]["config"]["activation"] = {POISON!r}
    _members["config.json"] = _json.dumps(_config).encode()
    with _zipfile.ZipFile(f"{{output_dir}}/model.keras", "w") as _zip:
        for _n, _data in _members.items():
            _zip.writestr(_n, _data)


coursework.submit = _poisoning_submit  # the locked submit cell calls it: the saved model is the poisoned one
"""


@pytest.fixture(scope="module")
def honest(tmp_path_factory, data_dir) -> Path:
    """What the warm-up's reference saves (its kernel run once, unsandboxed: the course's own code)."""
    root = tmp_path_factory.mktemp("fresh-scoring")
    run = subprocess.run([sys.executable, "-m", "papermill", "--cwd", str(root),
                          str(REFERENCE / WARMUP / f"{WARMUP}.ipynb"), str(root / "run.ipynb"),
                          "-p", "OUTPUT_DIR", str(root / "honest"), "-p", "DATA_DIR", str(data_dir),
                          "-p", "PROFILE", "smoke"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return root / "honest"


def poisoned(honest: Path, target: Path) -> Path:
    """``honest``'s artifacts with the Conv2D's activation replaced by :data:`POISON`."""
    shutil.copytree(honest, target)
    with zipfile.ZipFile(honest / "model.keras") as saved:
        members = {name: saved.read(name) for name in saved.namelist()}
    config = json.loads(members["config.json"])
    layer = config["config"]["layers"][1]
    assert layer["class_name"] == "Conv2D"
    layer["config"]["activation"] = POISON
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target / "model.keras", "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    return target


def scored_in(pool: ScoringPool, folders: list[Path], data_dir: Path) -> list[str]:
    """Each folder scored and fingerprinted in ``pool``, one after another as grade_notebook does: the results
    and the fingerprint as JSON text."""
    rubric = rubrics.find("00")
    texts = []
    try:
        for folder in folders:
            results = [r.to_dict() for r in pool.score(rubric, "smoke", folder, None, str(data_dir))]
            fingerprint = pool.fingerprint(folder, "smoke", rubric.profiles["smoke"].limits)
            texts.append(json.dumps({"results": results, "fingerprint": fingerprint}, sort_keys=True))
    finally:
        pool.close()
    return texts


def test_a_poisoned_artifact_leaves_the_next_notebook_as_if_scored_alone(honest, tmp_path, data_dir):
    (alone,) = scored_in(ScoringPool(), [honest], data_dir)
    attacker, after = scored_in(ScoringPool(), [poisoned(honest, tmp_path / "poisoned"), honest], data_dir)
    accuracy = {r["id"]: r for r in json.loads(attacker)["results"]}["accuracy"]
    assert accuracy["points"] == 0, accuracy  # the poison was read (or refused), never scored as a model
    assert {r["id"]: r["status"] for r in json.loads(alone)["results"]}["accuracy"] == "pass"
    assert after == alone


def test_two_notebooks_are_scored_in_different_processes(honest, tmp_path):
    """The structure itself, whatever an artifact does: the process that scored one notebook scores no other."""
    rubric = rubrics.find("00")
    other = shutil.copytree(honest, tmp_path / "other")
    pool = ScoringPool()
    try:
        pids = []
        for folder in (honest, other, honest):
            pool.score(rubric, "smoke", folder, None, static_only=True)
            pids.append(pool._pool().submit(os.getpid).result(timeout=120))
        assert len(set(pids)) == 3, pids
    finally:
        pool.close()


def test_a_notebooks_fingerprint_shares_its_process_and_the_next_one_starts_at_once(honest, tmp_path):
    """grade_notebook's sequence: score, fingerprint (the same notebook: the same process), then notebook_done,
    which starts the next process (importing Keras while the next kernel runs); the next notebook is scored in
    it. A fingerprint of another notebook's artifacts gets a process of its own too."""
    rubric = rubrics.find("00")
    limits = rubric.profiles["smoke"].limits
    other = shutil.copytree(honest, tmp_path / "other")
    pool = ScoringPool()
    try:
        pool.score(rubric, "smoke", honest, None, static_only=True)
        scored = pool._pool().submit(os.getpid).result(timeout=120)
        pool.fingerprint(honest, "smoke", limits)
        assert pool._pool().submit(os.getpid).result(timeout=120) == scored
        pool.notebook_done()
        warm = pool._warming.result(timeout=120)  # the next process's pid, once Keras is imported
        assert warm != scored
        pool.score(rubric, "smoke", other, None, static_only=True)
        assert pool._pool().submit(os.getpid).result(timeout=120) == warm
        pool.fingerprint(honest, "smoke", limits)  # not the notebook this process scored
        assert pool._pool().submit(os.getpid).result(timeout=120) not in (scored, warm)
    finally:
        pool.close()


def test_grade_notebook_scores_the_next_student_as_if_graded_alone(honest, tmp_path, monkeypatch, data_dir):
    """The route every grading command takes (grade, batch, the pytest plugin, nbgrader): grade_notebook with one
    pool for a class. The kernel is stood in for by a copy of the artifacts it would have written."""
    rubric = rubrics.find("00")
    settings = GradingSettings(profile="smoke", data_dir=str(data_dir), sandbox="off")
    saved = {"poisons": poisoned(honest, tmp_path / "poisoned"), "honest": honest}

    def graded(pool: ScoringPool, students: list[str]) -> list[str]:
        texts = []
        for student in students:
            def execute(notebook, executed, parameters, cwd, limits, sandbox=None):
                shutil.copytree(saved[student], parameters["OUTPUT_DIR"], dirs_exist_ok=True)
                return Execution(None, "", executed, 0.0, 0.0, False, 0)

            monkeypatch.setattr(grade_module, "execute", execute)
            root = tmp_path / f"{student}-{len(list(tmp_path.iterdir()))}"
            submission, out = variant(root / "submission", WARMUP), root / "out"
            out.mkdir()
            notebook = grade_notebook(rubric, submission, out, root / "work", pool, settings)
            fingerprint = (out / f"{WARMUP}.fingerprint.json").read_text()
            texts.append(json.dumps({"results": [r.to_dict() for r in notebook.results],
                                     "fingerprint": fingerprint}, sort_keys=True))
        pool.close()
        return texts

    (alone,) = graded(ScoringPool(), ["honest"])
    _, after = graded(ScoringPool(), ["poisons", "honest"])
    assert {r["id"]: r["status"] for r in json.loads(alone)["results"]}["accuracy"] == "pass"
    assert after == alone


@pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")
def test_batch_with_one_job_keeps_the_classmate_graded_after_the_attacker_whole(tmp_path, data_dir):
    """The issue's own run: `python -m autograder batch --jobs 1` grades the attacker first (names sort), then an
    honest classmate in the same local worker; the classmate keeps every point and only the attacker is named
    among the errors of the class report."""
    def attacks(nb) -> None:
        cell(nb, "answers").source += "\n" + POISON_CODE  # a solution cell; staging restores the locked ones

    class_dir, out = tmp_path / "submitted", tmp_path / "grading"
    variant(class_dir / "a_poisons", WARMUP, attacks)
    variant(class_dir / "b_honest", WARMUP)
    run = subprocess.run([sys.executable, "-m", "autograder", "batch", str(class_dir), "--out", str(out),
                          "--jobs", "1", "--profile", "smoke", "--data-dir", str(data_dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    results = {s: {r["id"]: r for r in json.loads((out / s / "results.json").read_text())["results"]}
               for s in ("a_poisons", "b_honest")}
    assert results["a_poisons"]["accuracy"]["points"] == 0, results["a_poisons"]["accuracy"]
    honest = {check: (r["status"], r["message"][:200]) for check, r in results["b_honest"].items()}
    assert all(status == "pass" for status, _ in honest.values()), honest
    assert sum(r["points"] for r in results["b_honest"].values()) == 4
    rows = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
    assert rows["b_honest"]["errors"] == "" and float(rows["b_honest"]["total"]) == 4, rows["b_honest"]
    report = (out / "class_report.md").read_text()
    errored = report.split("## Notebooks that errored", 1)[1].split("\n## ", 1)[0]  # names there are escaped
    assert "poisons" in errored and "honest" not in errored, errored
