"""The output-size and receptive-field annotations, compared with the inspector's figures.

Every field a student writes is checked (a stale channel count too); a layer
that changes the size or the field and carries no annotation is an error.
Feedback names the cell, the line and the layer and explains the rule that
was broken; the computed value is shown only where the rubric says ``reveal``.
"""

from __future__ import annotations

from typing import Any, Optional

from autograder.modelspec import receptive_field as rfa
from autograder.studentcode.annotation_parser import Annotation, notebook_layer_calls
from autograder.checks import ArtifactError, MissingArtifact, Outcome, check
from autograder.modelspec import POINTWISE_KINDS, layer_class_names

WINDOW_RULE = ("r_out = r_in + (k - 1) * j_in, with j_in the jump *before* this layer "
               "(a dilation d stretches k to d * (k - 1) + 1)")
RULES = {
    "out": "n_out = floor((n_in + 2p - k) / s) + 1 per spatial axis ('same' padding gives ceil(n_in / s)), "
           "and the channels are the layer's filters (pooling keeps its input's)",
    "cout": "the channels are the layer's number of filters (depthwise: input channels x depth multiplier; "
            "pooling, BatchNormalization and Dropout keep their input's)",
    "jout": "j_out = j_in * s: only strided layers (pooling, stride 2) change the jump",
    "rin": "r_in is the previous layer's r_out",
    "jin": "j_in is the previous layer's j_out",
    "k": "k is the layer's kernel or pool size",
    "s": "s is the layer's stride (pooling's stride defaults to its pool size)",
    "p": "p is the padding on each side: 0 for 'valid', (k - 1) / 2 for 'same' with stride 1",
}
RULES["nout"] = RULES["out"]
LABELS = {"out": "output", "nout": "n_out", "cout": "c_out", "rf": "RF", "jout": "j_out", "rin": "r_in",
          "jin": "j_in", "k": "k", "s": "s", "p": "p"}


def rf_rule(info) -> str:
    if info.fields is not None and info.fields[0].is_whole:
        return "Flatten, Dense and global pooling see the whole input image: their RF is the image size"
    if info.kind == "pool":
        return "a pooling layer grows the field by (k - 1) x the jump *before* it: " + WINDOW_RULE
    if info.kind in ("batchnorm", "dropout", "activation", "norm"):
        return "this layer changes neither the size nor the field: RF is the previous layer's"
    return WINDOW_RULE


def computed_fields(info, previous) -> dict[str, Optional[tuple]]:
    """What each annotation field should be for ``info`` (None where it does not apply)."""
    layer = info.layer
    shape = tuple(info.output_shape)
    spatial = len(shape) == 3
    values: dict[str, Optional[tuple]] = {
        "cout": (shape[-1],),
        "rf": rfa.plain_pair(info.rf),
        "jout": rfa.plain_pair(info.jump),
        "rin": rfa.plain_pair(previous.rf) if previous is not None else None,
        "jin": rfa.plain_pair(previous.jump) if previous is not None else None,
    }
    values["out"] = shape
    values["nout"] = shape[:2] if spatial else shape
    if layer.kernel is not None:
        values["k"] = (layer.kernel[0],)
        values["s"] = (layer.stride[0],)
        if layer.padding == "valid":
            values["p"] = (0,)
        elif layer.padding == "same":
            k = layer.dilation[0] * (layer.kernel[0] - 1) + 1
            n_in = previous.output_shape[0] if previous is not None else None
            pads = rfa.same_padding(n_in, k, layer.stride[0])
            values["p"] = (pads[0],) if pads else None
        else:
            values["p"] = (layer.padding[0][0],)
    return values


def matches(field: str, written: tuple, expected: Optional[tuple]) -> bool:
    if expected is None:
        return True  # nothing to compare with (a field that does not apply to this layer)
    if field in ("out", "nout") and len(expected) == 3:
        if len(written) == 3:
            return written == expected
        if len(written) == 2:
            return written == expected[:2]
        return len(written) == 1 and expected[0] == expected[1] == written[0]
    if field == "nout" and len(expected) == 2 and len(written) == 1:
        return expected[0] == expected[1] == written[0]
    if len(expected) == 1 and len(written) == 2:
        return written[0] == written[1] == expected[0]
    return written == expected


def field_problems(info, previous, annotation: Annotation, reveal: bool) -> list[str]:
    expected = computed_fields(info, previous)
    problems = []
    for field, written in annotation.fields.items():
        want = expected.get(field)
        if matches(field, written, want):
            continue
        rule = rf_rule(info) if field == "rf" else RULES[field]
        shown = "x".join(map(str, written))
        answer = f" (the inspector computes {'x'.join(map(str, want))})" if reveal and want else ""
        problems.append(f"{LABELS[field]} {shown} is wrong{answer}. Rule: {rule}")
    return problems


@check("annotations")
def annotations(ctx, function: str = "build_model", model: str = "model", reveal: bool = False,
                structured_answer: str = "annotations") -> Outcome:
    """Every layer of ``function``'s model is annotated, and every written field is right."""
    description = ctx.description(model)
    calls = notebook_layer_calls(ctx.code_cells(), layer_class_names(), function)
    if not calls:
        return Outcome(False, f"no layers found in a function {function}() of the notebook")
    try:
        structured = ctx.answers().get(structured_answer) or {}
    except (MissingArtifact, ArtifactError):
        structured = {}
    by_name = {info.qualname: info for info in description}
    layers = [info for info in description if info.kind != "input"]
    problems: list[str] = []
    required = correct = 0
    position = 0
    matched: set[str] = set()
    for call in calls:
        while position < len(layers) and layers[position].layer.class_name != call.class_name:
            position += 1
        where = f"cell {call.cell + 1}, line {call.line}"
        if position == len(layers):
            problems.append(f"{where}: {call.class_name} is not in the saved model, in this order; was the model "
                            f"saved from {function}()?")
            break
        info = layers[position]
        position += 1
        matched.add(info.qualname)
        previous = by_name.get(info.layer.inbound[0]) if info.layer.inbound else None
        needed = info.kind not in POINTWISE_KINDS
        annotation = call.annotation
        if annotation is None and isinstance(structured.get(info.name), dict):
            annotation = Annotation(f"answers[{structured_answer!r}]", _structured(structured[info.name]))
        required += needed
        if annotation is None:
            if needed:
                problems.append(f"{where} ({call.class_name} {info.name}): no annotation; write its output size "
                                "and receptive field in a comment")
            continue
        wrong = field_problems(info, previous, annotation, reveal)
        problems += [f"{where} ({call.class_name} {info.name}): {w}" for w in wrong]
        correct += needed and not wrong
    unmatched = [info for info in layers if info.qualname not in matched and info.kind not in POINTWISE_KINDS]
    if unmatched:  # built by a loop or a helper: no line of their own to annotate
        required += len(unmatched)
        names = ", ".join(f"{info.layer.class_name} {info.name}" for info in unmatched[:5])
        problems.append(f"{len(unmatched)} layer(s) have no line of their own in {function}() to annotate "
                        f"({names}{', ...' if len(unmatched) > 5 else ''}): build each layer on its own line, "
                        "not in a loop")
    if not problems:
        return Outcome(True, f"all {required} layers that change the size or the field are annotated correctly")
    shown = problems[:8] + ([f"... and {len(problems) - 8} more"] if len(problems) > 8 else [])
    return Outcome(False, f"{correct} of {required} layers annotated correctly. " + " | ".join(shown),
                   fraction=correct / required if required else 0.0)


def _structured(entry: dict[str, Any]) -> dict[str, tuple]:
    fields = {}
    for key, value in entry.items():
        key = {"output": "out", "output_shape": "out", "receptive_field": "rf", "jump": "jout"}.get(key.lower(), key.lower())
        if key in LABELS:
            fields[key] = tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
    return fields
