"""06's receptive-field figure (issue 31): the field it draws is computed from the student's own layers, and it
agrees with the grader's own receptive-field arithmetic (autograder.modelspec), padding included."""

import keras
import numpy as np
import pytest
from keras import layers

from autograder.modelspec import describe
from coursework import plots


def _network(*stack, size: int = 32):
    return keras.Sequential([keras.Input((size, size, 3)), *stack, layers.GlobalAveragePooling2D(), layers.Dense(10)])


NETWORKS = {
    "reference-like": lambda: _network(
        layers.SeparableConv2D(8, 3, padding="same"), layers.SeparableConv2D(8, 3, padding="same"),
        layers.MaxPooling2D(2), layers.SeparableConv2D(8, 3, padding="same"), layers.MaxPooling2D(2),
        layers.SeparableConv2D(8, 3, padding="same")),
    "strided-odd": lambda: _network(
        layers.SeparableConv2D(8, 5, strides=2, padding="same"), layers.SeparableConv2D(8, 3, strides=2,
                                                                                       padding="same"), size=33),
    "dilated-valid": lambda: _network(
        layers.SeparableConv2D(8, 3, dilation_rate=2, padding="same"), layers.SeparableConv2D(8, 3),
        layers.AveragePooling2D(3, strides=2)),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_fields_agree_with_the_graders_arithmetic(name):
    model = NETWORKS[name]()
    size = model.input_shape[1]
    ours = {row["layer"]: row for row in plots.receptive_fields(model, size)}
    for info in describe(model):
        if info.name not in ours or info.fields is None or info.fields[0].is_whole:
            continue
        row, field = ours[info.name], info.fields[0]
        assert (row["n"], row["j"], row["r"]) == (field.size, field.jump, field.rf), info.name
        assert row["start"] == -field.padding, info.name  # where the first unit's field begins


def test_the_figure_draws_the_last_maps_fields_and_says_how_much_is_padding(capsys, monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # plain Python, whatever shell another test started
    model = NETWORKS["reference-like"]()
    drawn = plots.plot_receptive_field_on_image(model, np.random.default_rng(0).random((32, 32, 3)), "Fields")
    last = plots.receptive_fields(model, 32)[-3]  # the last convolution, before global pooling and Dense
    assert (drawn["layer"], drawn["r"], drawn["j"]) == (last["layer"], last["r"], last["j"])
    assert drawn["fields"]["corner"] == (last["start"], last["start"] + last["r"])
    alt = next((line for line in capsys.readouterr().out.splitlines() if line.startswith("[figure] Fields:")), "")
    outside = -last["start"] + max(0, last["start"] + last["r"] - 32)
    assert f"{outside} of its {last['r']} lie outside the image" in alt, alt

    small = _network(layers.SeparableConv2D(8, 3, padding="same"), layers.MaxPooling2D(2))
    drawn = plots.plot_receptive_field_on_image(small, np.zeros((32, 32, 3)), "Small")
    assert drawn["r"] == 4 and drawn["fields"]["centre"] == (13, 17)  # pixel (7, 7): inside the image
    assert "0 of its 4 lie outside the image" in capsys.readouterr().out
