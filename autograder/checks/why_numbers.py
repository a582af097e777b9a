"""Short "why" questions answered with a number: a weight count, a cost in multiplications.

The rubric says, for each key of the submitted dict, which quantity is asked and for what sizes
(``asked = { standard = { quantity = "conv_multiplications", size = [16, 16], kernel = 3, ... } }``); the
grader computes every right answer itself from that data, so neither the notebook nor the rubric holds it.
Feedback names the wrong keys, never the right numbers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

from autograder.checks import MissingArtifact, Outcome, check
from autograder.errors import RubricError

if TYPE_CHECKING:
    from autograder.scoring.context import ScoringContext


def _area(size: Any) -> int:
    """Output positions of a stride-1 'same' convolution on a map of ``size`` (one side, or [height, width])."""
    height, width = (size, size) if isinstance(size, int) else size
    return int(height) * int(width)


def conv_weights(kernel: int, channels: int, filters: int, bias: bool = False, layers: int = 1) -> int:
    """Weights of ``layers`` stacked k×k convolutions, each from ``channels`` to ``filters`` (biases if asked)."""
    return layers * (kernel * kernel * channels + int(bias)) * filters


def conv_multiplications(size: Any, kernel: int, channels: int, filters: int) -> int:
    """Multiplications of a standard k×k convolution: k·k·c_in at each output position, for each output channel."""
    return _area(size) * kernel * kernel * channels * filters


def separable_multiplications(size: Any, kernel: int, channels: int, filters: int) -> int:
    """Multiplications of a depthwise-separable one: the depthwise k×k per channel, then the 1×1 pointwise mix."""
    return _area(size) * (kernel * kernel * channels + channels * filters)


QUANTITIES: dict[str, Callable[..., int]] = {
    "conv_weights": conv_weights,
    "conv_multiplications": conv_multiplications,
    "separable_multiplications": separable_multiplications,
}


def expected_answers(asked: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """The right answer to each question the rubric asks, computed from its sizes."""
    answers = {}
    for key, question in asked.items():
        arguments = {k: v for k, v in question.items() if k != "tolerance"}
        quantity = QUANTITIES.get(arguments.pop("quantity", None))
        if quantity is None:
            raise RubricError(f"question {key!r} names no known quantity (known: {', '.join(sorted(QUANTITIES))})")
        try:
            answers[key] = quantity(**arguments)
        except (TypeError, ValueError) as exc:
            raise RubricError(f"question {key!r}: {exc}") from None
    return answers


def _number(value: Any) -> Optional[float]:
    """A submitted answer as a finite number, or None (a bool, a string or an infinity is no number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _close(claimed: Optional[float], right: float, question: Mapping[str, Any]) -> bool:
    """``claimed`` equals ``right``, or lies within the question's relative ``tolerance`` (for a ratio, a spread)."""
    return claimed is not None and abs(claimed - right) <= float(question.get("tolerance", 0)) * abs(right)


def _bare(ctx: ScoringContext, variable: Optional[str], keys: Sequence[str]) -> list[str]:
    """Keys the notebook wrote as a bare number rather than as arithmetic (read with ``ast``, never executed)."""
    if variable is None:
        return []
    from autograder.studentcode.arithmetic import dict_entries, plain_numbers

    try:
        cells = ctx.code_cells()
    except MissingArtifact:  # scored from artifacts alone: the values are still checked
        return []
    return plain_numbers(dict_entries(cells, variable) or {}, keys)


@check("answers_numbers")
def answers_numbers(ctx: ScoringContext, answer: str, asked: dict[str, dict], arithmetic: Optional[str] = None) -> Outcome:
    """The dict submitted as ``answer`` holds the right number for every question of ``asked``, each written as
    arithmetic in the notebook variable ``arithmetic`` when the rubric names one."""
    expected = expected_answers(asked)
    keys = list(expected)
    answers = ctx.answers().get(answer)
    if not isinstance(answers, dict):
        return Outcome(False, f"answer {answer!r} should be a dict with the keys {', '.join(keys)}, "
                              f"got {type(answers).__name__}")
    missing = [k for k in keys if k not in answers]
    wrong = [k for k in keys if k in answers and not _close(_number(answers[k]), expected[k], asked[k])]
    bare = [k for k in _bare(ctx, arithmetic, keys) if k not in wrong]
    problems = []
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    if wrong:
        problems.append(f"wrong: {', '.join(wrong)} (work the formula through again with the sizes the question "
                        "gives)")
    if bare:
        problems.append(f"written as a bare number, not as arithmetic: {', '.join(bare)} (write the formula with "
                        "the question's sizes, so the answer shows how it was made)")
    if problems:
        fraction = 1 - len(set(missing) | set(wrong) | set(bare)) / len(keys)
        return Outcome(False, "; ".join(problems), fraction=max(fraction, 0.0))
    return Outcome(True, f"all {len(keys)} answers are right")
