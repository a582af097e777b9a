"""Receptive-field annotations: parsing, matching to layers, and the feedback students get."""

import keras
from keras import layers

import coursework
from autograder.studentcode.annotation_parser import layer_calls, notebook_layer_calls, parse_annotation
from tests.notebooks import edited
from tests.scoring import scored


def test_plain_comments_are_not_annotations():
    assert parse_annotation("block 2: more filters") is None
    assert parse_annotation("TODO") is None


SOURCE = '''
def helper():
    return layers.Dense(3)  # out: 3

def build_model():
    model = keras.Sequential([keras.Input((8, 8, 3))])
    model.add(layers.SeparableConv2D(4, 3, padding="same"))  # out: 8x8x4 RF: 3
    # rin=3, jin=1, k=2, p=0, s=2, jout=2, rout=4, nout=4x4, cout=4
    model.add(
        layers.MaxPooling2D(2)
    )
    model.add(layers.BatchNormalization())
    x = layers.Flatten()  # out: 64, RF: 8
    return model
'''


def test_layer_calls_take_trailing_and_preceding_comments():
    calls = layer_calls(SOURCE, ["SeparableConv2D", "MaxPooling2D", "BatchNormalization", "Flatten", "Dense"],
                        "build_model")
    assert [c.class_name for c in calls] == ["SeparableConv2D", "MaxPooling2D", "BatchNormalization", "Flatten"]
    assert calls[0].annotation.fields == {"out": (8, 8, 4), "rf": (3,)}
    assert calls[1].annotation.fields["rf"] == (4,) and calls[1].line == 10
    assert calls[2].annotation is None


def test_a_later_definition_replaces_an_earlier_one():
    first = "def build_model():\n    return layers.Dense(1)  # out: 1\n"
    second = "def build_model():\n    return layers.Flatten()  # out: 9\n"
    calls = notebook_layer_calls([first, "x = 1", second], ["Dense", "Flatten"], "build_model")
    assert [c.class_name for c in calls] == ["Flatten"] and calls[0].cell == 2


GOOD = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(16, 3, padding="same"))  # out: 32x32x16  RF: 3
    model.add(layers.BatchNormalization())
    # rin=3, jin=1, k=3, p=0, s=1, jout=1, rout=5, nout=30x30, cout=24
    model.add(layers.SeparableConv2D(24, 3))
    model.add(layers.MaxPooling2D(2))  # out: 15x15x24  RF: 6  jump: 2
    model.add(layers.Dropout(0.2))
    model.add(layers.SeparableConv2D(32, 3, strides=2, padding="same"))  # out: 8x8x32 RF: 10 jump: 4
    model.add(layers.GlobalAveragePooling2D())  # out: 32  RF: 32
    model.add(layers.Dense(10, activation="softmax"))  # out: 10  RF: 32
    return model
'''


def annotated(tmp_path, source, answers=None, reveal_checks=("annotations",)):
    namespace = {"keras": keras, "layers": layers}
    exec(GOOD, namespace)  # the saved model is always GOOD's; the notebook's text varies
    coursework.submit(tmp_path / "artifacts", model=namespace["build_model"](), answers=answers or {})
    notebook = edited(tmp_path, "06_separable_cifar10", build_model=source)
    return scored("06", tmp_path / "artifacts", notebook, list(reveal_checks))["annotations"]


def test_correct_annotations_pass(tmp_path):
    status, message, points = annotated(tmp_path, GOOD)
    assert status == "pass", message
    assert "all 6 layers" in message and points == 4


def test_wrong_pooling_field_explains_the_rule_without_the_answer(tmp_path):
    status, message, points = annotated(tmp_path, GOOD.replace("RF: 6  jump: 2", "RF: 5  jump: 2"))
    assert status == "fail" and 0 < points < 4
    assert "MaxPooling2D line 7 RF 5." in message
    assert "pooling layer grows the field by (k - 1) x the jump *before* it" in message
    assert "computes" not in message  # the rubric does not reveal answers


def test_stale_channel_count_and_course_notation_fields(tmp_path):
    status, message, _ = annotated(tmp_path, GOOD.replace("cout=24", "cout=16").replace("p=0", "p=1"))
    assert status == "fail"
    assert "SeparableConv2D line 6 p 1 & c_out 16" in message


def test_missing_annotation_is_an_error(tmp_path):
    source = GOOD.replace("  # out: 8x8x32 RF: 10 jump: 4", "")
    status, message, _ = annotated(tmp_path, source)
    assert status == "fail" and "SeparableConv2D" in message and "no annotation" in message
    assert "5 of 6 layers annotated correctly" in message


def test_annotated_pointwise_layers_are_checked_too(tmp_path):
    source = GOOD.replace("model.add(layers.BatchNormalization())",
                          "model.add(layers.BatchNormalization())  # out: 32x32x8 RF: 3")
    status, message, _ = annotated(tmp_path, source)
    assert status == "fail" and "BatchNormalization line 4 output 32x32x8" in message


def test_structured_annotations_are_accepted(tmp_path):
    source = GOOD.replace('layers.Dense(10, activation="softmax"))  # out: 10  RF: 32',
                          'layers.Dense(10, activation="softmax", name="head"))')
    namespace = {"keras": keras, "layers": layers}
    exec(source, namespace)
    model = namespace["build_model"]()
    for answer, expected in (({"out": [10], "rf": 32}, "pass"), ({"output": [10], "receptive_field": 30}, "fail")):
        target = tmp_path / expected
        coursework.submit(target / "artifacts", model=model, answers={"annotations": {"head": answer}})
        notebook = edited(target, "06_separable_cifar10", build_model=source)
        status, message, _ = scored("06", target / "artifacts", notebook, ["annotations"])["annotations"]
        assert status == expected, message
    assert "answers['annotations']" not in message and "Dense line 11 RF 30" in message


def test_reveal_shows_the_computed_value(tmp_path, monkeypatch):
    from autograder import rubric as rubrics
    from autograder.checks import layer_annotations
    from autograder.scoring.context import ScoringContext

    namespace = {"keras": keras, "layers": layers}
    exec(GOOD, namespace)
    coursework.submit(tmp_path / "a", model=namespace["build_model"]())
    notebook = edited(tmp_path, "06_separable_cifar10", build_model=GOOD.replace("RF: 10", "RF: 8"))
    limits = rubrics.find("06").profiles["smoke"].limits
    outcome = layer_annotations.annotations(ScoringContext(tmp_path / "a", notebook, "smoke", limits), reveal=True)
    assert not outcome.passed and "line 9 RF 8 (inspector: 10)" in outcome.message


def test_layers_built_in_a_loop_cannot_hide_from_the_check(tmp_path):
    looped = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(16, 3, padding="same"))  # out: 32x32x16  RF: 3
    model.add(layers.BatchNormalization())
    for filters in (24,):
        model.add(layers.SeparableConv2D(filters, 3))  # out: 30x30x24 RF: 5
    model.add(layers.MaxPooling2D(2))  # out: 15x15x24  RF: 6  jump: 2
    model.add(layers.Dropout(0.2))
    model.add(layers.SeparableConv2D(32, 3, strides=2, padding="same"))  # out: 8x8x32 RF: 10 jump: 4
    model.add(layers.GlobalAveragePooling2D())  # out: 32  RF: 32
    return model
'''
    status, message, _ = annotated(tmp_path, looped)
    assert status == "fail"
    assert "1 layer(s) have no line of their own" in message and "Dense" in message


def graded(tmp_path, source, name="a"):
    """The annotations check on a notebook whose build_model() is ``source``, with the model it builds saved."""
    namespace = {"keras": keras, "layers": layers}
    exec(source, namespace)
    target = tmp_path / name
    coursework.submit(target / "artifacts", model=namespace["build_model"]())
    notebook = edited(target, "06_separable_cifar10", build_model=source)
    return scored("06", target / "artifacts", notebook, ["annotations"])["annotations"]


def test_comments_under_each_layer_are_theirs(tmp_path):
    under = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(16, 3, padding="same"))
    # out: 32x32x16  RF: 3
    model.add(layers.BatchNormalization())
    model.add(layers.SeparableConv2D(24, 3))
    # rin=3, jin=1, k=3, p=0, s=1, jout=1, rout=5, nout=30x30, cout=24
    model.add(layers.MaxPooling2D(2))
    # out: 15x15x24  RF: 6  jump: 2
    model.add(layers.Dropout(0.2))
    model.add(layers.SeparableConv2D(32, 3, strides=2, padding="same"))
    # out: 8x8x32 RF: 10 jump: 4
    model.add(layers.GlobalAveragePooling2D())
    # out: 32  RF: 32
    model.add(layers.Dense(10, activation="softmax"))
    # out: 10  RF: 32
    return model
'''
    status, message, _ = graded(tmp_path, under)
    assert status == "pass", message


def test_a_truly_ambiguous_comment_is_quoted(tmp_path):
    source = GOOD.replace('''    model.add(layers.MaxPooling2D(2))  # out: 15x15x24  RF: 6  jump: 2
    model.add(layers.Dropout(0.2))''', '''    model.add(layers.MaxPooling2D(2))
    # out: 15x15x24  RF: 6  jump: 2
    model.add(layers.SeparableConv2D(32, 3, strides=2, padding="same"))''').replace(
        '''    model.add(layers.SeparableConv2D(32, 3, strides=2, padding="same"))  # out: 8x8x32 RF: 10 jump: 4\n''', "")
    status, message, _ = annotated(tmp_path, source)
    assert status == "fail"
    assert "line 8 'out: 15x15x24  RF: 6  jump: 2' touches the layers of lines 7 and 9" in message
    assert "MaxPooling2D line 7 comment at line 8 touches 2 layers" in message


def test_whole_image_layers_take_the_image_size_or_the_recurrence(tmp_path):
    # before the global pool: RF 10, jump 4 on an 8x8 map, so the recurrence gives 10 + (8 - 1) * 4 = 38
    recurrence = GOOD.replace("# out: 32  RF: 32", "# out: 1x1x32  RF: 38").replace("# out: 10  RF: 32", "# 1X10 RF: 38")
    status, message, _ = annotated(tmp_path / "recurrence", recurrence)
    assert status == "pass", message
    status, message, _ = annotated(tmp_path / "wrong", GOOD.replace("# out: 32  RF: 32", "# out: 32  RF: 36"))
    assert status == "fail" and "GlobalAveragePooling2D line 10 RF 36" in message
    assert "can exceed the image because it counts the zero padding" in message
    status, message, _ = annotated(tmp_path / "exact", GOOD.replace("RF: 10 jump: 4", "RF: 11 jump: 4"))
    assert status == "fail" and "RF 11" in message  # every other layer stays exact


def test_a_layer_needs_both_its_size_and_its_field(tmp_path):
    status, message, _ = annotated(tmp_path / "rf", GOOD.replace("# out: 32x32x16  RF: 3", "# RF: 3"))
    assert status == "fail" and "5 of 6 layers" in message and "SeparableConv2D line 3 size missing" in message
    status, message, _ = annotated(tmp_path / "blank", GOOD.replace("# out: 32x32x16  RF: 3", "# out: 32x32x16 RF: ?"))
    assert status == "fail" and "SeparableConv2D line 3 RF blank" in message
    wrong_size = GOOD.replace("# rin=3, jin=1, k=3, p=0, s=1, jout=1, rout=5, nout=30x30, cout=24", "#28  #Receptive field =5")
    status, message, _ = annotated(tmp_path / "size", wrong_size)
    assert status == "fail" and "SeparableConv2D line 6 output 28" in message


def test_unreadable_annotations_are_quoted(tmp_path):
    status, message, _ = annotated(tmp_path, GOOD.replace("# out: 32x32x16  RF: 3", "# 32, 3"))
    assert status == "fail" and "SeparableConv2D line 3 unreadable '32, 3'" in message


def test_keras_aliases_are_matched_to_their_comments(tmp_path):
    aliased = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.Convolution2D(8, 3))  # out: 30x30x8  RF: 3
    model.add(layers.MaxPool2D(2))  # out: 15x15x8  RF: 4
    model.add(layers.SeparableConvolution2D(8, 3))  # out: 13x13x8  RF: 8
    model.add(layers.AvgPool2D(2))  # out: 6x6x8  RF: 10
    model.add(layers.GlobalAvgPool2D())  # out: 8  RF: 32
    return model
'''
    status, message, _ = graded(tmp_path, aliased)
    assert status == "pass", message
    status, message, _ = graded(tmp_path, aliased.replace("GlobalAvgPool2D", "GlobalMaxPool2D"), "max")
    assert status == "pass", message


def test_stride_2_same_padding_takes_the_p_of_the_course_formula(tmp_path):
    # TensorFlow pads (0, 1); the course's floor((32 + 2p - 3) / 2) + 1 = 16 needs p = 1
    source = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    # rin=1, jin=1, k=3, p=1, s=2, jout=2, rout=3, nout=16, cout=8
    model.add(layers.SeparableConv2D(8, 3, strides=2, padding="same"))
    model.add(layers.GlobalAveragePooling2D())  # out: 8  RF: 32
    return model
'''
    status, message, _ = graded(tmp_path, source)
    assert status == "pass", message
    status, message, _ = graded(tmp_path, source.replace("p=1", "p=0"), "p0")
    assert status == "fail" and "SeparableConv2D line 4 p 0" in message
    assert "TensorFlow pads unevenly" in message and "p = 1 (n_out = 16)" in message


def test_thirty_wrong_layers_fit_a_short_message(tmp_path):
    lines, n = ["def build_model():", "    model = keras.Sequential([keras.Input((32, 32, 3))])"], 32
    for i in range(30):
        if i % 6 == 5:
            n = (n + 1) // 2
            lines.append(f'    model.add(layers.MaxPooling2D(2, padding="same"))  # out: {n}x{n}x4  RF: 2')
        else:
            lines.append(f'    model.add(layers.SeparableConv2D(4, 3, padding="same"))  # out: {n}x{n}x4  RF: 2')
    status, message, _ = graded(tmp_path, "\n".join([*lines, "    return model", ""]))
    assert status == "fail" and message.startswith("0 of 30 layers annotated correctly")
    assert message.count("RF 2") == 30 and message.count("r_out = r_in + (k - 1) * j_in") == 1
    assert len(message) < 800, (len(message), message)
