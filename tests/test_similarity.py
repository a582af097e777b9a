"""Copied work across a class: planted copies are found and ranked first, honest variations are not shown.

The class is built from the warm-up's reference: honest students write the
reference architecture in their own ways (a list, ``add`` calls, the functional
API, a helper, a loop) and train it from their own salted seeds, on the real
digits. Planted: the same code with renamed variables, reordered cells and new
comments; the same weights under other layer names; weights copied and
fine-tuned for one epoch. Models are built here by executing each student's own
cell, trained for a few real steps and fingerprinted through the scoring
context, as the grader does; one end-to-end run goes through ``batch``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import nbformat
import pytest

from autograder import similarity
from autograder.paths import ROOT
from autograder.pipeline.fingerprint import FINGERPRINT_SUFFIX, fingerprint
from autograder.scoring.context import ScoringContext
from autograder.rubric import all_rubrics
from autograder.sandbox import bwrap_problem
from autograder.similarity import code as codes, models
from autograder.similarity.seeds import student_seed
from tests.notebooks import RELEASED, WARMUP, cell, variant


SEQUENTIAL_ADD = '''def build_model():
    net = keras.Sequential()
    net.add(keras.Input(shape=(8, 8, 1)))
    net.add(layers.Conv2D(filters=16, kernel_size=(3, 3), activation="relu", padding="same"))
    net.add(layers.MaxPooling2D(pool_size=2))
    net.add(layers.Flatten())
    net.add(layers.Dense(units=32, activation="relu"))
    net.add(layers.Dense(units=10, activation="softmax"))
    net.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(), metrics=["accuracy"])
    return net'''

FUNCTIONAL = '''def build_model():
    inputs = keras.Input(shape=(8, 8, 1), name="digits")
    x = layers.Conv2D(16, (3, 3), padding="same", name="features")(inputs)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu", name="hidden")(x)
    outputs = layers.Dense(10, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="digit_net")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model'''

HELPER = '''def conv_block(tensor, filters):
    """One 3x3 convolution and a 2x2 pooling."""
    tensor = layers.Conv2D(filters, 3, padding="same", activation="relu")(tensor)
    return layers.MaxPooling2D()(tensor)


def build_model():
    inp = keras.Input((8, 8, 1))
    hidden = layers.Dense(32, activation="relu")(layers.Flatten()(conv_block(inp, 16)))
    out = layers.Dense(10, activation="softmax")(hidden)
    m = keras.Model(inputs=inp, outputs=out)
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
              loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return m'''

# The helper's code, copied: every name changed, new comments, the helper moved to a cell of its own after
# build_model (cells reordered), a string that must stay inert in the report.
HELPER_COPIED_BUILD = '''# my network for the digits
def build_model():
    first = keras.Input((8, 8, 1))  # input
    dense_in = layers.Dense(32, activation="relu")(layers.Flatten()(my_block(first, 16)))
    result = layers.Dense(10, activation="softmax")(dense_in)
    network = keras.Model(inputs=first, outputs=result)
    network.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                    loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return network'''
HELPER_COPIED_BLOCK = '''def my_block(t, n_filters):
    """</pre><script>alert(1)</script>"""
    t = layers.Conv2D(n_filters, 3, padding="same", activation="relu")(t)  # conv
    return layers.MaxPooling2D()(t)  # pool'''

LOOP = '''LAYERS = [("conv", 16), ("pool", None), ("flat", None), ("dense", 32), ("out", 10)]


def build_model():
    model = keras.Sequential([keras.Input((8, 8, 1))])
    for kind, size in LAYERS:
        if kind == "conv":
            model.add(layers.Conv2D(size, 3, padding="same", activation="relu"))
        elif kind == "pool":
            model.add(layers.MaxPooling2D())
        elif kind == "flat":
            model.add(layers.Flatten())
        else:
            model.add(layers.Dense(size, activation="relu" if kind == "dense" else "softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model'''

DICT_CONFIG = '''SETTINGS = {"filters": 16, "kernel": 3, "hidden": 32, "classes": 10}


def build_model(cfg=SETTINGS):
    image = keras.layers.Input(shape=(8, 8, 1))
    feature_map = keras.layers.Conv2D(cfg["filters"], cfg["kernel"], activation="relu", padding="same")(image)
    pooled = keras.layers.MaxPool2D()(feature_map)
    probabilities = keras.layers.Dense(cfg["classes"], activation="softmax")(
        keras.layers.Dense(cfg["hidden"], activation="relu")(keras.layers.Flatten()(pooled)))
    classifier = keras.Model(image, probabilities)
    classifier.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return classifier'''

STACKED = '''def build_model():
    stack = [keras.Input((8, 8, 1))]
    stack += [layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(), layers.Flatten()]
    stack += [layers.Dense(32, activation="relu"), layers.Dense(10, activation="softmax")]
    clf = keras.Sequential(stack, name="my_classifier")
    clf.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return clf'''

ANSWERS = {
    "reference": None,  # the reference's own cell
    "add": "PARAMS_BY_HAND = 160 + 8224 + 330  # conv, dense, output",
    "functional": "conv = 16 * (3 * 3 + 1)\nhidden = 32 * (4 * 4 * 16 + 1)\nclasses = 10 * (32 + 1)\n"
                  "PARAMS_BY_HAND = conv + hidden + classes",
    "helper": "PARAMS_BY_HAND = 5994",
    "loop": "PARAMS_BY_HAND = sum([16 * 10, 32 * 257, 10 * 33])",
    "dict": "PARAMS_BY_HAND = (9 + 1) * 16 + (256 + 1) * 32 + (32 + 1) * 10",
    "stacked": "PARAMS_BY_HAND = 5_994",
}
BUILD = {"reference": None, "add": SEQUENTIAL_ADD, "functional": FUNCTIONAL, "helper": HELPER, "loop": LOOP,
         "dict": DICT_CONFIG, "stacked": STACKED}

# Planted: (copier, source); who copies what
CODE_COPY = ("copies_code", "helper")
WEIGHTS_COPY = ("copies_weights", "reference")  # writes "dict" code; saves the reference's trained weights
FINE_TUNED = ("fine_tunes", "add")  # writes "stacked" code; trains the add-student's weights for one epoch
PLANTED = {tuple(sorted(p)) for p in (CODE_COPY, WEIGHTS_COPY, FINE_TUNED)}
HONEST = ["reference", "add", "functional", "helper", "loop"]


def reference_source(grade_id: str) -> str:
    nb = nbformat.read(ROOT / "reference_solutions" / WARMUP / f"{WARMUP}.ipynb", as_version=4)
    return cell(nb, grade_id).source


def notebook_of(target: Path, build: str, answers: str, extra_cell: str = "") -> Path:
    """A submission folder of the warm-up with these solution cells (and an extra cell after the build cell)."""
    def edit(nb):
        cell(nb, "build_model").source = build
        cell(nb, "answers").source = answers
        if extra_cell:
            index = nb.cells.index(cell(nb, "build_model"))
            nb.cells.insert(index + 1, nbformat.v4.new_code_cell(extra_cell))

    return variant(target, WARMUP, edit) / WARMUP / f"{WARMUP}.ipynb"


def built(source: str, seed: int = 0):
    """The model a student's build cell builds from ``seed`` (their code executed here, as their notebook does
    after its setup cell set the seed)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)

    namespace = {"keras": keras, "layers": layers}
    exec(compile(source, "<student>", "exec"), namespace)
    return namespace["build_model"]()


def train(model, data, epochs: int, seed: int):
    import keras

    (x, y), _ = data
    keras.utils.set_random_seed(seed)
    return model.fit(x[:600, ..., None] / 16, y[:600], epochs=epochs, batch_size=32, verbose=0)


def fingerprint_of(model, history, artifacts: Path) -> dict:
    """What the grader stores at scoring time for these artifacts."""
    import coursework

    coursework.submit(artifacts, model=model, history=history)
    rubric = all_rubrics()["00"]
    context = ScoringContext(artifacts, None, "smoke", rubric.profiles["smoke"].limits)
    return fingerprint(context)


def store(grading: Path, student: str, notebook: Path | None, prints: dict | None, raw: str | None = None):
    """A graded student folder as `batch` leaves it: executed notebook, result, fingerprint."""
    folder = grading / student
    folder.mkdir(parents=True)
    if raw is not None:
        (folder / f"{WARMUP}.ipynb").write_text(raw)
    elif notebook is not None:
        (folder / f"{WARMUP}.ipynb").write_bytes(notebook.read_bytes())
    (folder / f"{WARMUP}.result.json").write_text(json.dumps({"student": student, "assignment": WARMUP}))
    if prints is not None:
        (folder / f"{WARMUP}{FINGERPRINT_SUFFIX}").write_text(json.dumps(prints))


@pytest.fixture(scope="module")
def digits():
    from coursework.datasets import training_split

    return training_split("digits", 300)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, digits):
    """A class of nine graded warm-ups (honest, planted, empty, broken), compared once."""
    import keras

    root = tmp_path_factory.mktemp("similarity")
    grading, submitted = root / "grading", root / "submitted"
    reference_build, reference_answers = reference_source("build_model"), reference_source("answers")
    trained = {}
    for student in HONEST:
        build = BUILD[student] or reference_build
        path = notebook_of(submitted / student, build, ANSWERS[student] or reference_answers)
        model = built(build, student_seed(0, student))
        history = train(model, digits, 2, student_seed(0, student))
        trained[student] = (model, history)
        store(grading, student, path, fingerprint_of(model, history, root / "artifacts" / student))

    copier, source = CODE_COPY
    path = notebook_of(submitted / copier, HELPER_COPIED_BUILD, "PARAMS_BY_HAND = 5994  # counted by hand",
                       extra_cell=HELPER_COPIED_BLOCK)
    model = built(HELPER_COPIED_BLOCK + "\n\n" + HELPER_COPIED_BUILD, student_seed(0, copier))
    history = train(model, digits, 2, student_seed(0, copier))
    store(grading, copier, path, fingerprint_of(model, history, root / "artifacts" / copier))

    copier, source = WEIGHTS_COPY  # their own code; the source's weights (and history) under other layer names
    path = notebook_of(submitted / copier, DICT_CONFIG, ANSWERS["dict"])
    model = built(DICT_CONFIG)
    model.set_weights(trained[source][0].get_weights())
    store(grading, copier, path, fingerprint_of(model, trained[source][1], root / "artifacts" / copier))

    copier, source = FINE_TUNED  # their own code; the source's weights trained one more epoch
    path = notebook_of(submitted / copier, STACKED, ANSWERS["stacked"])
    model = built(STACKED)
    model.set_weights(trained[source][0].get_weights())
    history = train(model, digits, 1, student_seed(0, copier))
    store(grading, copier, path, fingerprint_of(model, history, root / "artifacts" / copier))

    released = RELEASED / WARMUP / f"{WARMUP}.ipynb"  # handed in as released: nothing of their own
    store(grading, "empty", released, {"version": 1, "models": {}, "histories": {}, "errors": []})
    store(grading, "broken", None, None, raw="{this is not a notebook")
    keras.backend.clear_session()
    found = similarity.write(grading, ROOT / ".released")
    return grading, {a.assignment: a for a in found}[WARMUP]


def pair_key(pair) -> tuple[str, str]:
    return tuple(sorted((pair.a, pair.b)))


@pytest.mark.notebooks
def test_every_planted_copy_is_shown_and_no_honest_pair(graded_class):
    _, result = graded_class
    shown = {pair_key(p): p for p in result.pairs}
    assert set(shown) == PLANTED, {k: p.reasons for k, p in shown.items()}
    code_copy = shown[tuple(sorted(CODE_COPY))]
    assert any(r.startswith("code") for r in code_copy.reasons)
    weights = shown[tuple(sorted(WEIGHTS_COPY))]
    assert any(m.identical for m in weights.models) and weights.curves == ["model"]
    tuned = shown[tuple(sorted(FINE_TUNED))]
    assert not any(m.identical for m in tuned.models) and tuned.cosine >= 0.9, tuned.models


@pytest.mark.notebooks
def test_planted_copies_rank_above_every_honest_pair(graded_class):
    grading, result = graded_class
    every = json.loads((grading / "similarity.json").read_text())[0]
    assert every["pair_count"] == len(result.scores) == 36  # 9 students, the broken one has no fingerprint either
    planted = [p.score for p in result.pairs]
    honest_students = sorted(set(HONEST) | {c for c, _ in (CODE_COPY, WEIGHTS_COPY, FINE_TUNED)})
    analyzed = similarity.analyze(grading, ROOT / ".released",
                                  settings={**similarity.thresholds(), "code": {**similarity.thresholds()["code"],
                                            "threshold": 0.0, "min_chars": 0},
                                            "models": {**similarity.thresholds()["models"], "threshold": -1.0}})[0]
    every_pair = {pair_key(p): p.score for p in analyzed.pairs}
    honest = {k: s for k, s in every_pair.items() if k not in PLANTED and set(k) <= set(honest_students)}
    assert len(honest) == 25  # all pairs among the eight who wrote code, less the three planted
    assert min(planted) > max(honest.values()), (planted, sorted(honest.items(), key=lambda t: -t[1])[:3])


@pytest.mark.notebooks
def test_same_architecture_alone_is_expected(graded_class):
    """Honest students of one architecture, the Sequential and the functional API alike: same architecture
    digest, weights unrelated (salted seeds)."""
    grading, _ = graded_class
    prints = {s: json.loads((grading / s / f"{WARMUP}.fingerprint.json").read_text()) for s in HONEST}
    assert len({p["models"]["model"]["architecture"] for s, p in prints.items() if s != "functional"}) == 1
    evidence = models.compare_models(prints)
    for pair, found in evidence.items():
        assert all(abs(m.cosine) < 0.5 and not m.identical for m in found), (pair, found)


@pytest.mark.notebooks
def test_empty_and_broken_notebooks_are_reported_not_paired(graded_class):
    grading, result = graded_class
    assert "no code of its own" in result.not_compared["empty"]
    assert "not valid notebook JSON" in result.not_compared["broken"]
    assert not [p for p in result.pairs if {"empty", "broken"} & {p.a, p.b}]
    section = (grading / "similarity.md").read_text()
    assert "empty" in section and "broken" in section


@pytest.mark.notebooks
def test_report_is_inert_and_says_it_is_evidence(graded_class):
    grading, result = graded_class
    page = (grading / "similarity.html").read_text()
    copy = next(p for p in result.pairs if pair_key(p) == tuple(sorted(CODE_COPY)))
    assert any("alert(1)" in f for f in copy.left + copy.right)  # the fragment with the script is shown...
    assert "<script>" not in page and "&lt;script&gt;" in page  # ...as text
    assert "evidence for a person to weigh" in page
    assert "never changes a grade" in (grading / "similarity.md").read_text()
    assert (grading / "similarity_scores.png").stat().st_size > 1000


def test_renamed_reordered_recommented_code_is_one_copy():
    """The code engine alone: the same cells, names, comments and cell order changed, score as one."""
    settings = similarity.thresholds()["code"]
    original = codes.fingerprint("a", [HELPER, "PARAMS_BY_HAND = 5994"], settings["noise"], settings["guarantee"],
                                 set())
    copied = codes.fingerprint("b", ["PARAMS_BY_HAND = 5994  # by hand", HELPER_COPIED_BUILD, HELPER_COPIED_BLOCK],
                               settings["noise"], settings["guarantee"], set())
    other = codes.fingerprint("c", [FUNCTIONAL, ANSWERS["functional"]], settings["noise"], settings["guarantee"],
                              set())
    dice = codes.dice_matrix([original, copied, other])
    assert dice[0, 1] >= settings["threshold"] > dice[0, 2]


@pytest.mark.notebooks
def test_salted_seeds_separate_honest_students(digits, tmp_path):
    """Why the class run salts the seed: two honest students of one architecture, trained from one seed on a
    CPU, hand in identical weights; from their own seeds they do not."""
    import keras

    assert student_seed(0, "ana") == student_seed(0, "ana") != student_seed(0, "bo")
    assert student_seed(1, "ana") != student_seed(0, "ana")
    prints = {}
    for student, source in (("ana", reference_source("build_model")), ("bo", SEQUENTIAL_ADD)):
        for salted in (False, True):
            seed = student_seed(0, student) if salted else 0
            model = built(source, seed)
            history = train(model, digits, 1, seed)
            prints[student, salted] = fingerprint_of(model, history, tmp_path / f"{student}-{salted}")
    keras.backend.clear_session()
    same_seed = models.compare_models({s: prints[s, False] for s in ("ana", "bo")})[("ana", "bo")][0]
    salted = models.compare_models({s: prints[s, True] for s in ("ana", "bo")})[("ana", "bo")][0]
    assert same_seed.identical
    assert not salted.identical and abs(salted.cosine) < 0.5


needs_sandbox = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")


@pytest.mark.notebooks
@needs_sandbox
def test_batch_writes_the_similarity_section(tmp_path, data_dir):
    """End to end: three warm-ups through `batch`; the renamed copy is shown, the honest functional one is not,
    and every notebook ran from its own seed."""
    reference_build = reference_source("build_model")
    renamed = (reference_build.replace("model", "net").replace("build_net", "build_model")
               .replace('"relu"', "'relu'"))
    submitted = tmp_path / "submitted"
    variant(submitted / "honest", WARMUP)
    notebook_of(submitted / "copier", "# written by me\n" + renamed, reference_source("answers"))
    notebook_of(submitted / "functional", FUNCTIONAL, ANSWERS["functional"])
    out = tmp_path / "grading"
    proc = subprocess.run([sys.executable, "-m", "autograder", "batch", str(submitted), "--out", str(out),
                           "--data-dir", str(data_dir), "--cell-timeout", "60", "--notebook-timeout", "120",
                           "--jobs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (out / "class_report.md").read_text()
    assert "## Similarity between students" in report and "evidence for a person to weigh" in report
    assert "copier and honest" in report  # the shown pair, in the table
    assert "functional and" not in report and "and functional" not in report
    assert "Similarity between students" in (out / "class_report.html").read_text()
    seeds = {json.loads((out / s / f"{WARMUP}.result.json").read_text())["notebook_seed"]
             for s in ("honest", "copier", "functional")}
    assert len(seeds) == 3
    prints = {s: json.loads((out / s / f"{WARMUP}.fingerprint.json").read_text())
              for s in ("honest", "copier", "functional")}
    assert all(p["models"]["model"]["arrays"] and p["histories"]["model"] for p in prints.values())
    for (a, pa), (b, pb) in combinations(prints.items(), 2):  # one architecture, three seeds: no weights alike
        assert pa["models"]["model"]["digest"] != pb["models"]["model"]["digest"]
    again = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(out)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "copier and honest" in again.stdout
    assert (out / "class_report.md").read_text().count("## Similarity between students") == 1
