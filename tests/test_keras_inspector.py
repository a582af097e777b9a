"""The model inspector on Keras 3 models, against Keras's own figures."""

import keras
import pytest
from keras import layers

from autograder.modelspec import DescriptionError, describe
from tests.modelzoo import keras_lenet5, keras_zoo

VGG16_POOLS = {  # layer: (receptive field, jump)
    "block1_pool": (6, 2),
    "block2_pool": (16, 4),
    "block3_pool": (44, 8),
    "block4_pool": (100, 16),
    "block5_pool": (212, 32),
}


def square(pair):
    assert pair is not None and pair[0] == pair[1], pair
    return pair[0]


def test_vgg16_base_parameters_and_fields():
    base = keras.applications.VGG16(weights=None, include_top=False)
    description = describe(base)
    assert description.params == 14_714_688 == base.count_params()
    assert len(description.of_kind("conv")) == 13
    for name, (field, jump) in VGG16_POOLS.items():
        info = description[name]
        assert (square(info.rf), square(info.jump)) == (field, jump), name


@pytest.mark.slow
def test_full_vgg16_parameters():
    model = keras.applications.VGG16(weights=None)
    description = describe(model)
    assert description.params == 138_357_544
    assert description["fc2"].output_shape == (4096,)
    assert square(description["flatten"].rf) == 224  # dense layers see the whole input


def test_lenet5_same_padding():
    description = describe(keras_lenet5("same"))
    assert description.params == 61_706
    assert [i.output_shape for i in description.of_kind("conv", "pool")] == [
        (28, 28, 6),
        (14, 14, 6),
        (10, 10, 16),
        (5, 5, 16),
    ]
    assert [square(i.rf) for i in description.of_kind("conv", "pool")] == [5, 6, 14, 16]


def test_nested_vgg16_inside_sequential():
    base = keras.applications.VGG16(weights=None, include_top=False)
    base.trainable = False
    model = keras.Sequential(
        [keras.Input((64, 64, 3)), base, layers.Flatten(), layers.Dense(10)], name="transfer"
    )
    description = describe(model)
    pool = description["vgg16/block5_pool"]
    assert pool.output_shape == (2, 2, 512)  # propagated from the outer input, unlike Keras's own (None, None)
    assert pool.layer.scope == ("vgg16",)
    assert description["block5_pool"] is pool
    assert description.non_trainable_params == 14_714_688
    assert description.trainable_params == 2 * 2 * 512 * 10 + 10
    base.trainable = True
    for layer in base.layers:
        layer.trainable = layer.name.startswith("block5")
    description = describe(model)
    trainable = {i.name for i in description if i.layer.scope and i.trainable_params}
    assert trainable == {"block5_conv1", "block5_conv2", "block5_conv3"}


def test_residual_inbound_edges_and_merge():
    description = describe(keras_zoo()["residual"])
    add = description.of_kind("add")[0]
    assert len(add.layer.inbound) == 2
    assert add.output_shape == (8, 8, 16)
    # union of a 3x3 path (rf 3 + 2*2 = 7) and a 1x1 path (rf 3 + 0) on the same grid
    assert square(add.jump) == 4 and square(add.rf) >= 7


def test_unbuilt_sequential_needs_an_input_shape():
    model = keras.Sequential([layers.Conv2D(4, 3), layers.Flatten()])
    with pytest.raises(DescriptionError, match="keras.Input"):
        describe(model)
    assert describe(model, (10, 10, 1)).of_kind("flatten")[0].output_shape == (256,)


@pytest.mark.parametrize("name", sorted(keras_zoo()))
def test_computed_figures_match_keras(name):
    """Every layer's computed output shape and parameter count equal Keras's own."""
    model = keras_zoo()[name]
    description = describe(model)
    for info in description:
        reported = info.layer.reported_shape
        assert info.output_shape == reported, (info.qualname, info.output_shape, reported)
        assert info.params == info.layer.reported_params, (info.qualname, info.params)
        assert info.trainable_params == info.layer.reported_trainable_params, info.qualname
    assert description.params == model.count_params()
    assert [i.qualname for i in description if i.params_source != "computed"] == []
