"""Held-out evaluation data: the images the grader scores on are out of every graded notebook's reach.

Attacks, each a notebook run the way a class is graded: a search of the whole visible file system for any
of the grader's evaluation images (through `grade`, nbgrader's autograde and the pytest plugin), and 03
trained on the test split as the issue did it. Each attack signals what it reached through a hand-count
answer (right when it reached nothing), so every route's own points say whether it reached anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.course.nbgrader_course import autograde
from autograder.paths import ROOT
from coursework import datasets
from tests.heldout_search import search
from tests.notebooks import cell, variant
from tests.routes import gradebook_scores, new_course, plugin_args

SEARCH = (Path(__file__).parent / "heldout_search.py").read_text()
DIGESTS = "evaluation-digests.txt"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@pytest.fixture(scope="session")
def evaluation_digests(data_dir) -> set[str]:
    """A digest of every image any rubric scores on: MNIST's, CIFAR-10's and the digits' test splits, and the
    JPEG files of dogs-vs-cats ``test/``, computed outside any sandbox."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    test = datasets.stratified_indices(digits.target, 360, seed=0)  # the 360 held apart (digits_test_mask)
    images = [digits.images[test].astype(np.uint8)]
    for name in ("mnist", "cifar10"):
        with np.load(data_dir / f"{name}.npz", allow_pickle=False) as data:  # read here, not through the loaders
            images.append(data["x_test"])
    found = {digest(np.ascontiguousarray(image).tobytes()) for x in images for image in x}
    test = datasets.cats_and_dogs_small(data_dir) / "test"
    found |= {digest(path.read_bytes()) for path in test.rglob("*.jpg")}
    assert len(found) > 20_000
    return found


def searching(digests: set[str]):
    """An edit of the warm-up: its answer cell first searches the file system; a wrong count if anything was found."""
    def edit(nb):
        answers = cell(nb, "answers")
        answers.source = (f"{SEARCH}\n\nFOUND, READ = search(set(open({DIGESTS!r}).read().split()))\n"
                          'print(f"read {READ} files; evaluation images found in: {FOUND}")\n'
                          f"{answers.source}\nif FOUND:\n    PARAMS_BY_HAND = 7\n")
    return edit


def with_digests(submission: Path, digests: set[str]) -> Path:
    (submission / "00_warmup" / DIGESTS).write_text("\n".join(sorted(digests)))
    return submission


TRAIN_ON_TEST = '''
import numpy as np
from coursework import datasets

REACHED = []
for label, load in [
    ("load_mnist", lambda: datasets.load_mnist(DATA_DIR, download=False)[1]),
    ("test_split", lambda: datasets.test_split("mnist", 2000, seed=0, data_dir=DATA_DIR, download=False)),
    ("mnist.npz", lambda: tuple(np.load(f"{DATA_DIR}/mnist.npz")[k] for k in ("x_test", "y_test"))),
    ("$CNN_COURSE_DATA", lambda: datasets.load_mnist(download=False)[1]),
    ("keras", lambda: __import__("keras").datasets.mnist.load_data()[1]),
]:
    try:
        x_more, y_more = load()
    except Exception as exc:
        print(f"{label}: {type(exc).__name__}: {str(exc)[:300]}")
        continue
    REACHED.append(label)
    x_train = np.concatenate([x_train, x_more[..., None].astype("float32") / 255])
    y_train = np.concatenate([y_train, y_more])
print("test images reached through:", REACHED)
'''


def training_on_test(nb):
    """The issue's attack on 03: add the grader's test images to the training data (a wrong count if it could)."""
    answers = cell(nb, "answers")
    answers.source = f"{TRAIN_ON_TEST}\n{answers.source}\nif REACHED:\n    PARAMS['total'] = 0\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory, data_dir, evaluation_digests):
    """`grade` of both attacks, with $CNN_COURSE_DATA a path through a symlink and `..`."""
    tmp = tmp_path_factory.mktemp("heldout")
    (tmp / "link").symlink_to(data_dir.resolve(), target_is_directory=True)
    (tmp / "up").mkdir()
    submission = with_digests(variant(tmp / "mallory", "00_warmup", searching(evaluation_digests)),
                              evaluation_digests)
    variant(submission, "03_lenet5", training_on_test)
    env = {**os.environ, "CNN_COURSE_DATA": str(tmp / "up" / ".." / "link")}
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--profile", "smoke",
                          "--out", str(tmp / "out")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads((tmp / "out" / "results.json").read_text())["results"]
    return {(r["assignment"], r["id"]): r for r in rows}, tmp / "out"


def printed(executed: Path) -> str:
    nb = json.loads(executed.read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_the_search_finds_the_evaluation_images_where_they_lie(data_dir, evaluation_digests):
    """The search is real: run outside the sandbox on the course data, it finds every evaluation set."""
    import sklearn

    found, _ = search(evaluation_digests, roots=(str(data_dir), str(Path(sklearn.__file__).parent / "datasets")))
    names = {Path(p).name for p in found}
    assert {"mnist.npz", "cifar10.npz", "digits.csv.gz"} <= names
    assert sum(Path(p).suffix == ".jpg" for p in found) == 1000


@pytest.mark.notebooks
def test_search_through_grade_finds_no_evaluation_image(graded):
    rows, out = graded
    assert "evaluation images found in: []" in printed(out / "00_warmup.ipynb")
    assert rows[("00", "params_by_hand")]["status"] == "pass", rows[("00", "params_by_hand")]["message"]
    assert rows[("00", "accuracy")]["status"] == "pass"


@pytest.mark.notebooks
def test_training_on_the_test_split_reaches_nothing(graded):
    """03 asks for MNIST's test split every way it can: each is refused, and the honest training still scores,
    with the data folder given through a symlink and `..` (the kernel finds its data)."""
    rows, out = graded
    text = printed(out / "03_lenet5.ipynb")
    assert "test images reached through: []" in text
    assert "HeldOutError: The test split of mnist is held out" in text
    assert rows[("03", "params_by_hand")]["status"] == "pass", rows[("03", "params_by_hand")]["message"]
    assert rows[("03", "accuracy")]["status"] == "pass", rows[("03", "accuracy")]["message"]


@pytest.mark.notebooks
def test_search_through_nbgrader_finds_no_evaluation_image(tmp_path, evaluation_digests):
    course = new_course(tmp_path, "00_warmup")
    with_digests(variant(course / "submitted" / "mallory", "00_warmup", searching(evaluation_digests)),
                 evaluation_digests)
    autograde(course, ["00_warmup"], profile="smoke")
    total, grades = gradebook_scores(course, "00_warmup", "mallory")
    assert grades["test_params_by_hand"] == 1 and total == 4, grades


@pytest.mark.notebooks
def test_search_through_the_pytest_plugin_finds_no_evaluation_image(tmp_path, data_dir, evaluation_digests):
    submission = with_digests(variant(tmp_path / "submission", "00_warmup", searching(evaluation_digests)),
                              evaluation_digests)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_COURSE_DATA": str(data_dir)}
    junit = tmp_path / "junit.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", *plugin_args(), "--submission", str(submission),
                          "--profile", "smoke", "--junitxml", str(junit), "-p", "no:cacheprovider", "-q"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    assert 'name="params_by_hand"' in junit.read_text()
