"""Checks on a model's structure, from the inspector's own description."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

from autograder.checks import MissingArtifact, Outcome, check

if TYPE_CHECKING:
    from autograder.scoring.context import ScoringContext


def _shape(shape: Sequence[Optional[int]]) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def param_problem(total: int, exact: Optional[int] = None, min: Optional[int] = None,
                  max: Optional[int] = None) -> Optional[str]:
    if exact is not None and total != exact:
        return f"it has {total:,} parameters; the architecture asked for has {exact:,}"
    if min is not None and total < min:
        return f"it has {total:,} parameters, fewer than the {min:,} required"
    if max is not None and total > max:
        return f"it has {total:,} parameters, more than the {max:,} allowed"
    return None


def output_problem(description, units: int, activation: Optional[str]) -> Optional[str]:
    last = description.layers[-1]
    if last.output_shape[-1] != units:
        return f"the last layer ({last.name}) has {last.output_shape[-1]} outputs; {units} expected"
    if activation is not None and last.layer.activation != activation:
        return f"the last layer's activation is {last.layer.activation!r}; {activation!r} expected"
    return None


@check("architecture")
def architecture(
    ctx,
    model: str = "model",
    input_shape: Optional[list[int]] = None,
    output_units: Optional[int] = None,
    output_activation: Optional[str] = None,
    required_kinds: Sequence[str] = (),
    max_params: Optional[int] = None,
) -> Outcome:
    """Input shape, output layer, required layer kinds and a parameter budget, all reported at once."""
    description = ctx.description(model)
    problems = []
    if input_shape is not None and tuple(description.input_shape) != tuple(input_shape):
        problems.append(f"it takes inputs of shape {_shape(description.input_shape)}, not {_shape(input_shape)}")
    if output_units is not None:
        problems.append(output_problem(description, output_units, output_activation))
    kinds = {info.kind for info in description}
    problems += [f"it has no {kind} layer" for kind in required_kinds if kind not in kinds]
    problems.append(param_problem(description.params, max=max_params))
    problems = [p for p in problems if p]
    if problems:
        return Outcome(False, f"{model}: " + "; ".join(problems), description.params)
    return Outcome(True, f"{model}: {len(description)} layers, {description.params:,} parameters", description.params)


@check("param_count")
def param_count(ctx: ScoringContext, model: str = "model", exact: Optional[int] = None, min: Optional[int] = None,
                max: Optional[int] = None, hidden: bool = False) -> Outcome:
    """The saved model's parameter count: ``exact``, or within ``min`` and ``max``. ``hidden``: the notebook asks
    for this count by hand, so no message gives the count asked for (a passing model's count is that number)."""
    total = ctx.description(model).params
    problem = param_problem(total, exact, min, max)
    if hidden:  # a wrong model's own count helps and gives nothing away; a right model's count is the answer
        return Outcome(problem is None, f"{model}: the parameter count is that of the network asked for"
                       if problem is None else f"{model}: it has {total:,} parameters, not the count of the network "
                       "asked for; compare each layer's size with the notebook's table")
    return Outcome(problem is None, f"{model}: {problem or f'{total:,} parameters'}", total)


@check("answer_equals_params")
def answer_equals_params(ctx: ScoringContext, answer: str, model: str = "model") -> Outcome:
    """A hand-computed parameter count, checked against the grader's own count."""
    answers = ctx.answers()
    if answer not in answers:
        return Outcome(False, f"no answer {answer!r} was submitted")
    claimed = answers[answer]
    actual = ctx.description(model).params
    if not isinstance(claimed, (int, float)) or isinstance(claimed, bool):
        return Outcome(False, f"answer {answer!r} should be a number, got {claimed!r}")
    if claimed == actual:
        return Outcome(True, f"{answer} = {actual:,} is right")
    return Outcome(False, f"{answer} = {claimed:,} does not match the saved model's parameter count; "
                          f"{HOW_TO_COUNT}")


# How to count, without the count: what a wrong hand count is told.
HOW_TO_COUNT = ("recount layer by layer: a Conv2D with f filters of k×k on c input channels has (k·k·c + 1)·f, "
                "a Dense layer with n inputs and m units (n + 1)·m, pooling and Flatten none; then add them up")


SKIPPED_KINDS = ("input", "activation", "dropout", "batchnorm", "norm", "preprocessing")


def describe_layer(info) -> str:
    layer = info.layer
    parts = [info.kind]
    if layer.filters is not None:
        parts.append(f"{layer.filters} {'units' if info.kind == 'dense' else 'filters'}")
    if layer.kernel is not None:
        parts.append(f"{layer.kernel[0]}x{layer.kernel[1]}")
    if layer.activation and layer.activation != "linear":
        parts.append(layer.activation)
    return f"{' '.join(parts)} ({info.name})"


def layer_problem(info, spec: dict) -> bool:
    """True when ``info`` does not match the expected ``spec`` (kind and any listed attributes)."""
    layer = info.layer
    actual = {
        "kind": info.kind,
        "filters": layer.filters,
        "units": layer.filters,
        "kernel": list(layer.kernel) if layer.kernel else None,
        "activation": layer.activation,
        "padding": layer.padding if isinstance(layer.padding, str) else None,
        "pool": layer.pool,
    }
    return any(actual.get(key) != value for key, value in spec.items())


def spec_text(spec: dict) -> str:
    parts = [spec["kind"]]
    for key in ("filters", "units"):
        if key in spec:
            parts.append(f"{spec[key]} {key}")
    if "kernel" in spec:
        parts.append(f"{spec['kernel'][0]}x{spec['kernel'][1]}")
    for key in ("padding", "activation"):
        if key in spec:
            parts.append(f"{key}={spec[key]!r}")
    return " ".join(parts)


@check("layer_sequence")
def layer_sequence(ctx: ScoringContext, layers: list[dict], model: str = "model", skip: Sequence[str] = SKIPPED_KINDS) -> Outcome:
    """The model's layers, ignoring activations, dropout and normalization, are exactly ``layers``."""
    found = [info for info in ctx.description(model) if info.kind not in skip]
    for i, (info, spec) in enumerate(zip(found, layers), 1):
        if layer_problem(info, spec):
            return Outcome(False, f"{model}: layer {i} is {describe_layer(info)}; expected {spec_text(spec)}")
    if len(found) != len(layers):
        extra = "more" if len(found) > len(layers) else "fewer"
        return Outcome(False, f"{model} has {len(found)} layers with weights or geometry, {extra} than the "
                              f"{len(layers)} asked for")
    return Outcome(True, f"{model}: the {len(layers)} layers are as asked")


@check("dropout_before_classifier")
def dropout_before_classifier(ctx: ScoringContext, rate: float, model: str = "model") -> Outcome:
    """A Dropout of ``rate`` between the last convolution block and the first Dense layer."""
    description = ctx.description(model)
    kinds = [info.kind for info in description]
    if "dense" not in kinds:
        return Outcome(False, f"{model} has no Dense classifier")
    first_dense = kinds.index("dense")
    last_spatial = max((i for i, info in enumerate(description) if info.fields and not info.fields[0].is_whole),
                       default=-1)
    rates = [info.layer.extra.get("rate") for info in description.layers[last_spatial + 1:first_dense]
             if info.kind == "dropout"]
    if not rates:
        return Outcome(False, f"{model}: no Dropout between the convolutional base and the first Dense layer")
    if not any(r is not None and abs(r - rate) < 1e-9 for r in rates):
        return Outcome(False, f"{model}: the Dropout before the classifier has rate {rates[0]}; {rate} asked for")
    return Outcome(True, f"{model}: Dropout({rate}) sits before the classifier")


def asked_count(layer: dict) -> int:
    """One layer's parameter count from the notebook's table: ``{kernel, channels, filters}`` for a convolution,
    ``{inputs, units}`` for a dense layer."""
    if "units" in layer:
        return (layer["inputs"] + 1) * layer["units"]
    return (layer["kernel"][0] * layer["kernel"][1] * layer["channels"] + 1) * layer["filters"]


def _keys(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in [*names, "total"])


def _wrong_reason(name: str, asked: Optional[int], own: Optional[int]) -> str:
    if asked is None:
        return "wrong for your saved model"
    if own is None:
        return "wrong for the network asked for"
    if own == asked:
        return "wrong for the network asked for, which your saved model matches here"
    return "wrong both for the network asked for and for your saved model, which differs from it here"


@check("answers_params_by_layer")
def answers_params_by_layer(ctx: ScoringContext, answer: str, names: list[str], model: str = "model",
                            kinds: Sequence[str] = ("conv", "dense", "depthwise_conv", "separable_conv"),
                            arithmetic: Optional[str] = None, asked: Optional[dict[str, dict]] = None) -> Outcome:
    """A dict of hand-computed parameter counts (one per weighted layer, in order, plus "total").

    A count is right when it is right for the network asked for (``asked``: each layer's size, as the notebook's
    table gives it) or for the student's own saved model; the message says which counts are wrong and against
    what, without the right number. ``arithmetic``: the notebook variable holding the dict; each layer's count
    must be written there as arithmetic (read with ``ast``), a bare number counts as wrong.
    """
    answers = ctx.answers().get(answer)
    if not isinstance(answers, dict):
        return Outcome(False, f"answer {answer!r} should be a dict with the keys {_keys(names)}, "
                              f"got {type(answers).__name__}")
    description = ctx.description(model)
    weighted = [info for info in description if info.kind in kinds]
    own: dict[str, int] = {}
    if len(weighted) == len(names):
        own = {name: info.params for name, info in zip(names, weighted)}
        own["total"] = description.params
    expected: dict[str, int] = {}
    if asked:
        expected = {name: asked_count(asked[name]) for name in names}
        expected["total"] = sum(expected.values())
    if not own and not expected:
        return Outcome(False, f"{model} has {len(weighted)} layers with weights; the answer expects {len(names)}")

    keys = [*names, "total"]
    unknown = [str(k) for k in answers if k not in keys]
    missing = [k for k in keys if k not in answers]
    wrong, notes = [], []
    for name in keys:
        if name not in answers:
            continue
        value = answers[name]
        right_asked = name in expected and value == expected[name]
        right_own = name in own and value == own[name]
        if not (right_asked or right_own):
            wrong.append(f"{name}={value!r} ({_wrong_reason(name, expected.get(name), own.get(name))})")
        elif own and expected and own[name] != expected[name]:
            notes.append(f"{name}={value!r} is right for the network asked for; your saved model differs there"
                         if right_asked else
                         f"{name}={value!r} counts your saved model, which differs there from the network asked for")
    if expected and not own:
        notes.append(f"{model} has {len(weighted)} layers with weights, not {len(names)}: the counts were checked "
                     "against the network asked for only")
    bare = [] if arithmetic is None else [n for n in _bare_numbers(ctx, arithmetic, names)
                                          if not any(w.startswith(f"{n}=") for w in wrong)]
    if wrong or bare or missing:
        fraction = 1 - (len(wrong) + len(missing) + len(bare)) / len(keys)
        return Outcome(False, "; ".join(_count_problems(names, wrong, missing, unknown, bare) + notes),
                       fraction=max(fraction, 0.0))
    extra = f" (unknown keys ignored: {', '.join(unknown)})" if unknown else ""
    return Outcome(True, "; ".join([f"all {len(names)} layer counts and the total are right{extra}", *notes]))


def _count_problems(names: Sequence[str], wrong: list[str], missing: list[str], unknown: list[str],
                    bare: list[str]) -> list[str]:
    """What is wrong with a dict of hand counts, one phrase per kind of mistake."""
    problems = []
    if missing or unknown:
        found = [f"missing keys: {', '.join(missing)}"] if missing else []
        found += [f"unknown keys: {', '.join(unknown)}"] if unknown else []
        problems.append(f"{'; '.join(found)} (the keys expected are {_keys(names)})")
    if wrong:
        problems.append(f"these counts are wrong: {'; '.join(wrong)} ({HOW_TO_COUNT})")
    if bare:
        problems.append(f"written as a bare number, not as arithmetic: {', '.join(bare)} (write the formula, "
                        "such as (k·k·c + 1)·f, so the count shows how it was made)")
    return problems


def _bare_numbers(ctx: ScoringContext, variable: str, names: Sequence[str]) -> list[str]:
    """The keys of the dict ``variable`` that the notebook wrote as a bare number rather than as arithmetic."""
    from autograder.studentcode.arithmetic import dict_entries, plain_numbers

    try:
        cells = ctx.code_cells()
    except MissingArtifact:  # scored from artifacts alone: the values are still checked
        cells = []
    return plain_numbers(dict_entries(cells, variable) or {}, names)


@check("no_plain_conv")
def no_plain_conv(ctx: ScoringContext, model: str = "model", allow_depthwise_then_pointwise: bool = False) -> Outcome:
    """Only separable convolutions: no Conv2D anywhere, not even 1x1 (unless the rubric allows
    a DepthwiseConv2D followed directly by a 1x1 pointwise Conv2D)."""
    description = ctx.description(model)
    layers = description.layers
    offenders = []
    for i, info in enumerate(layers):
        if info.kind == "depthwise_conv" and not allow_depthwise_then_pointwise:
            offenders.append(f"{info.name} (DepthwiseConv2D: use SeparableConv2D)")
        if info.kind != "conv":
            continue
        previous = description[info.layer.inbound[0]] if info.layer.inbound else None
        pointwise = info.layer.kernel == (1, 1) and previous is not None and previous.kind == "depthwise_conv"
        if allow_depthwise_then_pointwise and pointwise:
            continue
        size = f"{info.layer.kernel[0]}x{info.layer.kernel[1]}" if info.layer.kernel else ""
        hint = "; a 1x1 Conv2D is a plain convolution too" if info.layer.kernel == (1, 1) else ""
        offenders.append(f"{info.name} (Conv2D {size}{hint})")
    if offenders:
        return Outcome(False, f"{model} uses plain convolutions: {', '.join(offenders)}")
    separable = len(description.of_kind("separable_conv", "depthwise_conv"))
    return Outcome(separable > 0, f"{model}: {separable} separable convolutions and no plain one"
                   if separable else f"{model} has no separable convolution at all")


@check("has_layer_kind")
def has_layer_kind(ctx: ScoringContext, kind: str, label: str, minimum: int = 1, model: str = "model") -> Outcome:
    count = len(ctx.description(model).of_kind(kind))
    if count < minimum:
        return Outcome(False, f"{model} has {count} {label} layer(s); at least {minimum} required")
    return Outcome(True, f"{model} has {count} {label} layer(s)")


@check("dropout_rates")
def dropout_rates(ctx: ScoringContext, low: float = 0.0, high: float = 0.5, model: str = "model") -> Outcome:
    """At least one Dropout, every rate in (low, high]."""
    rates = [(info.name, info.layer.extra.get("rate")) for info in ctx.description(model).of_kind("dropout")]
    if not rates:
        return Outcome(False, f"{model} has no Dropout layer")
    bad = [f"{name} ({rate})" for name, rate in rates if rate is None or not low < rate <= high]
    if bad:
        return Outcome(False, f"Dropout rates must lie in ({low}, {high}]: {', '.join(bad)}")
    return Outcome(True, f"{len(rates)} Dropout layers, rates {', '.join(str(r) for _, r in rates)}")
