"""Assignments 01-06: the reference gets full marks; each wrong variant is caught by its own check.

The reference is graded end to end through the CLI. Wrong variants are scored
directly: a notebook variant (for checks that run the student's functions in
the sandbox) and artifacts saved with autograder.submit (for model checks),
so no variant needs a full training run.
"""

import keras
import nbformat
import pytest
from keras import layers

import coursework
from tests.modelzoo import LENET5_COUNTS, keras_lenet5
from tests.notebooks import REFERENCE, cell, edited
from tests.scoring import scored


@pytest.mark.parametrize("assignment", ["00", "01", "02", "03", "04", "05", "06"])
def test_reference_gets_full_marks(reference_run, assignment):
    grades = reference_run(assignment).results
    rows = [r for r in grades["results"] if r["assignment"] == assignment]
    assert rows, f"assignment {assignment} was not graded"
    failing = {r["id"]: r["message"] for r in rows if r["status"] not in ("pass", "not-judged")}
    assert failing == {}
    judged = sum(r["max_points"] for r in rows if r["status"] == "pass")
    total = grades["totals"]["by_assignment"][assignment]
    assert total["points"] == judged > 0  # every point the profile can judge


# --- wrong variants, scored directly --------------------------------------------------------


def lenet(first_padding="same", pool="MaxPooling2D"):
    return keras_lenet5(first_padding, pool, compiled=True)


def test_lenet_variants(tmp_path):
    untrained = lenet()
    untrained.compile(optimizer=keras.optimizers.SGD(1e-6), loss="sparse_categorical_crossentropy")  # cannot learn
    coursework.submit(tmp_path / "a", model=untrained, history={"val_accuracy": [0.99]},
                      answers={"params": {**LENET5_COUNTS, "fc1": 48000, "total": 61586}})
    results = scored("03", tmp_path / "a")
    assert results["layers"][0] == results["param_count"][0] == "pass"
    assert results["params_by_hand"][0] == "fail" and "fc1=48000" in results["params_by_hand"][1]
    assert 0 < results["params_by_hand"][2] < 2  # partial credit
    assert results["accuracy"][0] == "fail" and "below the 0.93" in results["accuracy"][1]
    assert "retrained by the grader" in results["accuracy"][1]
    assert results["history"][0] == "fail" and "0.9900" in results["history"][1]

    coursework.submit(tmp_path / "b", model=lenet("valid"), history={}, answers={"params": LENET5_COUNTS})
    results = scored("03", tmp_path / "b", checks=["layers", "param_count", "params_by_hand"])
    assert results["layers"][0] == "fail" and "padding='same'" in results["layers"][1]
    assert results["param_count"][0] == "fail" and "44,426" in results["param_count"][1]
    # the counts of the network asked for are right, though the saved model differs (the layer checks say so)
    assert results["params_by_hand"][0] == "pass" and "fc1=48120 is right for the network asked for" in \
        results["params_by_hand"][1]

    coursework.submit(tmp_path / "c", model=lenet(pool="AveragePooling2D"), answers={"params": "61706"})
    results = scored("03", tmp_path / "c", checks=["params_by_hand", "history"])
    assert results["params_by_hand"][0] == "fail" and "should be a dict" in results["params_by_hand"][1]
    assert results["history"][0] == "missing-artifact"


def test_generator_variants(tmp_path):
    stops = "def batches(items, batch_size):\n    for i in range(0, len(items), batch_size):\n" \
            "        yield items[i:i + batch_size]\n"
    results = scored("01", notebook=edited(tmp_path, "01_data_generators", batches=stops),
                     checks=["generator"])
    assert results["generator"][0] == "fail" and "start again from the first" in results["generator"][1]

    eager = "def batches(items, batch_size):\n    return [items[:batch_size]]\n"
    results = scored("01", notebook=edited(tmp_path, "01_data_generators", batches=eager),
                     checks=["generator"])
    assert results["generator"][0] == "fail" and "must use yield" in results["generator"][1]

    hangs = "def batches(items, batch_size):\n    import time\n    while True:\n        time.sleep(1)\n    yield\n"
    results = scored("01", notebook=edited(tmp_path, "01_data_generators", batches=hangs),
                     checks=["generator"], limits={"harness_timeout": 20})
    assert results["generator"][0] == "timeout" and "20 s" in results["generator"][1], results["generator"]


def reference_cell(assignment: str, grade_id: str) -> str:
    notebook = nbformat.read(REFERENCE / assignment / f"{assignment}.ipynb", as_version=4)
    return cell(notebook, grade_id).source


def pipeline(assignment: str = "01_data_generators", **edits: str) -> str:
    """The reference's FolderBatches and make_datasets with text ``old -> new`` edits, each of which must apply."""
    source = reference_cell(assignment, "make_datasets")
    for old, new in edits.values():
        assert old in source, old
        source = source.replace(old, new)
    return source


UNSCALED = ("/ 255.0", "/ 1.0")
INT_LABELS = ("[[self.files[i][1]] for i in chosen]", "[self.files[i][1] for i in chosen]")
FIXED_BATCH = ("self.shuffle = batch_size, image_size", "self.shuffle = 32, image_size")
SHUFFLED_VALIDATION = ('/validation", batch_size, image_size, shuffle=False', '/validation", batch_size, '
                       "image_size, shuffle=True")
NEVER_RESHUFFLED = ("        self.on_epoch_end()\n", "        if shuffle:\n            self.rng.shuffle(self.order)\n"
                    "        self.shuffle = False  # shuffled once, then never again\n")


@pytest.mark.parametrize(
    "edit, check, message",
    [
        (UNSCALED, "batches", "rescale them to [0, 1]"),
        (INT_LABELS, "batches", "binary labels have shape (batch, 1)"),
        (FIXED_BATCH, "batches", "not batch_size=20"),
        (SHUFFLED_VALIDATION, "shuffling", "validation"),
        (NEVER_RESHUFFLED, "shuffling", "same order every epoch"),
    ],
    ids=["not-rescaled", "int-labels", "ignores-batch-size", "shuffled-validation", "shuffled-once"],
)
def test_pipeline_variants(tmp_path, edit, check, message):
    notebook = edited(tmp_path, "01_data_generators", make_datasets=pipeline(change=edit))
    results = scored("01", notebook=notebook, checks=[check])
    assert results[check][0] == "fail" and message in results[check][1]


def test_missing_pipeline_is_an_error_not_a_crash(tmp_path):
    notebook = edited(tmp_path, "01_data_generators", make_datasets="# YOUR CODE HERE")
    results = scored("01", notebook=notebook, checks=["batches"])
    assert results["batches"][0] == "error" and "no function make_datasets()" in results["batches"][1]


IGNORES_AUGMENTATION = ("seed=seed,\n                          augmentation=augmentation)", "seed=seed)")
AUGMENTS_VALIDATION = ('/validation", batch_size, image_size, shuffle=False)',
                       '/validation", batch_size, image_size, shuffle=False,\n'
                       "                               augmentation=augmentation)")


def test_augmentation_variants(tmp_path):
    everywhere = pipeline("02_augmentation", change=AUGMENTS_VALIDATION)
    notebook = edited(tmp_path, "02_augmentation", make_datasets=everywhere)
    results = scored("02", notebook=notebook, checks=["validation_untouched", "augmentation"])
    assert results["validation_untouched"][0] == "fail" and "augment the training data only" in \
        results["validation_untouched"][1]
    assert results["augmentation"][0] == "pass"

    no_zoom = ("def make_augmentation():\n    return keras.Sequential([layers.RandomFlip('horizontal'), "
               "layers.RandomRotation(0.1), layers.RandomTranslation(0.2, 0.2)])\n")
    notebook = edited(tmp_path, "02_augmentation", make_augmentation=no_zoom)
    results = scored("02", notebook=notebook, checks=["augmentation"])
    assert results["augmentation"][0] == "fail" and "no zoom" in results["augmentation"][1]

    ignored = pipeline("02_augmentation", change=IGNORES_AUGMENTATION)
    notebook = edited(tmp_path, "02_augmentation", make_datasets=ignored)
    results = scored("02", notebook=notebook, checks=["augmentation", "validation_untouched"])
    assert results["augmentation"][0] == "fail" and "training images unchanged" in results["augmentation"][1]
    assert results["validation_untouched"][0] == "pass"


def convnet(dropout=None):
    stack = [keras.Input((150, 150, 3))]
    for filters in (32, 64, 128, 128):
        stack += [layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2)]
    stack.append(layers.Flatten())
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack += [layers.Dense(512, activation="relu"), layers.Dense(1, activation="sigmoid")]
    return keras.Sequential(stack)


def test_dropout_variants(tmp_path):
    coursework.submit(tmp_path / "none", model=convnet())
    results = scored("02", tmp_path / "none", checks=["dropout", "layers"])
    assert results["dropout"][0] == "fail" and "no Dropout" in results["dropout"][1]
    assert results["layers"][0] == "pass"
    coursework.submit(tmp_path / "weak", model=convnet(0.2))
    results = scored("02", tmp_path / "weak", checks=["dropout"])
    assert results["dropout"][0] == "fail" and "rate 0.2" in results["dropout"][1]


def small_separable(extra=(), dropout=0.2, batchnorm=True, width=16, head="glorot_uniform"):
    stack = [keras.Input((32, 32, 3)), layers.SeparableConv2D(width, 3, padding="same")]
    if batchnorm:
        stack.append(layers.BatchNormalization())
    stack += [*extra, layers.MaxPooling2D(2), layers.Dropout(dropout), layers.GlobalAveragePooling2D(),
              layers.Dense(10, activation="softmax", kernel_initializer=head)]
    return keras.Sequential(stack)


def test_separable_network_rules(tmp_path):
    rules = ["no_conv2d", "batchnorm", "dropout", "params", "epochs"]
    good = small_separable()
    good.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    coursework.submit(tmp_path / "good", models={"model": good}, histories={"model": {"val_accuracy": [0.1] * 50}})
    results = scored("06", tmp_path / "good", checks=rules)
    assert {k: v[0] for k, v in results.items()} == {rule: "pass" for rule in rules}

    pointwise = small_separable(extra=[layers.Conv2D(320, 1)], dropout=0.6, batchnorm=False, width=400)
    coursework.submit(tmp_path / "bad", models={"model": pointwise}, histories={"model": {"val_accuracy": [0.1] * 60}})
    results = scored("06", tmp_path / "bad", checks=rules)
    assert results["no_conv2d"][0] == "fail" and "a 1x1 Conv2D is a plain convolution too" in results["no_conv2d"][1]
    assert results["batchnorm"][0] == "fail" and "0 BatchNormalization" in results["batchnorm"][1]
    assert results["dropout"][0] == "fail" and "(0.6)" in results["dropout"][1]
    assert results["params"][0] == "fail" and "more than the 99,999 allowed" in results["params"][1]
    assert results["epochs"][0] == "fail" and "60 epochs" in results["epochs"][1]


class Retrained:
    """A scoring context whose retrained networks score as given (``accuracies``): what beats_model decides from."""

    profile = "smoke"

    def __init__(self, accuracies: dict[str, float]):
        self.accuracies = accuracies

    def retraining_recipe(self, **retrain):
        from autograder.scoring.retraining import Recipe

        return Recipe(3, 128, 0)

    def retrained(self, model, dataset, **retrain):
        return model

    def recipe_words(self, model):
        return "the course's recipe"

    def accuracy(self, model, *args, **kwargs):
        return self.accuracies[model]

    def confusion(self, model, *args, **kwargs):
        return [[1] * 10 for _ in range(10)]

    def shared_baseline(self, args):
        return None  # outside a class run: the base is retrained here


def test_beats_base_is_not_judged_while_the_base_is_near_chance():
    """Smoke trains the course's base for 3 epochs: where it is still within chance_margin of chance, the profile
    cannot compare, so a network that does not beat it is not judged (no points either way); past that, it fails."""
    from autograder.checks.accuracy import beats_model

    retrain = {"batch_size": 128}
    near = beats_model(Retrained({"model": 0.11, "base": 0.12}), "cifar10", chance_margin=0.05, retrain=retrain)
    assert near.passed is None and "near chance" in near.message
    learned = beats_model(Retrained({"model": 0.11, "base": 0.30}), "cifar10", chance_margin=0.05, retrain=retrain)
    assert learned.passed is False and "it must be better" in learned.message
    beaten = beats_model(Retrained({"model": 0.35, "base": 0.30}), "cifar10", chance_margin=0.05, retrain=retrain)
    assert beaten.passed is True and "better by 0.0500" in beaten.message


def deep(depth=6, skip="identity", extra_conv=False):
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    for _ in range((depth - 2) // 2):
        branch = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
        branch = layers.Conv2D(4, 3, padding="same")(branch)
        if skip == "identity":
            x = layers.Add()([x, branch])
        elif skip == "self":
            x = layers.Add()([branch, branch])
        else:
            x = branch
    if extra_conv:
        x = layers.Conv2D(4, 3, padding="same")(x)
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


def test_depth_versus_residual_variants(tmp_path):
    checks = ["skips", "same_depth", "observation"]
    coursework.submit(tmp_path / "fake", models={"plain": deep(16, skip=None), "residual": deep(16, skip="self")},
                      answers={"observation": "it works"})
    results = scored("04", tmp_path / "fake", checks=checks)
    assert results["skips"][0] == "fail" and "adds a tensor to itself" in results["skips"][1]
    assert results["same_depth"][0] == "pass"
    assert results["observation"][0] == "fail" and "2 words" in results["observation"][1]

    coursework.submit(tmp_path / "deeper", models={"plain": deep(16, skip=None),
                                                   "residual": deep(16, extra_conv=True)})
    results = scored("04", tmp_path / "deeper", checks=["skips", "same_depth"])
    assert results["skips"][0] == "pass"
    assert results["same_depth"][0] == "fail" and "15 convolutions and residual 16" in results["same_depth"][1]

    coursework.submit(tmp_path / "shallow", models={"plain": deep(6, skip=None), "residual": deep(6)})
    results = scored("04", tmp_path / "shallow", checks=["skips", "same_depth"])
    assert results["skips"][0] == "fail" and "2 skip connection(s); at least 7" in results["skips"][1]
    assert results["same_depth"][0] == "fail" and "depth 16 was asked for" in results["same_depth"][1]


def transfer(phase: int, lr: float = 1e-5):
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    inputs = keras.Input((32, 32, 3))
    x = layers.GlobalAveragePooling2D()(base(inputs))
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(layers.Dense(8, activation="relu")(x)))
    if phase == 1:
        base.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy")
    return model


def test_transfer_learning_variants(tmp_path):
    checks = ["base", "frozen", "block5", "learning_rate"]
    # phase 1 never froze the base; phase 2 trains everything with a large rate
    coursework.submit(tmp_path / "a", models={"feature_extraction": transfer(2), "fine_tuned": transfer(2, 1e-3)})
    results = scored("05", tmp_path / "a", checks=checks)
    assert results["base"][0] == "pass"
    assert results["frozen"][0] == "fail" and "trainable but should be frozen: block1_conv1" in results["frozen"][1]
    assert results["block5"][0] == "fail" and "block4_conv3" in results["block5"][1]
    assert results["learning_rate"][0] == "fail" and "0.001" in results["learning_rate"][1]

    coursework.submit(tmp_path / "b", models={"feature_extraction": transfer(1), "fine_tuned": lenet()})
    results = scored("05", tmp_path / "b", checks=["base", "frozen"])
    assert results["frozen"][0] == "pass"
    assert results["base"][0] == "fail" and "no nested model named 'vgg16'" in results["base"][1]

    notebook = edited(tmp_path, "05_vgg16_transfer",
                                preprocess="x_train = x_train / 255.0\nx_val = x_val / 255.0\nINPUT_SIZE = 32\n"
                                           "INPUT_SIZE_REASON = 'fast'")
    results = scored("05", notebook=notebook, checks=["preprocess"])
    assert results["preprocess"][0] == "fail" and "never calls preprocess_input()" in results["preprocess"][1]


def test_missing_imagenet_weights_name_the_file(tmp_path, monkeypatch):
    from coursework.pretrained import VGG16_NOTOP, WeightsNotFoundError, vgg16_base

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as err:
        vgg16_base("imagenet", download=False)
    assert VGG16_NOTOP in str(err.value) and str(tmp_path / "models") in str(err.value)
    assert "make data" in str(err.value)
