"""Receptive-field arithmetic on hand-computed cases."""

from fractions import Fraction

import pytest

from autograder.modelspec import receptive_field as rf


def chain(*steps, size=32):
    field = rf.input_axis(size)
    for step in steps:
        field = rf.window(field, *step) if isinstance(step, tuple) else step(field)
    return field


def test_input_sees_itself():
    f = rf.input_axis(28)
    assert (f.size, f.rf, f.jump, f.padding) == (28, 1, 1, 0)


def test_same_conv_then_pool():
    # conv 3x3 same: r=3, j=1, p=1; pool 2x2: r=4, j=2
    f = chain((3, 1, 1, "same"), (2, 2))
    assert (f.size, f.rf, f.jump, f.padding) == (16, 4, 2, 1)


def test_dilated_conv():
    # kernel 3 with dilation 2 spans 5 pixels; twice: 1 + 4 + 4
    f = chain((3, 1, 2, "valid"), (3, 1, 2, "valid"), size=20)
    assert (f.size, f.rf, f.jump) == (12, 9, 1)


def test_strided_conv_grows_field_by_jump_before_it():
    # conv 3 stride 2 (r=3, j=2), then conv 3: r = 3 + 2*2 = 7, j = 2
    f = chain((3, 2, 1, "valid"), (3, 1, 1, "valid"), size=15)
    assert (f.size, f.rf, f.jump) == (5, 7, 2)


@pytest.mark.parametrize(
    "size, kernel, stride, expected_size, expected_pads",
    [
        (32, 3, 2, 16, (0, 1)),  # TensorFlow puts the odd pixel after the data
        (33, 3, 2, 17, (1, 1)),
        (7, 5, 1, 7, (2, 2)),
        (5, 1, 2, 3, (0, 0)),
    ],
)
def test_same_padding_follows_tensorflow(size, kernel, stride, expected_size, expected_pads):
    assert rf.same_padding(size, kernel, stride) == expected_pads
    f = rf.window(rf.input_axis(size), kernel, stride, 1, "same")
    assert f.size == expected_size
    assert f.padding == expected_pads[0]


def test_same_padding_with_unknown_size():
    assert rf.same_padding(None, 3, 1) == (1, 1)
    assert rf.same_padding(None, 3, 2) is None
    f = rf.window(rf.input_axis(None), 3, 2, 1, "same")
    assert (f.size, f.rf, f.jump, f.start) == (None, 3, 2, None)


def test_ceil_mode_pooling_keeps_last_partial_window():
    f = rf.window(rf.input_axis(7), 2, 2, 1, "valid", ceil_mode=True)
    assert f.size == 4
    # ...but not a window that would start in the right padding
    f = rf.window(rf.input_axis(6), 2, 2, 1, (1, 1), ceil_mode=True)
    assert f.size == 4


def test_window_too_large_is_an_error():
    with pytest.raises(rf.GeometryError, match="does not fit"):
        rf.window(rf.input_axis(4), 5, what="conv")


def test_zero_padding_and_cropping_shift_the_first_unit():
    padded = rf.pad(rf.input_axis(10), 2, 1)
    assert (padded.size, padded.padding) == (13, 2)
    cropped = rf.pad(rf.input_axis(10), -3, -3)
    assert (cropped.size, cropped.padding) == (4, -3)
    with pytest.raises(rf.GeometryError):
        rf.pad(rf.input_axis(4), -2, -2)


def test_nearest_upsampling_halves_the_jump():
    f = rf.resize(chain((2, 2), size=8), Fraction(2))
    assert (f.size, f.rf, f.jump) == (8, 2, 1)
    bilinear = rf.resize(chain((2, 2), size=8), Fraction(2), "bilinear")
    assert (bilinear.rf, bilinear.start) == (4, None)


def test_whole_input_layers():
    f = rf.whole(28)
    assert (f.size, f.rf, f.jump, f.is_whole) == (1, 28, None, True)
    with pytest.raises(rf.GeometryError):
        rf.window(f, 3)


def test_merge_takes_the_largest_field_when_centres_agree():
    a = chain((3, 1, 1, "same"), (3, 1, 1, "same"))  # rf 5
    b = chain((1, 1, 1, "same"))  # identity path, rf 1
    merged = rf.merge([a, b])
    assert (merged.rf, merged.jump, merged.padding) == (5, 1, 2)


def test_merge_takes_the_union_when_centres_differ():
    # 3x3 stride 2 'same' on 32 pads (0, 1): centre at 1.5; 1x1 stride 2: centre at 0.5
    a = rf.window(rf.input_axis(32), 3, 2, 1, "same")
    b = rf.window(rf.input_axis(32), 1, 2, 1, "valid")
    merged = rf.merge([a, b])
    assert (merged.rf, merged.start) == (3, Fraction(3, 2))
    c = rf.window(rf.input_axis(32), 2, 2, 1, "valid")  # centre 1, rf 2: spans [0, 2]
    d = rf.pad(rf.window(rf.input_axis(32), 2, 2, 1, "valid"), -1, 1)  # shifted one unit: spans [2, 4]
    merged = rf.merge([c, d])
    assert (merged.rf, merged.start) == (4, 2)


def test_merge_of_misaligned_paths_is_a_clear_error():
    a = rf.window(rf.input_axis(32), 17, 1, 1, "valid")  # 16 units, jump 1
    b = rf.window(rf.input_axis(32), 3, 2, 1, "same")  # 16 units, jump 2
    with pytest.raises(rf.MisalignedPathsError, match="jump 1.*jump 2"):
        rf.merge([a, b], "add", ["conv_a", "conv_b"])
