"""A student's check tells the truth (issue 13): not-judged checks earn nothing, the check restores from a
pristine release, one notebook can be checked with progress shown, a safe default profile, plots and the
grader's figures on the feedback page, messages that teach without giving the answer away."""

import io
import os
import re
import shutil
import subprocess
from xml.etree import ElementTree as ET

import keras
import nbformat
import numpy as np
import pytest
from keras import layers

import coursework
from autograder import rubric as rubrics
from autograder.paths import RELEASED_DIR, ROOT
from autograder.pipeline import report
from autograder.grading import GradingSettings
from autograder.pipeline.grade import grade
from autograder.progress import LineProgress
from autograder.pipeline.score import run_check
from autograder.scoring.context import ScoringContext
from autograder.results import CheckResult, Status
from autograder.studentcode.arithmetic import dict_entries, plain_numbers
from tests.notebooks import REFERENCE, cell
from tests.modelzoo import LENET5_COUNTS, keras_lenet5
from tests.notebooks import edited
from tests.scoring import scored

DATA = os.environ.get("CNN_COURSE_DATA")


# --- not judged ------------------------------------------------------------------------------------------------

def test_smoke_accuracy_without_threshold_is_not_judged_and_earns_nothing(tmp_path):
    """02 and 05 smoke have no accuracy threshold: the check says so and gives no point (it gave 3/3)."""
    for assignment, check_id in (("02", "accuracy"), ("05", "accuracy_phase1"), ("05", "accuracy_phase2")):
        spec = next(s for s in rubrics.find(assignment).checks if s.id == check_id)
        assert "min_accuracy" not in spec.args_for("smoke")
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")])
    coursework.submit(tmp_path, model=model, history={"val_accuracy": [0.1]})
    context = ScoringContext(tmp_path, None, "smoke", rubrics.find("00").profiles["smoke"].limits, DATA)
    status, message, value, fraction, detail = run_check("validation_accuracy", context,
                                                         {"dataset": "digits", "scale": 16})
    assert status == Status.NOT_JUDGED and fraction == 0.0
    assert message.startswith("not judged in the smoke profile")
    assert np.asarray(detail["confusion"]).sum() == 360 and value is not None


def test_01_smoke_judges_learning_on_images_the_size_the_model_takes(tmp_path, data_dir):
    """01 smoke trains on 48x48 photos long enough to learn: a network that predicts one class fails it
    (it gave 3/3 at chance); the grader resizes its photos to the saved model's input."""
    spec = next(s for s in rubrics.find("01").checks if s.id == "accuracy")
    assert spec.args_for("smoke")["min_accuracy"] > 0.5
    dogs_only = layers.Dense(1, activation="sigmoid", kernel_initializer="zeros", bias_initializer="ones")
    model = keras.Sequential([keras.Input((48, 48, 3)), layers.Flatten(), dogs_only])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-7), loss="binary_crossentropy")  # barely moves
    coursework.submit(tmp_path, model=model, history={"val_accuracy": [0.5]})
    context = ScoringContext(tmp_path, None, "smoke", rubrics.find("01").profiles["smoke"].limits, str(data_dir))
    status, message, value, fraction, _ = run_check("validation_accuracy", context, spec.args_for("smoke"))
    assert (status, value, fraction) == (Status.FAIL, 0.5, 0.0), message
    assert "500 images" in message


def test_a_model_declaring_huge_photos_cannot_make_the_grader_allocate_them(tmp_path, data_dir):
    """The grader resizes its photos to the saved model's input: a tiny model that declares 100,000 x 100,000
    inputs must get an error, not 500 photos of 120 GB each in the scoring process."""
    model = keras.Sequential([keras.Input((100_000, 100_000, 3)), layers.GlobalAveragePooling2D(),
                              layers.Dense(1, activation="sigmoid")])
    coursework.submit(tmp_path, model=model, history={"val_accuracy": [0.5]})
    spec = next(s for s in rubrics.find("01").checks if s.id == "accuracy")
    context = ScoringContext(tmp_path, None, "smoke", rubrics.find("01").profiles["smoke"].limits, str(data_dir))
    status, message, *_ = run_check("validation_accuracy", context, spec.args_for("smoke"))
    assert status == Status.ERROR and "100000x100000" in message, message


def test_not_judged_in_every_report():
    results = [CheckResult("01", "accuracy", "Validation accuracy", 0.0, 3.0, Status.NOT_JUDGED, "not judged here"),
               CheckResult("01", "layers", "Layers", 1.0, 1.0, Status.PASS, "fine")]
    text = report.markdown(results, {"01": "Data generators"}, "smoke")
    assert "➖ not-judged | 0 / 3" in text
    assert report.symbol(Status.NOT_JUDGED, ascii_only=True) == "[-]"
    assert all(report.symbol(s) and report.symbol(s, text=True) and report.symbol(s, True).isascii()
               for s in Status)  # an emoji, a text symbol for pages, an ASCII fallback for terminals
    assert report.totals(results)["points"] == 1.0


def test_not_judged_is_skipped_in_junit(tmp_path):
    results = [CheckResult("01", "accuracy", "d", 0.0, 3.0, Status.NOT_JUDGED, "not judged here")]
    report.write_junit(tmp_path / "junit.xml", results)
    suite = ET.parse(tmp_path / "junit.xml").getroot()[0]
    assert suite.get("skipped") == "1" and suite.get("failures") == "0"
    assert suite.find("testcase/skipped").get("message") == "not judged here"


# --- messages --------------------------------------------------------------------------------------------------

def test_wrong_hand_count_does_not_give_the_answer(tmp_path):
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(10)])
    coursework.submit(tmp_path, model=model, answers={"params_by_hand": 33_232})
    (status, message, _) = scored("00", tmp_path, checks=["params_by_hand"])["params_by_hand"]
    assert status == "fail" and "33,232" in message
    assert f"{model.count_params():,}" not in message and str(model.count_params()) not in message
    assert "(k·k·c + 1)·f" in message


ARITHMETIC = '''PARAMS = {"conv1": (5 * 5 * 1 + 1) * 6, "conv2": 2416, "fc1": -48120, "fc2": (120 + 1) * 84, "fc3": 850}
PARAMS["total"] = sum(PARAMS.values())
'''


def test_arithmetic_is_read_from_the_answer_cell():
    entries = dict_entries(["", ARITHMETIC], "PARAMS")
    assert plain_numbers(entries, ["conv1", "conv2", "fc1", "fc2", "fc3", "total"]) == ["conv2", "fc1", "fc3"]
    assert dict_entries(["x = 1"], "PARAMS") is None


def test_03_counts_written_as_plain_numbers_lose_points(tmp_path):
    """03 asks for each count as arithmetic: bare numbers passed before."""
    plain = "PARAMS = " + repr({k: v for k, v in LENET5_COUNTS.items() if k != "total"}) + \
        '\nPARAMS["total"] = sum(PARAMS.values())'
    notebook = edited(tmp_path, "03_lenet5", answers=plain)
    coursework.submit(tmp_path / "a", model=keras_lenet5(compiled=True), answers={"params": LENET5_COUNTS})
    status, message, points = scored("03", tmp_path / "a", notebook, ["params_by_hand"])["params_by_hand"]
    assert status == "fail" and "not as arithmetic: conv1, conv2, fc1, fc2, fc3" in message and points < 1
    reference = REFERENCE / "03_lenet5" / "03_lenet5.ipynb"
    assert scored("03", tmp_path / "a", reference, ["params_by_hand"])["params_by_hand"][0] == "pass"


def lenet_with(conv1_filters: int) -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(conv1_filters, 5, padding="same"), layers.MaxPooling2D(2),
        layers.Conv2D(16, 5), layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(120), layers.Dense(84),
        layers.Dense(10, activation="softmax"),
    ])


def hand_count(tmp_path, answers, conv1_filters=6):
    coursework.submit(tmp_path, model=lenet_with(conv1_filters), answers={"params": answers})
    return scored("03", tmp_path, checks=["params_by_hand"])["params_by_hand"]


def test_03_unknown_keys_are_named_with_the_keys_expected(tmp_path):
    """A student who wrote dense1..3 was told only `fc1=None, fc2=None, fc3=None, total=61706 (recount ...)`."""
    answers = {"conv1": 156, "conv2": 2416, "dense1": 48120, "dense2": 10164, "dense3": 850, "total": 61706}
    status, message, points = hand_count(tmp_path, answers)
    assert status == "fail", message
    assert "missing keys: fc1, fc2, fc3; unknown keys: dense1, dense2, dense3" in message
    assert 'the keys expected are "conv1", "conv2", "fc1", "fc2", "fc3", "total"' in message
    assert "None" not in message and "recount" not in message  # the right counts under other names are not wrong
    assert points == pytest.approx(2 * 3 / 6, abs=1e-3)


def test_03_a_count_right_for_the_network_asked_for_is_right(tmp_path):
    """conv1=156 was called wrong for a student whose own model had 8 filters: it is right for the network asked
    for. A count right for the student's own model is right too; one right for neither is wrong, and says so."""
    status, message, points = hand_count(tmp_path / "a", LENET5_COUNTS, conv1_filters=8)
    assert status == "pass" and points == 2, message
    assert "conv1=156 is right for the network asked for; your saved model differs there" in message
    assert "conv2=2416 is right for the network asked for" in message  # 8 channels into conv2 change it too
    assert "fc1=" not in message  # a layer where the two agree needs no note

    own = {**LENET5_COUNTS, "conv1": (5 * 5 * 1 + 1) * 8, "conv2": (5 * 5 * 8 + 1) * 16, "total": 61706 + 52 + 800}
    status, message, _ = hand_count(tmp_path / "b", own, conv1_filters=8)
    assert status == "pass" and "conv1=208 counts your saved model, which differs there" in message, message

    wrong = {**LENET5_COUNTS, "conv1": 150, "fc2": 10000}
    status, message, points = hand_count(tmp_path / "c", wrong, conv1_filters=8)
    assert status == "fail" and points == pytest.approx(2 * 4 / 6, abs=1e-3), message
    assert "conv1=150 (wrong both for the network asked for and for your saved model, which differs from it" \
        in message
    assert "fc2=10000 (wrong for the network asked for, which your saved model matches here)" in message
    assert "156" not in message and "208" not in message and "3216" not in message and "10,164" not in message and "10164" not in message


def test_03_a_model_with_other_layers_is_checked_against_the_network_asked_for(tmp_path):
    coursework.submit(tmp_path, model=keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                                                        layers.Dense(10, activation="softmax")]),
                      answers={"params": {**LENET5_COUNTS, "fc3": 840}})
    status, message, points = scored("03", tmp_path, checks=["params_by_hand"])["params_by_hand"]
    assert status == "fail" and "fc3=840 (wrong for the network asked for)" in message, message
    assert "has 1 layers with weights, not 5" in message and points == pytest.approx(2 * 5 / 6, abs=1e-3)


def test_03_the_network_asked_for_is_the_notebooks_and_its_keys_are_named():
    """The rubric's layer sizes add up to the total the notebook states; the released notebook names every key."""
    from autograder.checks.structure import asked_count

    rubric = rubrics.find("03")
    args = next(c for c in rubric.checks if c.id == "params_by_hand").args_for("smoke")
    exact = next(c for c in rubric.checks if c.id == "param_count").args_for("smoke")["exact"]
    assert sum(asked_count(layer) for layer in args["asked"].values()) == exact
    assert {k: asked_count(v) for k, v in args["asked"].items()} == {k: v for k, v in LENET5_COUNTS.items()
                                                                     if k != "total"}
    released = nbformat.read(RELEASED_DIR / "03_lenet5" / "03_lenet5.ipynb", as_version=4)
    text = next(c.source for c in released.cells if c.source.startswith("## 2. Count the parameters"))
    assert all(f'"{key}"' in text for key in [*args["names"], "total"])


def test_a_failed_check_in_jupyter_is_one_line():
    """grade_cell's failure shows as its message alone, not a traceback through the grader (IPython's own hook)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with capture_output() as captured:
        shell.run_cell("from coursework.grade_cell import CheckFailed\nraise CheckFailed('[fail] why')")
    shown = [line for line in (captured.stdout + captured.stderr).splitlines() if line.strip()]
    assert shown == ["CheckFailed: [fail] why"]


# --- the local check: pristine release, one notebook, progress -------------------------------------------------

def test_the_check_restores_from_a_pristine_copy_not_from_the_students_notebooks():
    """`make check` grades assignments/, which students edit: the locked cells must come from elsewhere."""
    released = GradingSettings().released_dir
    for name in [p.name for p in (ROOT / "assignments").iterdir() if p.is_dir()]:
        pristine, edited = released / name / f"{name}.ipynb", ROOT / "assignments" / name / f"{name}.ipynb"
        assert pristine.is_file() and not pristine.samefile(edited)
        assert pristine.read_bytes() == edited.read_bytes(), "assignments/ or .released/ is stale: run make release"
    assert released == RELEASED_DIR


def test_make_check_takes_one_assignment():
    proc = subprocess.run(["make", "-n", "check", "ASSIGNMENT=03"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "MAKEFLAGS": ""})
    line = next(line for line in proc.stdout.splitlines() if "autograder grade assignments" in line)
    assert line.rstrip().endswith("--assignment 03")


@pytest.fixture(scope="module")
def edited_warmup(tmp_path_factory):
    """00 solved, with its locked training cell edited, graded as `make check` would, with progress shown."""
    tmp = tmp_path_factory.mktemp("check")
    shutil.copytree(REFERENCE / "00_warmup", tmp / "assignments" / "00_warmup")
    path = tmp / "assignments" / "00_warmup" / "00_warmup.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell(nb, "train").source += '\nprint("EDITED LOCKED CELL RAN")'
    plot = nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()")
    nb.cells.insert(nb.cells.index(cell(nb, "train")) + 1, plot)  # a cell of the student's own
    nbformat.write(nb, path)
    stream = io.StringIO()
    graded = grade(tmp / "assignments", tmp / "out", ["00"], GradingSettings(data_dir=DATA, sandbox="prefer"),
                   progress=LineProgress(stream))
    return graded, tmp / "out", stream.getvalue()


@pytest.mark.notebooks
def test_an_edited_locked_cell_runs_as_released(edited_warmup):
    graded, out, _ = edited_warmup
    rows = {r.id: r for r in graded[0].results}
    assert rows["locked_cells"].status == Status.TAMPERED
    assert "EDITED LOCKED CELL RAN" not in (out / "00_warmup.ipynb").read_text()


@pytest.mark.notebooks
def test_progress_names_the_notebook_and_its_result(edited_warmup):
    _, _, printed = edited_warmup
    lines = printed.splitlines()
    assert lines[0] == "[1/1] 00 Warm-up: a digits classifier: running"
    assert re.fullmatch(r"\[1/1\] 00 Warm-up: a digits classifier: [\d.]+ / [\d.]+ points \(.*\d+ pass.*\) in \d+ s",
                        lines[1])


@pytest.mark.notebooks
def test_feedback_page_draws_curves_and_confusion_and_hides_grader_paths(edited_warmup):
    _, out, _ = edited_warmup
    page = (out / "00_warmup.html").read_text()
    assert "Learning curves of model" in page and "Confusion matrix of model" in page
    assert page.count("data:image/png") >= 3  # both figures and the student's own plot, inline
    assert "/tmp/" not in page and "autograder-" not in page.replace("autograder-feedback", "")
    assert "Autograder tests" not in page  # its grade cells are not run: no orphaned heading
    assert not re.search(r"00 00(?!:)", page) and "Feedback: 00 · Warm-up" in page  # (TF's log stamps: 00 00:00)
    executed = nbformat.read(out / "00_warmup.ipynb", as_version=4)
    plots = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert plots, "plt.show() drew nothing in the executed notebook (Agg backend?)"


# --- profile ---------------------------------------------------------------------------------------------------

def test_default_profile_is_safe_and_says_why(monkeypatch, capsys):
    from coursework import profile

    monkeypatch.delenv("CNN_PROFILE", raising=False)
    monkeypatch.setattr(profile, "gpu_present", lambda: False)
    assert profile.choose_profile(None) == "smoke"
    assert "no GPU found" in capsys.readouterr().out
    monkeypatch.setattr(profile, "gpu_present", lambda: True)
    assert profile.choose_profile(None) == "full"
    monkeypatch.setenv("CNN_PROFILE", "smoke")
    assert profile.choose_profile(None) == "smoke" and "$CNN_PROFILE" in capsys.readouterr().out
    assert profile.choose_profile("full") == "full"
    with pytest.raises(ValueError):
        profile.choose_profile("fast")


def test_released_notebooks_default_to_the_chosen_profile():
    for path in (ROOT / "assignments").glob("*/*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert cell(nb, "parameters").source.count("PROFILE = None") == 1, path
        assert "coursework.choose_profile(PROFILE)" in cell(nb, "setup").source, path


# --- 06: the smoke profile judges the design; the layer table ---------------------------------------------------

def _built(source: str):
    scope = {"keras": keras, "layers": layers}
    exec(source, scope)
    return scope["build_model"]()


@pytest.fixture(scope="module")
def cifar_smoke():
    from coursework.datasets import training_split

    (x, y), (xv, yv) = training_split("cifar10", 1000, 4000, seed=0, data_dir=DATA)
    return x[:2000].astype("float32") / 255, y[:2000], xv.astype("float32") / 255, yv


def _trained(model, data, epochs: int = 2):
    x, y, xv, yv = data
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=128, verbose=0)


@pytest.fixture(scope="module")
def trained_base(cifar_smoke):

    keras.utils.set_random_seed(0)
    base = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(4),
                             layers.Flatten(), layers.Dense(10, activation="softmax")], name="base")
    return base, _trained(base, cifar_smoke)


@pytest.mark.notebooks
@pytest.mark.parametrize("variant", ["default_bn_flatten", "bn_before_relu_gap", "bn_after_relu_gap"])
def test_correct_06_networks_never_fail_the_smoke_comparison(variant, cifar_smoke, trained_base, tmp_path):
    """Default BatchNormalization momentum after ~30 steps: the saved model scores at chance in inference mode;
    the smoke check settles the statistics on training images and judges the design."""
    from tests.separable_variants import VARIANTS

    keras.utils.set_random_seed(0)
    model = _built(VARIANTS[variant])
    history = _trained(model, cifar_smoke)
    base, base_history = trained_base
    coursework.submit(tmp_path, models={"model": model, "base": base},
                      histories={"model": history, "base": base_history})
    spec = next(s for s in rubrics.find("06").checks if s.id == "beats_base")
    context = ScoringContext(tmp_path, None, "smoke", rubrics.find("06").profiles["smoke"].limits, DATA)
    status, message, *_ = run_check("beats_model", context, spec.args_for("smoke"))
    assert status in (Status.PASS, Status.NOT_JUDGED), message
    settled = context.accuracy("model", "cifar10", 1000, 255, settle_batchnorm=True)
    as_saved = context.accuracy("model", "cifar10", 1000, 255)
    assert settled > max(as_saved, 0.2), (settled, as_saved)


def test_settling_leaves_the_saved_model_alone(cifar_smoke):
    from autograder.scoring.settle import batchnorm_layers, settled
    from tests.separable_variants import DEFAULT_BN_FLATTEN

    model = _built(DEFAULT_BN_FLATTEN)
    before = [w.copy() for w in model.get_weights()]
    copy = settled(model, cifar_smoke[0][:500])
    assert all((a == b).all() for a, b in zip(before, model.get_weights()))
    moved = batchnorm_layers(copy)[0].moving_variance.numpy()
    assert not np.allclose(moved, 1.0) and batchnorm_layers(copy)[0].momentum == 0.99


def test_layer_table_marks_each_written_value_without_revealing(tmp_path):
    from autograder.pipeline.report import figure_cells
    from autograder.pipeline.score import score
    from tests.separable_variants import DEFAULT_BN_FLATTEN

    wrong = DEFAULT_BN_FLATTEN.replace("# out: 16x16x96  RF: 10", "# out: 16x16x96  RF: 11")
    notebook = edited(tmp_path, "06_separable_cifar10", build_model=wrong)
    coursework.submit(tmp_path / "a", models={"model": _built(wrong)})
    (result,) = score(rubrics.find("06"), "smoke", tmp_path / "a", notebook, DATA, ["annotations"])
    rows = result.detail["layers"]
    bad = next(r for r in rows if r["rf"] == "11")
    assert bad["rf_ok"] is False and bad["out_ok"] is True and "rf_true" not in bad
    assert all(r["rf_ok"] for r in rows if r["rf"] not in (None, "11"))
    html = "".join(c.outputs[0]["data"]["text/html"] for c in figure_cells([result], rubrics.find("06"))
                   if c.cell_type == "code")
    assert html.count("✘ wrong") == 1 and "grader's values are not shown" in html
