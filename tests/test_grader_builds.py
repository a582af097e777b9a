"""The grader builds what it trains and scores from its own description: a saved config is read through an
allow-list (autograder.scoring.architecture), a recipe through another (autograder.scoring.recipe), and what a
locked cell fixes comes from the course (autograder.scoring.locked, the rubrics' [models] tables).

Each attack of issue 29 is here as data edited into an honest model's config.json; the routes' end-to-end runs
are in test_provenance.py (batch) and test_provenance_routes.py (nbgrader, the pytest plugin)."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.errors import ArtifactError
from autograder.rubric import default_limits, find
from autograder.scoring import recipe
from autograder.scoring.architecture import clean_config
from tests.provenance_attacks import keras_bytes, warmup_model


def saved(model) -> dict:
    return json.loads(zipfile.ZipFile(io.BytesIO(keras_bytes(model))).read("config.json"))


@pytest.fixture(scope="module")
def warmup() -> dict:
    return saved(warmup_model())


def layer(config: dict, index: int) -> dict:
    return config["config"]["layers"][index]["config"]


def refused(config: dict, match: str) -> None:
    with pytest.raises(ArtifactError, match=match):
        clean_config(config)


ENCODED = {  # an array of weights in the encodings a count of numbers in lists misses
    "strings": {"class_name": "__numpy__", "config": {"value": [["0.5", "-0.25"]] * 4, "dtype": "float32"}},
    "booleans": {"class_name": "__numpy__", "config": {"value": [[True, False]] * 4, "dtype": "float32"}},
    "nested": {"class_name": "__numpy__", "config": {"value": {"class_name": "__tensor__", "config": {
        "value": [[0.5] * 2] * 4, "dtype": "float32"}}, "dtype": "float32"}},
    "list": [[0.5, -0.25]] * 4,
}


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_an_initializer_carrying_an_array_in_any_encoding_is_refused(warmup, encoding):
    config = copy.deepcopy(warmup)
    layer(config, 4)["kernel_initializer"] = {"module": "keras.initializers", "class_name": "Constant",
                                              "config": {"value": ENCODED[encoding]}, "registered_name": None}
    refused(config, r"config\.json, sequential(_\d+)? > layer 4 \(dense(_\d+)?\)\.kernel_initializer\.value: "
                    r"expected a number")


def test_a_layer_or_activation_that_names_any_other_keras_function_is_refused(warmup):
    config = copy.deepcopy(warmup)
    layer(config, 4)["activation"] = {"module": "keras.config", "class_name": "function", "config": "set_epsilon",
                                      "registered_name": "function"}
    refused(config, r"\.activation: an activation is one of Keras's by name")
    layer(config, 4)["activation"] = "set_epsilon"
    refused(config, r"\.activation: an activation is one of Keras's by name .* found 'set_epsilon'")
    for kind in ("Lambda", "TFSMLayer", "Normalization", "Embedding"):
        config = copy.deepcopy(warmup)
        config["config"]["layers"][2]["class_name"] = kind
        refused(config, f"'{kind}' is not a layer the grader builds")
    config = copy.deepcopy(warmup)
    config["config"]["layers"][2] = {"module": "student_layers", "class_name": "Dense", "config": {"name": "x"},
                                     "registered_name": "student>Dense"}
    refused(config, "Dense comes from 'student_layers', not from Keras")


def test_unknown_arguments_dtypes_and_graph_kwargs_are_refused(warmup):
    config = copy.deepcopy(warmup)
    layer(config, 1)["lora_rank"] = 4
    refused(config, r"conv2d(_\d+)?\)\.lora_rank: Conv2D takes no 'lora_rank'")
    config = copy.deepcopy(warmup)
    layer(config, 1)["dtype"] = {"module": "keras", "class_name": "QuantizedDTypePolicy",
                                 "config": {"name": "int8_from_float32"}, "registered_name": None}
    refused(config, r"\.dtype: a dtype policy is one of float32")
    config = copy.deepcopy(warmup)
    layer(config, 1)["kernel_size"] = [3, 3, {"class_name": "__numpy__"}]
    refused(config, r"\.kernel_size\[2\]: expected a whole number")


def test_frozen_layers_are_trained_unless_the_course_freezes_them(warmup):
    import keras

    config = copy.deepcopy(warmup)
    for entry in config["config"]["layers"][1:]:
        entry["config"]["trainable"] = False
    rebuilt = keras.saving.deserialize_keras_object(clean_config(config), safe_mode=True)
    assert all(layer.trainable for layer in rebuilt.layers)
    as_saved = keras.saving.deserialize_keras_object(clean_config(config, frozen=None), safe_mode=True)
    assert not any(layer.trainable for layer in as_saved.layers)  # the checks that read the flags see them
    frozen = keras.saving.deserialize_keras_object(clean_config(warmup, frozen=["dense"]), safe_mode=True)
    assert [layer.trainable for layer in frozen.layers] == [True, True, True, False, False]


def honest_models():
    import keras
    from keras import layers

    separable = keras.Sequential([
        keras.Input((32, 32, 3)), layers.RandomFlip("horizontal"), layers.RandomTranslation(0.1, 0.1),
        layers.SeparableConv2D(32, 3, padding="same", use_bias=False), layers.BatchNormalization(momentum=0.9),
        layers.Activation("relu"), layers.MaxPooling2D(2), layers.Dropout(0.1), layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="softmax")])
    separable.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, 96)),
                      loss="sparse_categorical_crossentropy")
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                      kernel_regularizer=keras.regularizers.L2(1e-4))(inputs)
    y = layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same")(x))
    x = layers.ReLU()(layers.Add()([x, y]))
    residual = keras.Model(inputs, layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x)))
    residual.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False))
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    base.trainable = False
    transfer = keras.Sequential([keras.Input((32, 32, 3)), base, layers.Flatten(), layers.Dense(10)])
    transfer.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="sparse_categorical_crossentropy")
    flat = keras.Sequential([keras.Input((40, 40, 4)), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    flat.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy")  # 02's head: 6,400 inputs
    return {"separable": separable, "residual": residual, "transfer": transfer, "warmup": warmup_model(),
            "flat": flat}


def test_the_courses_kinds_of_network_pass_and_rebuild_whole():
    import keras

    for label, model in honest_models().items():
        config = saved(model)
        rebuilt = keras.saving.deserialize_keras_object(clean_config(config), safe_mode=True)
        assert rebuilt.count_params() == model.count_params(), label
        recipe.from_compile_config(config["compile_config"])  # the recipe passes too
    transfer = saved(honest_models()["transfer"])
    phase2 = keras.saving.deserialize_keras_object(clean_config(transfer, ["block1", "block2", "block3", "block4"]),
                                                   safe_mode=True)
    assert [w.name for w in phase2.trainable_weights][:1] == ["kernel"] and len(phase2.trainable_weights) == 8


@pytest.mark.parametrize("rate, match", [
    (0.0, r"optimizer\.learning_rate\.rate: expected a number from 1e-07 to 1"),
    ({"module": "keras.config", "class_name": "function", "config": "epsilon", "registered_name": "function"},
     r"optimizer\.learning_rate: a learning rate is a number from 1e-07 to 1 or one of Keras's schedules"),
    ({"module": "keras.optimizers.schedules", "class_name": "CosineDecay",
      "config": {"initial_learning_rate": 0.0, "decay_steps": 10}}, r"initial_learning_rate: expected a number"),
])
def test_a_learning_rate_that_keeps_the_start_is_refused(warmup, rate, match):
    compile_config = copy.deepcopy(warmup["compile_config"])
    compile_config["optimizer"]["config"]["learning_rate"] = rate
    with pytest.raises(ArtifactError, match=match):
        recipe.from_compile_config(compile_config)


def test_unknown_optimizers_settings_and_losses_are_refused(warmup):
    for edit, match in [
        (lambda c: c["optimizer"].update(class_name="Muon"), "an optimizer is one of Adadelta"),
        (lambda c: c["optimizer"]["config"].update(use_ema=True), r"use_ema: expected one of False"),
        (lambda c: c.update(loss="poisson"), "a loss is one of"),
        (lambda c: c.update(loss={"module": "keras.losses", "class_name": "LossFunctionWrapper", "config": {}}),
         "a loss is one of"),
    ]:
        compile_config = copy.deepcopy(warmup["compile_config"])
        edit(compile_config)
        with pytest.raises(ArtifactError, match=match):
            recipe.from_compile_config(compile_config)


def test_every_rubric_recipe_and_locked_network_is_buildable():
    from autograder.paths import RELEASED_DIR
    from autograder.rubric import all_rubrics
    from autograder.scoring.locked import build_locked

    for rubric in all_rubrics().values():
        for name, rules in rubric.models.items():
            if "recipe" in rules:
                recipe.from_rubric(rules["recipe"], f"{rubric.id} [models.{name}]").build(100)
            if "locked_cell" in rules:
                network = build_locked(RELEASED_DIR / rubric.name / rubric.notebook, rules["locked_cell"],
                                       rules["build"], 0)
                assert network.count_params() > 0


def test_06s_base_and_recipes_come_from_the_course_not_from_the_files(tmp_path):
    """A base.keras whose learning rate was set to 0 after submit, and a model saved with a recipe of its own:
    the grader builds the base from the released notebook's locked cell and trains both with the rubric's
    recipes, so nothing the notebook wrote changes how a locked part is trained."""
    import keras
    from keras import layers

    import coursework
    from autograder.scoring.context import ScoringContext

    tiny = keras.Sequential([keras.Input((32, 32, 3)), layers.GlobalAveragePooling2D(), layers.Dense(10)])
    tiny.compile(optimizer=keras.optimizers.SGD(1e-6), loss="sparse_categorical_crossentropy")
    coursework.submit(tmp_path / "artifacts", models={"model": tiny})  # no base.keras at all
    context = ScoringContext(tmp_path / "artifacts", None, "smoke", default_limits()["smoke"], epochs=3,
                             rubric=find("06"))
    assert context.built("base").count_params() == 1_172_410  # the course's base, as its locked cell builds it
    one_recipe = "Adam, CosineDecay from 0.001, SparseCategoricalCrossentropy"  # the same for both (issue 31)
    assert context.compiled("base") == context.compiled("model")
    assert context.compiled("model").describe() == one_recipe
    assert context.recipe_words("base").startswith("the course's own definition, the course's recipe")
    optimizer, _ = context.compiled("model").build(steps=96)
    assert optimizer.get_config()["learning_rate"]["config"]["decay_steps"] == 96  # over the whole training


def test_04s_recipe_is_the_courses_whatever_the_saved_files_say(tmp_path):
    import keras

    import coursework
    from autograder.scoring.context import ScoringContext

    lazy = warmup_model()
    lazy.compile(optimizer=keras.optimizers.SGD(1e-6), loss="sparse_categorical_crossentropy")
    coursework.submit(tmp_path / "artifacts", models={"plain": lazy, "residual": lazy})
    context = ScoringContext(tmp_path / "artifacts", None, "smoke", default_limits()["smoke"], rubric=find("04"))
    assert context.compiled("plain").describe() == "Adam, learning rate 0.001, SparseCategoricalCrossentropy"
    assert context.recipe_words("residual").startswith("the course's recipe")


def test_the_saved_model_is_loaded_through_the_allow_list_with_its_weights(tmp_path, warmup):
    """What the checks inspect (structure, saved accuracy) is the grader's build of the saved config with the
    saved weights: the same numbers as the model saved, and a poisoned config is refused, not loaded."""
    import coursework
    from autograder.scoring.context import ScoringContext

    model = warmup_model()
    coursework.submit(tmp_path / "honest", model=model)
    context = ScoringContext(tmp_path / "honest", None, "smoke", default_limits()["smoke"])
    for ours, theirs in zip(context.model("model").get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)

    coursework.submit(tmp_path / "poisoned", model=model)
    path = Path(tmp_path / "poisoned" / "model.keras")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    layer(config, 4)["activation"] = {"module": "keras.config", "class_name": "function", "config": "set_epsilon",
                                      "registered_name": "function"}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    context = ScoringContext(tmp_path / "poisoned", None, "smoke", default_limits()["smoke"])
    with pytest.raises(ArtifactError, match="an activation is one of Keras's by name"):
        context.model("model")


def test_a_retraining_over_the_courses_budget_is_refused_in_seconds(tmp_path, data_dir):
    """Issue 29's endless retraining: UpSampling2D(64) at the input of a network of about 1,500 parameters held a
    scoring worker for the whole scoring timeout. Its cost is known from its description before any training:
    the accuracy check is an error naming the figure, at once."""
    import time

    import coursework
    from benchmarks.retrain_budget import attack_network
    from tests.scoring import scored

    network = attack_network((8, 8, 1))
    network.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    coursework.submit(tmp_path / "artifacts", model=network, history={"val_accuracy": [0.5]})
    started = time.monotonic()
    status, message, points = scored("00", tmp_path / "artifacts", checks=["accuracy"])["accuracy"]
    assert time.monotonic() - started < 60
    assert (status, points) == ("error", 0), message
    assert "multiply-adds" in message and "retrain_work" in message, message


def test_an_initializer_shared_by_several_layers_passes():
    """Keras numbers an object that several layers share (``shared_object_id``): an honest config, not an attack."""
    import keras
    from keras import layers

    init, penalty = keras.initializers.HeNormal(seed=1), keras.regularizers.L2(1e-4)
    model = keras.Sequential([keras.Input((8, 8, 1)), *[layers.Conv2D(4, 3, kernel_initializer=init,
                                                                      kernel_regularizer=penalty) for _ in "ab"],
                              layers.Flatten(), layers.Dense(10)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    config = saved(model)
    assert "shared_object_id" in config["config"]["layers"][2]["config"]["kernel_initializer"]
    rebuilt = keras.saving.deserialize_keras_object(clean_config(config), safe_mode=True)
    assert rebuilt.count_params() == model.count_params()
