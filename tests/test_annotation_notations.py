"""How students' annotation comments are read: every notation as its writer meant it, or reported, never misread.

Pure parser tests (no Keras): each line below is how a student wrote it, with the fields it must yield,
"missing" (only blanks), "unreadable" (reported with the line quoted) or None (not an annotation).
"""

import pytest

from autograder.studentcode.annotation_parser import layer_calls, parse_annotation

MISSING, UNREADABLE = "missing", "unreadable"

NOTATIONS = [
    # the README's forms
    ("out: 32x32x32  RF: 3", {"out": (32, 32, 32), "rf": (3,)}),
    ("output 16x16x48, rf=4", {"out": (16, 16, 48), "rf": (4,)}),
    ("(32, 32, 32) RF=3x3", {"out": (32, 32, 32), "rf": (3, 3)}),
    ("RF: 5 Output Shape: 8×8×96", {"out": (8, 8, 96), "rf": (5,)}),
    ("rin=3, jin=1, k=3, p=1, s=1, jout=1, rout=5, nout=32x32, cout=48",
     {"rin": (3,), "jin": (1,), "k": (3,), "p": (1,), "s": (1,), "jout": (1,), "rf": (5,), "nout": (32, 32),
      "cout": (48,)}),
    ("r_out = 7, n_out = 16, c_out = 64, j_out = 2", {"rf": (7,), "nout": (16,), "cout": (64,), "jout": (2,)}),
    ("receptive field 20, output size 8x8x96", {"rf": (20,), "out": (8, 8, 96)}),
    # what real students wrote
    ("30x3x3x32 RF:3", {"nout": (30,), "k": (3,), "cout": (32,), "rf": (3,)}),  # size x kernel x kernel x channels
    ("OUT: 32X32X32, GRF: 3X3", {"out": (32, 32, 32), "rf": (3, 3)}),
    ("o/p: 30 ,r:3", {"out": (30,), "rf": (3,)}),
    ("32,32,32  |  3x3", {"out": (32, 32, 32), "rf": (3, 3)}),
    ("32*32*64, rf: 3", {"out": (32, 32, 64), "rf": (3,)}),
    ("30 #Receptive field =5", {"out": (30,), "rf": (5,)}),
    ("28  #Receptive field =5", {"out": (28,), "rf": (5,)}),  # the size is read, so a wrong one is caught
    ("O/P Size: 32x32x48 , RF:3X3", {"out": (32, 32, 48), "rf": (3, 3)}),
    ("1X10", {"out": (1, 10)}),
    ("1x1x10 RF=32", {"out": (1, 1, 10), "rf": (32,)}),
    ("(None, 16, 16, 64)  rf 10", {"out": (16, 16, 64), "rf": (10,)}),
    ("Output: [8, 8, 128], RF: 24", {"out": (8, 8, 128), "rf": (24,)}),
    ("HxWxC = 32x32x16, RF = 3", {"out": (32, 32, 16), "rf": (3,)}),
    ("layer 1: out 32x32x16 RF 3", {"out": (32, 32, 16), "rf": (3,)}),
    ("out: 30x30x16, params: 448, RF: 3", {"out": (30, 30, 16), "rf": (3,)}),
    ("out: 32x32x32 (same padding) RF 3", {"out": (32, 32, 32), "rf": (3,)}),
    ("RF: 5px, output 30x30x32", {"rf": (5,), "out": (30, 30, 32)}),
    ("RF:3 30x30x32", {"rf": (3,), "out": (30, 30, 32)}),  # a whole size right after a value: still a size
    ("n_in=32 nout=16 cout=64 jump=2 rf=6", {"nin": (32,), "nout": (16,), "cout": (64,), "jout": (2,), "rf": (6,)}),
    ("kernel size 3, stride 2, padding: same, out 16x16x32, RF 7",
     {"k": (3,), "s": (2,), "out": (16, 16, 32), "rf": (7,)}),
    # blanks: a missing annotation, never a value
    ("RF:", MISSING),
    ("rf: ?", MISSING),
    ("rin=.. jin=.. k=.. rout=.. nout=.. cout=..", MISSING),
    ("out: 32x32x32 RF:", {"out": (32, 32, 32), "missing": {"rf"}}),
    ("output: ??? rf: 5", {"rf": (5,), "missing": {"out"}}),
    # cannot be read without guessing: reported with the line
    ("r_out = r_in + (k-1)*j_in = 3 + 2 = 5", UNREADABLE),
    ("30, 5", UNREADABLE),  # 30x5, or size 30 and RF 5?
    ("rf: 3 5", UNREADABLE),
    ("n = 16, RF: 5", UNREADABLE),  # n is no field of the notation
    ("32x32x32 same padding", UNREADABLE),
    ("3 | 30x30x32", UNREADABLE),  # bare values are size then field: a 3-number field is no field
    ("32x32x32 | 3 | 7", UNREADABLE),
    ("jump: 0.5", UNREADABLE),
    ("rf: same as before", UNREADABLE),
    ("nout=32, 32", {"nout": (32, 32)}),
    ("nout=32 | 32x32", UNREADABLE),  # a bare size beside a labelled one
    ("out: 32x32x32, rf: 3, RF: 5", UNREADABLE),
    ("32x32x4x64", UNREADABLE),
    # plain comments
    ("block 2: more filters", None),
    ("block 2: n = 16", None),
    ("TODO", None),
    ("output layer", None),
    ("3x3 conv, 32 filters", {"cout": (32,)}),
    ("rf grows by (k-1)*j", None),
    # section headings (issue 18): prose with a label's number, not an annotation
    ("Convolution Block-1", None),
    ("Block 1", None),
    ("Block-1", None),
    ("---- classifier ----", None),
    ("Layer 3: depthwise", None),
    ("=== Stage-2 ===", None),
    ("Conv-2 (depthwise separable)", None),
    ("Block #3", None),
    # a heading and a real annotation on one line: the annotation is read, and judged
    ("Block-1: out 32x32x32, RF 3", {"out": (32, 32, 32), "rf": (3,)}),
    ("Convolution Block-2 | 16x16x64 | RF 10", {"out": (16, 16, 64), "rf": (10,)}),
    ("Block-1: out 32x32x32 RF 3 5", UNREADABLE),
    ("Block-1 30, 5", UNREADABLE),
]


@pytest.mark.parametrize("text, expected", NOTATIONS, ids=[t for t, _ in NOTATIONS])
def test_notation(text, expected):
    annotation = parse_annotation(text)
    if expected is None:
        assert annotation is None
    elif expected == UNREADABLE:
        assert annotation is not None and annotation.unreadable and not annotation.fields
        assert annotation.text == text
    elif expected == MISSING:
        assert annotation is not None and not annotation.unreadable
        assert not annotation.fields and annotation.missing
    else:
        expected = dict(expected)
        missing = expected.pop("missing", set())
        assert annotation is not None and annotation.unreadable is None, annotation
        assert annotation.fields == expected and annotation.missing == missing


def test_there_are_enough_real_looking_lines():
    assert len(NOTATIONS) >= 30


LAYERS = ["SeparableConv2D", "MaxPooling2D", "BatchNormalization", "Dense", "GlobalAveragePooling2D",
          "Convolution2D", "MaxPool2D", "GlobalAvgPool2D"]
OPTIONAL = ["BatchNormalization"]


def fields_by_line(source):
    return {c.line: (c.annotation.fields if c.annotation else None)
            for c in layer_calls(source, LAYERS, "build_model", optional_classes=OPTIONAL)}


UNDER = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(16, 3, padding="same"))
    # out: 32x32x16 RF: 3
    model.add(layers.MaxPooling2D(2))
    # out: 16x16x16 RF: 4
    model.add(layers.SeparableConv2D(16, 3, padding="same"))
    # out: 16x16x16 RF: 8
    return model
'''


def test_a_comment_under_a_layer_belongs_to_it():
    assert fields_by_line(UNDER) == {3: {"out": (32, 32, 16), "rf": (3,)}, 5: {"out": (16, 16, 16), "rf": (4,)},
                                     7: {"out": (16, 16, 16), "rf": (8,)}}


def test_a_comment_above_a_layer_belongs_to_it():
    above = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    # rin=1 jin=1 k=3 rout=3 nout=32 cout=16
    model.add(layers.SeparableConv2D(16, 3, padding="same"))
    model.add(layers.BatchNormalization())
    # rin=3 jin=1 k=2 rout=4 nout=16 cout=16
    model.add(layers.MaxPooling2D(2))
    return model
'''
    found = fields_by_line(above)
    assert found[4]["rf"] == (3,) and found[5] is None and found[7]["rf"] == (4,)


def test_the_blank_line_decides():
    source = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(16, 3, padding="same"))
    # out: 32x32x16 RF: 3

    model.add(layers.MaxPooling2D(2))  # out: 16x16x16 RF: 4

    # out: 16x16x16 RF: 8
    model.add(layers.SeparableConv2D(16, 3, padding="same"))
    return model
'''
    found = fields_by_line(source)
    assert found[3]["rf"] == (3,) and found[6]["rf"] == (4,) and found[9]["rf"] == (8,)


def test_a_comment_under_a_layer_and_above_batchnorm_goes_to_the_layer_that_needs_one():
    source = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(16, 3, padding="same"))
    # out: 32x32x16 RF: 3
    model.add(layers.BatchNormalization())
    model.add(layers.MaxPooling2D(2))  # out: 16x16x16 RF: 4
'''
    found = fields_by_line(source)
    assert found[3]["rf"] == (3,) and found[5] is None


def test_only_a_truly_ambiguous_comment_is_reported():
    source = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(16, 3, padding="same"))
    # out: 32x32x16 RF: 3
    model.add(layers.MaxPooling2D(2))

    return model
'''
    calls = layer_calls(source, LAYERS, "build_model", optional_classes=OPTIONAL)
    assert [c.annotation for c in calls] == [None, None]
    assert calls[0].shared == calls[1].shared and calls[0].shared.line == 4
    assert calls[0].shared.text == "out: 32x32x16 RF: 3" and calls[0].shared.layer_lines == (3, 5)


def test_a_split_annotation_under_a_trailing_one_is_merged():
    source = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(16, 3, padding="same"))  # out: 32x32x16
    # RF: 3
    model.add(layers.MaxPooling2D(2))  # out: 16x16x16
    # RF: 4
    return model
'''
    assert fields_by_line(source) == {3: {"out": (32, 32, 16), "rf": (3,)}, 5: {"out": (16, 16, 16), "rf": (4,)}}


def test_keras_aliases_are_layers():
    from autograder.modelspec import canonical_class_name, layer_class_names

    source = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.Convolution2D(16, 3))  # out: 30x30x16 RF: 3
    model.add(layers.MaxPool2D(2))  # out: 15x15x16 RF: 4
    model.add(layers.SeparableConvolution2D(16, 3))  # out: 13x13x16 RF: 8
    model.add(layers.AvgPool2D(2))  # out: 6x6x16 RF: 10
    model.add(layers.GlobalMaxPool2D())  # out: 16 RF: 32
    return model
'''
    calls = layer_calls(source, layer_class_names(), "build_model")
    assert [canonical_class_name(c.class_name) for c in calls] == [
        "Conv2D", "MaxPooling2D", "SeparableConv2D", "AveragePooling2D", "GlobalMaxPooling2D"]
    assert all(c.annotation and c.annotation.has_rf for c in calls)


def test_a_heading_above_a_layer_is_no_annotation_and_its_own_one_is_still_read():
    """`# Convolution Block-1` above a SeparableConv2D was read as a broken annotation and cost points: the
    layer's own annotation is what counts, right or wrong."""
    source = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    # Convolution Block-1
    model.add(layers.SeparableConv2D(16, 3, padding="same"))  # out: 32x32x16 RF: 3
    model.add(layers.MaxPooling2D(2))  # out: 16x16x16 RF: 4

    # ---- Block 2 ----
    model.add(layers.SeparableConv2D(32, 3, padding="same"))  # out: 16x16x32 RF: 99
    # Layer 3: depthwise
    model.add(layers.SeparableConv2D(32, 3, padding="same"))
    return model
'''
    calls = {c.line: c for c in layer_calls(source, LAYERS, "build_model", optional_classes=OPTIONAL)}
    assert calls[4].annotation.fields == {"out": (32, 32, 16), "rf": (3,)} and not calls[4].annotation.unreadable
    assert calls[8].annotation.fields == {"out": (16, 16, 32), "rf": (99,)}  # read as written: judged wrong later
    assert calls[10].annotation is None  # a heading alone is no annotation: the layer is unannotated
