"""05's and 06's "why" questions (issue 31, item 5): the grader counts each answer from the rubric's sizes, the
counts agree with Keras's own, the reference's arithmetic earns the points, and a wrong, bare or hostile answer
does not, without the feedback giving the right number away."""


import keras
import pytest
from keras import layers

import coursework
from autograder import rubric as rubrics
from autograder.checks.why_numbers import expected_answers
from tests.notebooks import REFERENCE, RELEASED, edited, reference_value
from tests.scoring import scored

QUESTIONS = {"05": ("05_vgg16_transfer", "why_vgg"), "06": ("06_separable_cifar10", "why_separable")}


def _asked(assignment: str) -> dict:
    name, check_id = QUESTIONS[assignment]
    spec = next(s for s in rubrics.find(assignment).checks if s.id == check_id)
    return spec.args_for("smoke")["asked"]


def _reference_answers(assignment: str) -> dict:
    """The reference's WHY, evaluated from its solution cell's arithmetic."""
    return reference_value(*QUESTIONS[assignment])


def _per_position(layer, channels: int) -> int:
    layer.build((None, 16, 16, channels))
    return layer.count_params()


def test_the_graders_counts_agree_with_keras():
    """Multiplications per output position equal the weights without bias; VGG16's block 5 is Keras's."""
    expected = expected_answers(_asked("06"))
    assert expected["standard"] == 16 * 16 * _per_position(layers.Conv2D(128, 3, use_bias=False), 64)
    assert expected["separable"] == 16 * 16 * _per_position(layers.SeparableConv2D(128, 3, use_bias=False), 64)
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    block5 = sum(vgg.get_layer(f"block5_conv{i}").count_params() for i in (1, 2, 3))
    expected = expected_answers(_asked("05"))
    assert expected["block5"] == block5
    assert expected["two_3x3"] == 2 * _per_position(layers.Conv2D(256, 3, use_bias=False), 256)
    assert expected["one_5x5"] == _per_position(layers.Conv2D(256, 5, use_bias=False), 256)
    assert expected["two_3x3"] / expected["one_5x5"] == pytest.approx(18 / 25)


@pytest.mark.parametrize("assignment", sorted(QUESTIONS))
def test_the_reference_answers_earn_the_points(assignment, tmp_path):
    name, check_id = QUESTIONS[assignment]
    coursework.submit(tmp_path, answers={"why": _reference_answers(assignment)})
    status, message, points = scored(assignment, tmp_path, REFERENCE / name / f"{name}.ipynb",
                                     checks=[check_id])[check_id]
    assert (status, points) == ("pass", 2.0), message


@pytest.mark.parametrize("assignment", sorted(QUESTIONS))
def test_the_released_notebook_never_prints_an_answer(assignment):
    name, _ = QUESTIONS[assignment]
    text = (RELEASED / name / f"{name}.ipynb").read_text()
    for value in expected_answers(_asked(assignment)).values():
        assert str(value) not in text and f"{value:,}" not in text, value


def test_wrong_bare_and_hostile_answers_lose_points_without_the_answer(tmp_path):
    right = _reference_answers("06")
    wrong = {"standard": right["standard"], "separable": 16 * 16 * 3 * 3 * 64 * 128 // 8}
    coursework.submit(tmp_path / "wrong", answers={"why": wrong})
    status, message, points = scored("06", tmp_path / "wrong", checks=["why_separable"])["why_separable"]
    assert status == "fail" and "wrong: separable" in message and points == 1.0
    assert str(right["separable"]) not in message and f"{right['separable']:,}" not in message

    for hostile in ({"standard": True, "separable": "2244608"}, {"standard": float("nan")}, [1, 2], None):
        coursework.submit(tmp_path / "hostile", answers={"why": hostile})
        status, message, points = scored("06", tmp_path / "hostile", checks=["why_separable"])["why_separable"]
        assert status == "fail" and points == 0.0, (hostile, message)

    bare = (f'WHY = {{"standard": {right["standard"]}, '
            '"separable": 16 * 16 * (3 * 3 * 64 + 64 * 128)}')
    notebook = edited(tmp_path, "06_separable_cifar10", why_separable=bare)
    coursework.submit(tmp_path / "bare", answers={"why": right})
    status, message, points = scored("06", tmp_path / "bare", notebook, checks=["why_separable"])["why_separable"]
    assert status == "fail" and "bare number" in message and "standard" in message and points == 1.0
