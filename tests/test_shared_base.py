"""06's base network: trained by the grader once per class, reused by every student's scoring and by regrades."""

from __future__ import annotations

import json
import shutil

import pytest

from autograder import rubric as rubrics
from autograder.classrun import store
from autograder.classrun.run import grade_class
from autograder.grading import GradingSettings
from autograder.paths import REFERENCE_DIR
from autograder.results import Status
from autograder.scoring.shared_base import baseline_words, locked_baselines, shared_key

SEPARABLE = "06_separable_cifar10"


def test_only_a_baseline_a_locked_cell_defines_is_shared():
    shared = locked_baselines(rubrics.find("06"), "smoke")
    assert list(shared) == ["beats_base"] and shared["beats_base"]["baseline"] == "base"
    assert locked_baselines(rubrics.find("03"), "full") == {}  # the student's own network: retrained per student


def test_the_key_follows_what_decides_the_figure():
    args = locked_baselines(rubrics.find("06"), "full")["beats_base"]
    assert baseline_words(args) == baseline_words({**args, "settle_batchnorm": False, "scale": 255.0})
    key = shared_key("0.2.0+abc", "full", 0, None, args)
    assert key == shared_key("0.2.0+abc", "full", 0, None, dict(args))
    for other in (shared_key("0.2.0+def", "full", 0, None, args),  # another grader or rubric
                  shared_key("0.2.0+abc", "smoke", 0, None, args), shared_key("0.2.0+abc", "full", 1, None, args),
                  shared_key("0.2.0+abc", "full", 0, None, {**args, "retrain": {"batch_size": 64}})):
        assert other != key


def test_a_stored_figure_counts_only_under_its_own_key(tmp_path):
    store.store_shared(tmp_path, SEPARABLE, "beats_base", 0, "k1", {"accuracy": 0.31, "recipe": "r"})
    assert store.load_shared(tmp_path, SEPARABLE, "beats_base", 0, "k1")["accuracy"] == 0.31
    assert store.load_shared(tmp_path, SEPARABLE, "beats_base", 0, "k2") is None
    assert store.load_shared(tmp_path, SEPARABLE, "beats_base", 1, "k1") is None
    path = store.shared_path(tmp_path, SEPARABLE, "beats_base", 0)
    path.write_text(json.dumps({"key": "k1", "figures": {"accuracy": 7.0}}))  # not an accuracy
    assert store.load_shared(tmp_path, SEPARABLE, "beats_base", 0, "k1") is None
    assert len(store.shared_trainings(tmp_path)) == 1
    assert store.stored_notebooks(tmp_path) == []  # the dot-folder is no student's


def messages(out, student):
    result = store.load_result(out, student, SEPARABLE)
    return {r["id"]: r for r in result["results"]}


@pytest.mark.notebooks
def test_a_class_trains_the_base_once_and_a_regrade_not_at_all(tmp_path, data_dir):
    class_dir, out = tmp_path / "submitted", tmp_path / "grading"
    for student in ("ada", "bob"):
        shutil.copytree(REFERENCE_DIR / SEPARABLE, class_dir / student / SEPARABLE)
    settings = GradingSettings(profile="smoke", data_dir=str(data_dir))
    grade_class(class_dir, out, ["06"], settings)
    trained = store.shared_trainings(out)
    assert [(t["assignment"], t["check"], t["seed"]) for t in trained] == [(SEPARABLE, "beats_base", 0)]
    figures = json.loads(store.shared_path(out, SEPARABLE, "beats_base", 0).read_text())["figures"]
    for student in ("ada", "bob"):
        row = messages(out, student)["beats_base"]
        assert row["status"] in (str(Status.PASS), str(Status.NOT_JUDGED)), row["message"]
        assert "base as the grader trained it once for this class" in row["message"]
        assert f"{figures['accuracy']:.4f} on the grader's held-out" in row["message"]

    grade_class(class_dir, out, ["06"], settings, students=["ada"])  # a regrade: the stored base stands
    assert len(store.shared_trainings(out)) == 1
    assert "once for this class" in messages(out, "ada")["beats_base"]["message"]
