"""Declared size: the variables a ``.keras`` config asks for, counted from the config alone, capped."""

import copy
import json
import zipfile

import pytest

import coursework
from autograder import rubric as rubrics
from autograder.errors import ArtifactError
from autograder.scoring.declared_size import DeclaredSizeError, declared_parameters
from autograder.scoring.context import ScoringContext
from tests.modelzoo import keras_lenet5, keras_zoo

LIMITS = rubrics.default_limits()["smoke"]


def config_of(model):
    import keras

    return json.loads(json.dumps(keras.saving.serialize_keras_object(model)))


def transfer_model():
    """05's shape: a VGG16 base nested in a Sequential, with a head."""
    import keras

    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    return keras.Sequential([keras.Input((32, 32, 3)), base, keras.layers.Flatten(),
                             keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])


def other_layers():
    import keras
    from keras import layers

    inp = keras.Input((12,), dtype="int32")
    x = layers.Embedding(50, 6)(inp)
    x = layers.Conv1D(4, 3, padding="causal")(x)
    x = layers.PReLU(shared_axes=[1])(x)
    x = layers.Reshape((6, 2, 4))(x)
    x = layers.Conv2DTranspose(3, 3, strides=2)(x)
    x = layers.UpSampling2D((1, 2))(x)
    x = layers.GroupNormalization(groups=3)(x)
    x = layers.Permute((2, 1, 3))(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.RepeatVector(2)(x)
    x = layers.Flatten()(x)
    inner = keras.Sequential([layers.Dense(7), layers.BatchNormalization(scale=False)])
    return keras.Model(inp, layers.Dense(2)(inner(x)))


@pytest.fixture(scope="module")
def models():
    zoo = keras_zoo()
    zoo["transfer"] = transfer_model()
    zoo["others"] = other_layers()
    return zoo


@pytest.mark.parametrize("name", ["lenet5_same", "lenet5_valid", "separable", "multipath", "residual", "transfer",
                                  "others"])
def test_the_declared_count_is_what_keras_builds(models, name):
    model = models[name]
    assert declared_parameters(config_of(model)) == model.count_params()


def dense_bomb(units=3_000_000, build_config=True):
    """A Sequential whose last Dense declares ``units`` units over a 256-wide input."""
    layers = [{"class_name": "InputLayer", "config": {"batch_shape": [None, 16, 16], "name": "in"}},
              {"class_name": "Flatten", "config": {"name": "flatten"}},
              {"class_name": "Dense", "config": {"name": "dense", "units": units}}]
    if build_config:
        layers[2]["build_config"] = {"input_shape": [None, 256]}
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}


def test_a_dense_of_three_million_units_is_refused_at_the_cap():
    assert declared_parameters(dense_bomb(10)) == 2570
    for config in (dense_bomb(), dense_bomb(build_config=False)):
        with pytest.raises(DeclaredSizeError, match=r"more than 50,000,000 variables \(at layer 'dense', "
                                                     r"771,000,000 in that layer alone\).*model_parameters"):
            declared_parameters(config, cap=50_000_000)


def test_a_build_config_larger_than_the_graph_counts():
    # Keras builds a layer from its build_config when it deserializes it: that allocation counts too
    config = dense_bomb(10)
    config["config"]["layers"][2]["build_config"] = {"input_shape": [None, 10_000_000]}
    assert declared_parameters(config) == 100_000_010


def test_a_nested_functional_model_is_counted():
    inner = {"class_name": "Functional", "config": {"name": "inner", "layers": [
        {"class_name": "InputLayer", "name": "i", "config": {"name": "i", "batch_shape": [None, 1000]},
         "inbound_nodes": []},
        {"class_name": "Dense", "name": "huge", "config": {"name": "huge", "units": 1_000_000},
         "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                      "config": {"shape": [None, 1], "keras_history": ["i", 0, 0]}}]}]}],
        "input_layers": [["i", 0, 0]], "output_layers": [["huge", 0, 0]]}}
    outer = {"class_name": "Sequential", "config": {"name": "outer", "layers": [copy.deepcopy(inner)]}}
    # the tensor's declared shape ([None, 1]) is a claim; the count follows the input layer's 1000
    assert declared_parameters(outer) == 1000 * 1_000_000 + 1_000_000


@pytest.mark.parametrize("layer, message", [
    ({"class_name": "LSTM", "config": {"name": "lstm", "units": 3_000_000}}, "is a LSTM, which the grader cannot size"),
    ({"class_name": "Dense", "config": {"name": "d", "units": -5}}, "units is -5"),
    ({"class_name": "Dense", "config": {"name": "d", "units": "many"}}, "units is 'many'"),
    ({"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": 3}}, "takes 4-dimensional"),
])
def test_a_config_that_cannot_be_sized_is_refused(layer, message):
    config = dense_bomb(10)
    config["config"]["layers"].insert(2, layer)
    with pytest.raises(DeclaredSizeError, match=message):
        declared_parameters(config)


def test_an_open_input_dimension_under_a_dense_is_refused():
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, None]}},
        {"class_name": "Dense", "config": {"name": "d", "units": 3}}]}}
    with pytest.raises(DeclaredSizeError, match="input dimension the config leaves open"):
        declared_parameters(config)


def replace_config(path, config):
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_saved_model_declaring_a_huge_layer_is_refused_before_it_is_loaded(tmp_path):
    coursework.submit(tmp_path, model=keras_lenet5())
    config = json.loads(zipfile.ZipFile(tmp_path / "model.keras").read("config.json"))
    dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
    dense["config"]["units"] = 3_000_000
    replace_config(tmp_path / "model.keras", config)
    assert (tmp_path / "model.keras").stat().st_size < 300_000
    ctx = ScoringContext(tmp_path, None, "smoke", LIMITS)
    for read in (ctx.keras_config, ctx.model):
        with pytest.raises(ArtifactError, match=r"model.keras: its config declares more than .* variables.*"
                                                r"model_parameters"):
            read("model")


def replace_member(path, name, data):
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[name] = data
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)


def test_a_weights_file_declaring_gigabytes_in_a_few_kilobytes_is_refused(tmp_path):
    import io

    import h5py

    coursework.submit(tmp_path, model=keras_lenet5())
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        weights = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights, "a") as h5:  # 3 GB of zeros, gzip-chunked: stored in a few KB
        name = next(n for n in _datasets(h5) if n.endswith("/0"))
        del h5[name]
        h5.create_dataset(name, shape=(30_000, 25_000), dtype="float32", chunks=(1000, 1000), compression="gzip",
                          fillvalue=0)
    replace_member(tmp_path / "model.keras", "model.weights.h5", weights.getvalue())
    assert (tmp_path / "model.keras").stat().st_size < 1_000_000
    with pytest.raises(ArtifactError, match=r"model.keras: its weights declare more than 2,000,000,000 bytes of "
                                            r"arrays .*model_expanded_bytes"):
        ScoringContext(tmp_path, None, "smoke", LIMITS).model("model")


def _datasets(h5):
    import h5py

    names = []
    h5.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    return names


def test_an_npz_weights_member_declaring_gigabytes_is_refused(tmp_path):
    import io

    import numpy as np

    coursework.submit(tmp_path, model=keras_lenet5())
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (100_000, 100_000)})
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w") as inner:
        inner.writestr("layers/dense/vars/0.npy", header.getvalue())
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist() if i.filename != "model.weights.h5"}
    members["model.weights.npz"] = npz.getvalue()
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ArtifactError, match=r"its weights declare more than 2,000,000,000 bytes"):
        ScoringContext(tmp_path, None, "smoke", LIMITS).model("model")


def test_an_honest_saved_model_passes_every_size_check(tmp_path):
    coursework.submit(tmp_path, model=transfer_model())
    assert ScoringContext(tmp_path, None, "smoke", LIMITS).model("model").count_params() > 14_000_000
