"""Provenance: only a model the grader trained itself earns accuracy points.

Each attack is the warm-up's reference with weights that this run did not train (from a file beside the
notebook, from base64 in a cell, after a no-op ``fit`` with a forged history, set after training), or trained
past the epochs the rubric allows in a hand-written loop. The notebook's recipe cannot reach the threshold in
the rubric's epochs, so on a grader that scores the saved weights each earns the accuracy points; the grader
that retrains the saved architecture gives none, and says why. An honest classmate, graded in the same run,
keeps full marks.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.similarity.seeds import student_seed

from autograder.errors import ArtifactError
from autograder.scoring.recipe import from_compile_config
from autograder.classrun.run import grade_class
from autograder.grading import GradingSettings
from autograder.rubric import default_limits, find
from autograder.sandbox import bwrap_problem
from tests.notebooks import WARMUP, variant
from tests.provenance_attacks import attacks, config_attacks, keras_bytes, warmup_model

@pytest.fixture(scope="module")
def provenance_class(tmp_path_factory, data_dir, trained_elsewhere):
    if bwrap_problem():
        pytest.skip(bwrap_problem())
    root = tmp_path_factory.mktemp("provenance")
    class_dir, out = root / "class", root / "grading"
    variant(class_dir / "honest", WARMUP)
    for student, (edit, files) in {**attacks(trained_elsewhere), **config_attacks(trained_elsewhere)}.items():
        variant(class_dir / student, WARMUP, edit)
        for name, data in files.items():
            (class_dir / student / WARMUP / name).write_bytes(data)
    settings = GradingSettings(profile="smoke", data_dir=str(data_dir), sandbox="require")
    graded = grade_class(class_dir, out, [WARMUP], settings)
    return {student: {r.id: r for r in notebooks[0].results} for student, notebooks in graded.items()}


ATTACKS = ["npz", "npy", "pt", "h5", "keras", "base64", "noop_fit", "set_after_training", "epoch_loop"]


@pytest.mark.notebooks
def test_the_honest_classmate_keeps_every_point(provenance_class):
    honest = provenance_class["honest"]
    assert honest["accuracy"].status == "pass" and honest["accuracy"].points == 2, honest["accuracy"].message
    seed = student_seed(0, "honest")  # a class run salts the injected seed per student
    assert f"retrained by the grader (10 epochs, batch 32, seed {seed};" in honest["accuracy"].message


@pytest.mark.notebooks
@pytest.mark.parametrize("student", ATTACKS)
def test_weights_this_run_did_not_train_earn_no_accuracy_point(provenance_class, student):
    got = provenance_class[student]["accuracy"]
    assert got.points == 0 and got.status == "fail", (got.status, got.message)
    seed = student_seed(0, student)  # a class run salts the injected seed per student
    assert f"retrained by the grader (10 epochs, batch 32, seed {seed}; your recipe: SGD, learning rate " in got.message
    assert "below the 0.85 required" in got.message
    assert got.detail["retrained"].startswith(f"model retrained by the grader (10 epochs, batch 32, seed {seed};")
    if student not in ("h5", "keras"):  # staging drops .h5 and .keras files: those notebooks fail to load them
        assert got.detail["saved_accuracy"] >= 0.85  # the smuggled weights would have passed on their own
        assert "were they trained in this run, with these settings?" in got.message
    others = {r.id: r.points for r in provenance_class[student].values() if r.id not in ("accuracy",)}
    assert others["structure"] == 1 and others["params_by_hand"] == 1  # nothing else is taken away


@pytest.mark.notebooks
@pytest.mark.parametrize("student, refusal", [
    ("constants", r"layer 1 \(conv2d\)\.kernel_initializer\.value: expected a number"),
    ("poison", r"layer 4 \(dense\)\.activation: an activation is one of Keras's by name"),
])
def test_a_config_that_carries_weights_or_calls_a_function_is_refused_in_batch(provenance_class, student, refusal):
    """Weights trained elsewhere written into Constant initializers (encoded as strings, layers frozen), and an
    activation naming a Keras function that sets a global: the grader builds neither (a clear error, no point);
    on the grader before the allow-list, the first earned 4 / 4 (retrained accuracy 1.0)."""
    import re

    got = provenance_class[student]
    assert got["accuracy"].points == 0 and got["accuracy"].status == "error"
    assert re.search(refusal, got["accuracy"].message), got["accuracy"].message
    assert "the grader builds only what its allow-list describes" in got["accuracy"].message


# --- the config as data that can smuggle weights ------------------------------------------------------------


def saved_config(model) -> dict:
    return json.loads(zipfile.ZipFile(io.BytesIO(keras_bytes(model))).read("config.json"))


def recipe_of(config: dict):
    return from_compile_config(config["compile_config"])


def test_a_model_rebuilt_from_its_config_ignores_the_saved_weights(trained_elsewhere):
    import keras

    from autograder.scoring import retraining

    rebuilt = retraining.rebuild(saved_config(trained_elsewhere), seed=0)
    keras.utils.set_random_seed(0)
    fresh = warmup_model()
    for ours, saved, new in zip(rebuilt.get_weights(), trained_elsewhere.get_weights(), fresh.get_weights()):
        assert not np.array_equal(ours, saved) or not saved.any()
        np.testing.assert_array_equal(ours, new)  # the same fresh initialization under the same seed


# --- epochs come from the rubric, capped by its limit ----------------------------------------------------------


def test_the_grader_never_trains_past_the_rubrics_epoch_limit():
    from autograder.scoring import retraining
    from autograder.scoring.context import ScoringContext

    rubric = find("06")
    cap = next(s.args_for("full")["max_epochs"] for s in rubric.checks if s.function == "epochs_within")
    assert cap == 50
    assert retraining.epochs_for(rubric.profiles["full"].epochs, cap) <= 50
    context = ScoringContext(Path("."), None, "full", default_limits()["full"], epochs=80, seed=3)
    assert context.retraining_recipe(64, cap) == retraining.Recipe(50, 64, 3)
    assert context.retraining_recipe(64) == retraining.Recipe(80, 64, 3)


def test_02s_full_profile_retrains_with_the_courses_augmentation():
    """02 teaches augmentation in the data pipeline, outside the model: the grader's retraining puts each of its
    training batches through the augmentation the assignment asks for, drawn anew every epoch."""
    import keras
    from keras import layers

    from autograder.scoring import retraining
    from autograder.scoring.context import ScoringContext

    retrain = next(s.args_for("full")["retrain"] for s in find("02").checks if s.id == "accuracy")
    context = ScoringContext(Path("."), None, "full", default_limits()["full"], epochs=2, seed=0)
    recipe = context.retraining_recipe(retrain["batch_size"], augment=retrain["augment"])
    assert recipe.describe() == "2 epochs, batch 20, augmented (flip, rotation, translation, zoom, shear), seed 0"
    recipe = retraining.Recipe(2, 4, 0, recipe.augment)

    x = np.random.default_rng(0).random((10, 24, 24, 3)).astype("float32")
    y = (np.arange(10) % 2).astype("float32")
    batches = retraining._augmented_batches(x, y, recipe)
    first = batches.order[:4]
    images, labels = batches[0]
    assert images.shape == (4, 24, 24, 3) and np.array_equal(labels, y[first])
    assert not np.allclose(images, x[first], atol=0.05)  # augmented, not the originals
    model = keras.Sequential([keras.Input((24, 24, 3)), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    trained = retraining.retrain(retraining.rebuild(saved_config(model), 0), recipe_of(saved_config(model)), x, y,
                                 recipe)
    assert int(keras.ops.convert_to_numpy(trained.optimizer.iterations)) == 2 * 3  # 2 epochs of 3 batches


@pytest.mark.notebooks
def test_05s_full_profile_trains_both_phases_from_the_graders_own_imagenet_weights(tmp_path, monkeypatch, data_dir):
    """05's saved base may hold any weights (fine-tuned whole elsewhere, say): the grader starts phase 1 from its
    own copy of VGG16's ImageNet weights (here a stand-in in a private Keras cache: no network), trains the head
    with the base frozen as saved, then fine-tunes the saved fine_tuned architecture from that model with its own
    (small) learning rate: blocks 1-4 end exactly as the grader's copy, block 5 moved."""
    import h5py
    import keras
    from keras import layers
    from keras.src.legacy.saving import legacy_h5_format

    import coursework
    from autograder.checks.accuracy import validation_accuracy
    from autograder.scoring.context import RETRAINED, ScoringContext
    from coursework.pretrained import VGG16_NOTOP

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "keras" / "models").mkdir(parents=True)
    keras.utils.set_random_seed(5)
    imagenet = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    with h5py.File(tmp_path / "keras" / "models" / VGG16_NOTOP, "w") as file:  # Keras's own file format
        legacy_h5_format.save_weights_to_hdf5_group(file, imagenet)

    keras.utils.set_random_seed(6)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))  # "trained elsewhere"
    inputs = keras.Input((32, 32, 3))
    x = layers.GlobalAveragePooling2D()(base(inputs))
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(layers.Dense(32, activation="relu")(x)))
    base.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    feature_extraction = keras.models.clone_model(model)
    feature_extraction.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    base.trainable = True
    for layer in base.layers:
        layer.trainable = layer.name.startswith("block5")
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy")
    coursework.submit(tmp_path / "artifacts", models={"feature_extraction": feature_extraction, "fine_tuned": model})

    context = ScoringContext(tmp_path / "artifacts", None, "full", default_limits()["full"], data_dir, epochs=1,
                             rubric=find("05"))  # the rubric freezes VGG16 in phase 1, blocks 1-4 in phase 2
    retrain = {"batch_size": 64, "train_size": 256, "validation_size": 250, "pretrained": "vgg16",
               "after": "feature_extraction"}
    outcome = validation_accuracy(context, "cifar10", 0.85, "fine_tuned", 200, preprocess="vgg16", retrain=retrain)
    assert ("fine_tuned retrained by the grader (1 epochs, batch 64, from feature_extraction as the grader "
            "retrained it, seed 0; your recipe: Adam, learning rate 1e-05, SparseCategoricalCrossentropy)"
            ) in outcome.message, outcome.message
    grader = {layer.name: layer.get_weights() for layer in imagenet.layers if layer.weights}
    student = {layer.name: layer.get_weights() for layer in base.layers if layer.weights}
    for name, phase in (("feature_extraction", 1), ("fine_tuned", 2)):
        retrained = context.model(name + RETRAINED).get_layer(base.name)
        for layer in retrained.layers:
            if layer.weights:
                same = all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), grader[layer.name]))
                assert same == (phase == 1 or not layer.name.startswith("block5")), (phase, layer.name)
                assert not np.array_equal(layer.get_weights()[0], student[layer.name][0])

    (tmp_path / "keras" / "models" / VGG16_NOTOP).unlink()
    context = ScoringContext(tmp_path / "artifacts", None, "full", default_limits()["full"], data_dir, epochs=1,
                             rubric=find("05"))
    with pytest.raises(FileNotFoundError, match="the grader's copy of VGG16's ImageNet weights is missing"):
        validation_accuracy(context, "cifar10", 0.85, "feature_extraction", 200, preprocess="vgg16",
                            retrain={k: v for k, v in retrain.items() if k != "after"})


@pytest.mark.notebooks
def test_06_trained_past_50_epochs_in_a_hand_written_loop_gains_nothing(tmp_path, data_dir):
    """06's accuracy points are the grader's own training of both architectures (never past 50 epochs): a network
    trained for 60 epochs in a hand-written loop, with a history that claims 3, scores what the same architecture
    scores untrained. (Small stand-ins for the course's networks keep the test quick.)"""
    import keras
    from keras import layers

    import coursework
    from coursework.datasets import training_split
    from tests.scoring import scored

    (x, y), _ = training_split("cifar10", 1000, 4000, seed=0, data_dir=data_dir)
    x = x.astype("float32") / 255

    def networks():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((32, 32, 3)), layers.SeparableConv2D(16, 3, activation="relu"),
                                  layers.MaxPooling2D(4), layers.Flatten(), layers.Dense(10, activation="softmax")])
        base = keras.Sequential([keras.Input((32, 32, 3)), layers.MaxPooling2D(8), layers.Flatten(),
                                 layers.Dense(10, activation="softmax")])
        for network in (model, base):
            network.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model, base

    claimed = {"val_accuracy": [0.3, 0.35, 0.4]}
    model, base = networks()
    coursework.submit(tmp_path / "untrained", models={"model": model, "base": base},
                      histories={"model": claimed, "base": claimed})
    model, base = networks()
    for _ in range(60):  # past the limit, one batch at a time
        for start in range(0, len(x), 128):
            model.train_on_batch(x[start:start + 128], y[start:start + 128])
    assert model.evaluate(x, y, verbose=0)[1] > 0.45  # the saved weights learned far more than 3 epochs teach
    coursework.submit(tmp_path / "looped", models={"model": model, "base": base},
                      histories={"model": claimed, "base": claimed})

    looped = scored("06", tmp_path / "looped", checks=["beats_base", "epochs"])
    untrained = scored("06", tmp_path / "untrained", checks=["beats_base"])
    assert "retrained by the grader (3 epochs, batch 128, seed 0;" in looped["beats_base"][1], looped
    assert looped["beats_base"] == untrained["beats_base"]  # the grader never read the 60 epochs' weights
    assert looped["epochs"][0] == "pass"  # the claim of 3 passes; the points that hang on training do not move


# --- 01: photos of dogs and cats, retrained from the grader's copy of train/ -------------------------------


@pytest.mark.notebooks
def test_a_network_that_memorized_the_graders_photos_earns_no_accuracy_point(tmp_path, data_dir):
    """The leak attack on 01: weights fitted to the very test photos the grader scores on (here read from the data
    folder, as a notebook outside the sandbox could), with a recipe that learns nothing in the profile's epochs.
    The saved weights score far above chance; the grader retrains the architecture on its train/ and fails it."""
    import keras
    from keras import layers

    import coursework
    from coursework.datasets import cats_and_dogs_subset, load_image_split
    from tests.scoring import scored

    x, y = load_image_split(cats_and_dogs_subset({"test": 250}, seed=0, data_dir=data_dir) / "test", (16, 16))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), layers.Flatten(), layers.Dense(256, activation="relu"),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x / 255, y, epochs=60, batch_size=50, verbose=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-7), loss="binary_crossentropy")  # learns nothing
    coursework.submit(tmp_path / "artifacts", model=model, history={"val_accuracy": [0.6]})

    status, message, points = scored("01", tmp_path / "artifacts", checks=["accuracy"])["accuracy"]
    assert (status, points) == ("fail", 0), message
    saved = float(message.split("your run's saved model scores ")[1].split()[0])
    assert saved > 0.9 and "were they trained in this run" in message, message


# --- where the grader's own start cannot apply ---------------------------------------------------------------


def test_a_pretrained_start_or_a_second_phase_that_does_not_fit_is_refused_by_name():
    import keras
    from keras import layers

    from autograder.scoring import retraining

    def net(name: str, filters: int, conv_name: str = "block1_conv1"):
        return keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(filters, 3, name=conv_name)], name=name)

    source = net("vgg16", 2)
    with pytest.raises(ArtifactError, match="the saved model has no layer 'block1_conv1'"):
        retraining.load_pretrained(source, net("student", 2, conv_name="first"))
    with pytest.raises(ArtifactError, match="layer 'block1_conv1' of the saved model does not take vgg16's weights"):
        retraining.load_pretrained(source, net("student", 4))
    with pytest.raises(ArtifactError, match="phase2 is not the architecture of phase1"):
        retraining.copy_weights(net("phase1", 2), net("phase2", 4))
    x, y = np.zeros((4, 8, 8, 3), "float32"), np.zeros(4)
    with pytest.raises(ValueError, match=r"unknown augmentation \['blur'\]"):
        retraining._augmented_batches(x, y, retraining.Recipe(1, 2, 0, (("blur", 1),)))
