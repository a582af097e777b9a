"""The output-size and receptive-field annotations, compared with the inspector's figures.

Every field a student writes is checked (a stale channel count too); a layer
that changes the size or the field counts as annotated correctly only when both
its size and its field are written and right. Feedback lists every wrong layer
briefly (cell, line, layer, field, value written) and states each rule broken
once; the computed value is shown only where the rubric says ``reveal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Optional, Sequence

from autograder.modelspec import receptive_field as rfa
from autograder.studentcode.annotation_parser import Annotation, LayerCall, notebook_layer_calls
from autograder.checks import ArtifactError, MissingArtifact, Outcome, check
from autograder.modelspec import (POINTWISE_KINDS, canonical_class_name, layer_class_names,
                                  pointwise_class_names)

if TYPE_CHECKING:
    from autograder.scoring.context import ScoringContext

Values = list[tuple]  # the acceptable values of one field, the inspector's own first

RULES = {
    "rf_window": "RF: r_out = r_in + (k - 1) * j_in, j_in being the jump *before* the layer "
                 "(a dilation d stretches k to d * (k - 1) + 1)",
    "rf_pool": "RF: a pooling layer grows the field by (k - 1) x the jump *before* it",
    "rf_whole": "RF of Flatten, Dense and global pooling: the image size, or the recurrence's r_in + (n - 1) * j_in "
                "over the whole n x n map, which can exceed the image because it counts the zero padding "
                "around it",
    "rf_pointwise": "RF: this layer changes neither size nor field: the previous layer's",
    "out": "size: n_out = floor((n_in + 2p - k) / s) + 1 per axis ('same': ceil(n_in / s)); channels: the "
           "layer's filters (pooling keeps its input's)",
    "cout": "c_out: the layer's filters (depthwise: input channels x depth multiplier; pooling, "
            "BatchNormalization and Dropout keep their input's)",
    "in": "input: the previous layer's output",
    "jout": "j_out = j_in * s: only strided layers change the jump",
    "rin": "r_in: the previous layer's r_out",
    "jin": "j_in: the previous layer's j_out",
    "k": "k: the kernel or pool size (global pooling: the whole map, n_in)",
    "s": "s: the stride (pooling's defaults to its pool size)",
    "d": "d: the dilation rate",
    "p": "p: the padding per side in n_out = floor((n_in + 2p - k) / s) + 1, 0 for 'valid'; for 'same' any p "
         "from 0 to k - 1 that gives the true n_out. TensorFlow pads unevenly where it must, e.g. (0, 1) for a "
         "3x3 stride-2 'same' layer on 32 pixels: in the course's notation that is p = 1 (n_out = 16)",
    "missing": "write both the output size and the RF, e.g. '# out: 32x32x32  RF: 3', on the layer's line or in "
               "comment lines touching it",
    "unreadable": "label each value, e.g. '# out: 32x32x32  RF: 3'",
    "ambiguous": "a comment between two layers belongs to the one it touches: leave a blank line on the side "
                 "it does not describe",
}
RULE_OF = {"nout": "out", "nin": "in", "cin": "in"}
LABELS = {"out": "output", "nout": "n_out", "cout": "c_out", "rf": "RF", "jout": "j_out", "rin": "r_in",
          "jin": "j_in", "k": "k", "s": "s", "p": "p", "d": "d", "in": "input", "nin": "n_in", "cin": "c_in"}
SIZE_FIELDS = ("out", "in")
MAP_FIELDS = ("nout", "nin")


@dataclass(frozen=True)
class Problem:
    """One wrong layer, briefly: where it is and what is wrong with it."""

    cell: int
    line: int
    layer: str
    details: tuple[str, ...]
    rules: tuple[str, ...]


def _is_whole(info) -> bool:
    return info.fields is not None and info.fields[0].is_whole


def rf_rule(info) -> str:
    if _is_whole(info):
        return "rf_whole"
    if info.kind == "pool":
        return "rf_pool"
    if info.kind in POINTWISE_KINDS:
        return "rf_pointwise"
    return "rf_window"


def rf_values(info, by_name: dict) -> Optional[Values]:
    """The fields accepted for ``info``: exact, except where the layer sees the whole image."""
    exact = rfa.plain_pair(info.rf)
    if not _is_whole(info):
        return [exact] if exact is not None else None
    values = [exact] if exact is not None else []
    source = info
    while source is not None and _is_whole(source):
        source = by_name.get(source.layer.inbound[0]) if source.layer.inbound else None
    if source is not None and source.rf is not None and source.jump is not None:
        sizes = source.output_shape[:2]
        if len(source.output_shape) == 3 and all(n is not None for n in sizes):
            recurrence = tuple(r + (n - 1) * j for r, n, j in zip(source.rf, sizes, source.jump))
            values.append(rfa.plain_pair(recurrence))  # type: ignore[arg-type]
    return values or None


def paddings(info, previous) -> Optional[Values]:
    """Every p (or (before, after)) from 0 to k - 1 with which the course's formula gives the true n_out."""
    layer = info.layer
    if previous is None or len(previous.output_shape) != 3 or len(info.output_shape) != 3:
        return None
    axes = []
    for a in (0, 1):
        n_in, n_out = previous.output_shape[a], info.output_shape[a]
        if n_in is None or n_out is None:
            return None
        k = layer.dilation[a] * (layer.kernel[a] - 1) + 1 if layer.dilation else layer.kernel[a]
        axes.append((n_in, n_out, k, layer.stride[a]))

    def fits(before: int, after: int) -> bool:
        return all(max(before, after) <= k - 1 and (n + before + after - k) // s + 1 == out for n, out, k, s in axes)

    most = max(k for _, _, k, _ in axes)
    values: Values = [(p,) for p in range(most) if fits(p, p)]
    values += [(a, b) for a in range(most) for b in range(most) if a != b and fits(a, b)]
    return values or None


def expected_values(info, previous, by_name: dict) -> dict[str, Optional[Values]]:
    """What each annotation field may be for ``info`` (None where it does not apply)."""
    layer = info.layer
    shape = tuple(info.output_shape)
    values: dict[str, Optional[Values]] = {
        "out": [shape],
        "nout": [shape[:2]] if len(shape) == 3 else [(1,), shape],
        "cout": [(shape[-1],)],
        "rf": rf_values(info, by_name),
        "jout": [rfa.plain_pair(info.jump)] if info.jump is not None else None,
    }
    if previous is not None:
        before = tuple(previous.output_shape)
        values.update({
            "in": [before], "nin": [before[:2]] if len(before) == 3 else [(1,), before], "cin": [(before[-1],)],
            "rin": rf_values(previous, by_name),
            "jin": [rfa.plain_pair(previous.jump)] if previous.jump is not None else None,
        })
    if layer.kernel is not None:
        values["k"] = [rfa.plain_pair(tuple(map(Fraction, layer.kernel)))]  # type: ignore[list-item]
        values["s"] = [rfa.plain_pair(tuple(map(Fraction, layer.stride)))]  # type: ignore[list-item]
        if layer.dilation:
            values["d"] = [rfa.plain_pair(tuple(map(Fraction, layer.dilation)))]  # type: ignore[list-item]
        values["p"] = paddings(info, previous)
    elif info.kind == "global_pool" and previous is not None and len(previous.output_shape) == 3:
        values["k"] = [rfa.plain_pair(tuple(map(Fraction, previous.output_shape[:2])))]  # type: ignore[list-item]
    return values


def _same(field: str, written: tuple, expected: tuple) -> bool:
    if field in SIZE_FIELDS:
        if len(expected) == 3:
            if written == expected or written == expected[:2]:
                return True
            if expected[:2] == (1, 1) and written in ((expected[2],), (1, expected[2])):
                return True  # global pooling with keepdims, written as a vector
            return len(written) == 1 and expected[0] == expected[1] == written[0]
        return written in (expected, (1, *expected), (1, 1, *expected))  # a vector: 10, 1x10, 1x1x10
    if field in MAP_FIELDS and len(expected) == 2 and len(written) == 1:
        return expected[0] == expected[1] == written[0]
    if len(expected) == 1 and len(written) == 2:
        return written[0] == written[1] == expected[0]
    return written == expected


def matches(field: str, written: tuple, expected: Optional[Values]) -> bool:
    if expected is None:
        return True  # nothing to compare with (a field that does not apply to this layer)
    return any(_same(field, written, e) for e in expected)


def _figure(values: Sequence[int]) -> str:
    return "x".join(map(str, values))


def field_problems(info, previous, by_name: dict, annotation: Annotation, reveal: bool) -> list[tuple[str, str]]:
    """(detail, rule) for each written field that is wrong."""
    expected = expected_values(info, previous, by_name)
    problems = []
    for field, written in annotation.fields.items():
        want = expected.get(field)
        if matches(field, written, want):
            continue
        rule = rf_rule(info) if field == "rf" else RULE_OF.get(field, field)
        answer = f" (inspector: {_figure(want[0])})" if reveal and want else ""
        problems.append((f"{LABELS[field]} {_figure(written)}{answer}", rule))
    return problems


def _quote(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def layer_problems(call: LayerCall, info, previous, by_name: dict, annotation: Optional[Annotation], needed: bool,
                   reveal: bool) -> list[tuple[str, str]]:
    """Everything wrong with one layer's annotation, as (detail, rule)."""
    if annotation is None:
        if not needed:
            return []
        if call.shared is not None:
            return [(f"comment at line {call.shared.line} touches 2 layers", "ambiguous")]
        return [("no annotation", "missing")]
    if annotation.unreadable:
        return [(f"unreadable {_quote(annotation.text)}: {annotation.unreadable}", "unreadable")]
    problems = field_problems(info, previous, by_name, annotation, reveal)
    if needed and not annotation.has_size:
        problems.append(("size blank" if {"out", "nout"} & annotation.missing else "size missing", "missing"))
    if needed and not annotation.has_rf:
        problems.append(("RF blank" if "rf" in annotation.missing else "RF missing", "missing"))
    return problems


def feedback(correct: int, required: int, problems: Sequence[Problem], notes: Sequence[str],
             function: str = "build_model") -> str:
    """A short message: the score, every wrong layer grouped by layer (lines counted within the cell of
    ``function``, as Jupyter numbers them), each rule once."""
    parts = [f"{correct} of {required} layers annotated correctly."]
    by_layer: dict[str, list[str]] = {}
    for p in problems:
        by_layer.setdefault(p.layer, []).append(f"line {p.line} {' & '.join(p.details)}")
    if by_layer:
        listed = "; ".join(f"{layer} {', '.join(entries)}" for layer, entries in by_layer.items())
        parts.append(f"In {function}(): {listed}.")
    parts += notes
    rules = list(dict.fromkeys(r for p in problems for r in p.rules))
    if rules:
        parts.append("Rules: " + "; ".join(RULES[r] for r in rules) + ".")
    return " ".join(parts)


@check("annotations")
def annotations(ctx: ScoringContext, function: str = "build_model", model: str = "model", reveal: bool = False,
                structured_answer: str = "annotations") -> Outcome:
    """Every layer of ``function``'s model is annotated, and every written field is right."""
    description = ctx.description(model)
    calls = notebook_layer_calls(ctx.code_cells(), layer_class_names(), function, pointwise_class_names())
    if not calls:
        return Outcome(False, f"no layers found in a function {function}() of the notebook")
    try:
        structured = ctx.answers().get(structured_answer) or {}
    except (MissingArtifact, ArtifactError):
        structured = {}
    by_name = {info.qualname: info for info in description}
    layers = [info for info in description if info.kind != "input"]
    problems: list[Problem] = []
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    required = correct = 0
    position = 0
    matched: set[str] = set()
    for call in calls:
        canonical = canonical_class_name(call.class_name)
        while position < len(layers) and layers[position].layer.class_name != canonical:
            position += 1
        if position == len(layers):
            notes.append(f"{function}(), line {call.line}: {call.class_name} is not in the saved model, in "
                         f"this order; was the model saved from {function}()?")
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
        wrong = layer_problems(call, info, previous, by_name, annotation, needed, reveal)
        rows.append(table_row(call, info, previous, by_name, annotation, needed, reveal))
        if wrong:
            problems.append(Problem(call.cell, call.line, call.class_name, tuple(d for d, _ in wrong),
                                    tuple(r for _, r in wrong)))
        correct += needed and not wrong
    shared = {(c.cell, c.shared.line): c.shared for c in calls if c.shared is not None and c.annotation is None}
    for (cell, line), comment in shared.items():
        notes.append(f"{function}(), line {line} {_quote(comment.text)} touches the layers of lines "
                     f"{comment.layer_lines[0]} and {comment.layer_lines[1]}.")
    unmatched = [info for info in layers if info.qualname not in matched and info.kind not in POINTWISE_KINDS]
    if unmatched:  # built by a loop or a helper: no line of their own to annotate
        required += len(unmatched)
        names = ", ".join(f"{info.layer.class_name} {info.name}" for info in unmatched[:5])
        notes.append(f"{len(unmatched)} layer(s) have no line of their own in {function}() to annotate "
                     f"({names}{', ...' if len(unmatched) > 5 else ''}): build each layer on its own line, "
                     "not in a loop.")
    detail = {"layers": rows, "reveal": reveal}
    if not problems and not notes:
        return Outcome(True, f"all {required} layers that change the size or the field are annotated correctly",
                       detail=detail)
    return Outcome(False, feedback(correct, required, problems, notes, function),
                   fraction=correct / required if required else 0.0, detail=detail)


def table_row(call: LayerCall, info, previous, by_name: dict, annotation: Optional[Annotation], needed: bool,
              reveal: bool) -> dict[str, Any]:
    """One row of the feedback page's layer table: what was written for the output size and the RF, whether
    each is right (None: not written), and the computed values where the rubric reveals them."""
    expected = expected_values(info, previous, by_name)
    row: dict[str, Any] = {"line": call.line, "layer": call.class_name, "name": info.name, "needed": needed}
    fields = annotation.fields if annotation is not None and not annotation.unreadable else {}
    for column, keys in (("out", ("out", "nout")), ("rf", ("rf",))):
        key = next((k for k in keys if k in fields), None)
        row[column] = _figure(fields[key]) if key else None
        row[f"{column}_ok"] = matches(key, fields[key], expected.get(key)) if key else None
    if annotation is not None and annotation.unreadable:
        row["unreadable"] = annotation.text
    if reveal:
        row["out_true"] = _figure(info.output_shape)
        row["rf_true"] = _figure(expected["rf"][0]) if expected.get("rf") else None
    return row


def _structured(entry: dict[str, Any]) -> dict[str, tuple]:
    fields = {}
    for key, value in entry.items():
        key = {"output": "out", "output_shape": "out", "receptive_field": "rf", "jump": "jout"}.get(key.lower(), key.lower())
        if key in LABELS:
            fields[key] = tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
    return fields
