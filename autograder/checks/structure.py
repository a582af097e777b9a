"""Checks on a model's structure, from the inspector's own description."""

from __future__ import annotations

from typing import Optional, Sequence

from autograder.checks import Outcome, check


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
def param_count(ctx, model: str = "model", exact: Optional[int] = None, min: Optional[int] = None,
                max: Optional[int] = None) -> Outcome:
    total = ctx.description(model).params
    problem = param_problem(total, exact, min, max)
    return Outcome(problem is None, f"{model}: {problem or f'{total:,} parameters'}", total)


@check("answer_equals_params")
def answer_equals_params(ctx, answer: str, model: str = "model") -> Outcome:
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
    return Outcome(False, f"{answer} = {claimed:,} but the saved model has {actual:,} parameters; "
                          "recount layer by layer")
