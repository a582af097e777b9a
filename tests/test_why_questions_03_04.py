"""03's and 04's "why" questions (issue 31, item 5): the grader computes each answer from the rubric's sizes,
the answers agree with Keras and with a measurement, the reference's arithmetic earns the points, and a wrong,
bare or hostile answer loses its share, without the feedback giving the right number away."""


import keras
import numpy as np
import pytest
from keras import layers

import coursework
from autograder import rubric as rubrics
from autograder.checks.why_numbers import expected_answers
from coursework.plots import receptive_fields
from tests.notebooks import REFERENCE, edited, reference_value
from tests.scoring import scored

NAMES = {"03": "03_lenet5", "04": "04_depth_residual"}


def _asked(assignment: str) -> dict:
    spec = next(s for s in rubrics.find(assignment).checks if s.id == "why")
    return spec.args_for("smoke")["asked"]


def _reference_answers(assignment: str) -> dict:
    """The reference's WHY, evaluated from its solution cell's arithmetic."""
    return reference_value(NAMES[assignment], "why_answers")


def _params(layer, channels: int) -> int:
    layer.build((None, 28, 28, channels))
    return layer.count_params()


def test_03s_answers_agree_with_keras_models():
    expected = expected_answers(_asked("03"))
    stack = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(1, 3), layers.Conv2D(1, 3)])
    assert expected["rf_two_3x3"] == receptive_fields(stack, 28)[-1]["r"]
    lenet = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(6, 5, padding="same"), layers.MaxPooling2D(2),
                              layers.Conv2D(16, 5)])
    assert expected["rf_conv2"] == receptive_fields(lenet, 28)[-1]["r"]
    assert expected["mults_5x5"] == 28 * 28 * _params(layers.Conv2D(32, 5, use_bias=False), 192)
    assert expected["mults_bottleneck"] == 28 * 28 * (_params(layers.Conv2D(16, 1, use_bias=False), 192)
                                                      + _params(layers.Conv2D(32, 5, use_bias=False), 16))
    # the lecture's 120M against 12.4M
    assert expected["mults_5x5"] / expected["mults_bottleneck"] == pytest.approx(9.7, abs=0.05)


def test_04s_answers_agree_with_keras_and_a_measurement():
    expected = expected_answers(_asked("04"))
    assert expected["block_params"] == 2 * _params(layers.Conv2D(16, 3), 16)
    assert expected["projection_params"] == _params(layers.Conv2D(32, 1), 16)
    he = keras.ops.convert_to_numpy(keras.initializers.HeNormal(seed=0)((3, 3, 16, 4096)))
    assert float(np.std(he)) == pytest.approx(expected["he_std"], rel=0.02)
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(4096, 3 * 3 * 64))  # a layer's pre-activations, variance 1
    weights = rng.normal(scale=0.05, size=(3 * 3 * 64, 256))  # random_normal's std 0.05, fan-in 3x3x64
    assert float(np.var(np.maximum(signal, 0) @ weights)) == pytest.approx(expected["gain_width64"], rel=0.03)


@pytest.mark.parametrize("assignment", sorted(NAMES))
def test_the_reference_answers_earn_the_points(assignment, tmp_path):
    coursework.submit(tmp_path, answers={"why": _reference_answers(assignment)})
    notebook = REFERENCE / NAMES[assignment] / f"{NAMES[assignment]}.ipynb"
    status, message, points = scored(assignment, tmp_path, notebook, checks=["why"])["why"]
    assert (status, points) == ("pass", 2.0), message


def test_each_wrong_answer_loses_its_share_and_is_not_told_the_number(tmp_path):
    right = _reference_answers("04")
    close = {**right, "gain_width64": right["gain_width64"] * 1.005}  # within the rubric's 1 %
    coursework.submit(tmp_path / "close", answers={"why": close})
    assert scored("04", tmp_path / "close", checks=["why"])["why"][0] == "pass"

    wrong = {**right, "gain_width64": 3 * 3 * 16 * 0.05**2 / 2, "block_params": 3 * 3 * 16 * 16 * 2}
    coursework.submit(tmp_path / "wrong", answers={"why": wrong})
    status, message, points = scored("04", tmp_path / "wrong", checks=["why"])["why"]
    assert status == "fail" and points == 1.0 and "gain_width64" in message and "block_params" in message
    assert not [form for v in expected_answers(_asked("04")).values() for form in (f"{v:,}", f"{v:.3g}")
                if form in message]

    for hostile in ({"rf_two_3x3": True, "rf_conv2": "14"}, {"mults_5x5": float("inf")}, [5, 14], None):
        coursework.submit(tmp_path / "hostile", answers={"why": hostile})
        status, message, points = scored("03", tmp_path / "hostile", checks=["why"])["why"]
        assert status == "fail" and points == 0.0, (hostile, message)


def test_an_answer_written_as_a_bare_number_loses_its_share(tmp_path):
    right = _reference_answers("03")
    bare = ('WHY = {"rf_two_3x3": 1 + 2 + 2, "rf_conv2": 1 + 4 + 1 + 8, "mults_5x5": 120422400,\n'
            '       "mults_bottleneck": 28 * 28 * (16 * 192 + 32 * 25 * 16)}')
    notebook = edited(tmp_path, NAMES["03"], why_answers=bare)
    coursework.submit(tmp_path / "bare", answers={"why": right})
    status, message, points = scored("03", tmp_path / "bare", notebook, checks=["why"])["why"]
    assert status == "fail" and "bare number" in message and "mults_5x5" in message and points == 1.5
