"""Checks for assignment 04: a plain deep network against the same network with skip connections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from autograder.checks import Outcome, check

if TYPE_CHECKING:
    from autograder.scoring.context import ScoringContext

CONV_KINDS = ("conv", "separable_conv", "depthwise_conv")


def _ancestors(description, name: str) -> set[str]:
    seen: set[str] = set()
    stack = [name]
    while stack:
        for parent in description[stack.pop()].layer.inbound:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def _convs_between(description, start: str, end: str) -> int:
    """Convolutions on the paths from ``start`` (exclusive) to ``end`` (inclusive)."""
    count, stack, seen = 0, [end], set()
    while stack:
        name = stack.pop()
        if name == start or name in seen:
            continue
        seen.add(name)
        info = description[name]
        count += info.kind in CONV_KINDS
        stack += list(info.layer.inbound)
    return count


def skip_problems(description) -> tuple[int, list[str]]:
    """(real skip connections, problems) over every Add of the model."""
    real, problems = 0, []
    for add in description.of_kind("add"):
        inbound = list(add.layer.inbound)
        if len(set(inbound)) < 2:
            problems.append(f"{add.name} adds a tensor to itself: that is no skip connection")
            continue
        shapes = {tuple(description[name].output_shape) for name in inbound}
        if len(shapes) > 1:
            problems.append(f"{add.name} adds tensors of shapes {sorted(shapes)}")
            continue
        a, b = inbound[:2]
        if a in _ancestors(description, b):
            skip, branch = a, b
        elif b in _ancestors(description, a):
            skip, branch = b, a
        else:
            problems.append(f"{add.name} adds two unrelated paths, not a block's input to its output")
            continue
        if _convs_between(description, skip, branch) == 0:
            problems.append(f"{add.name}: the branch from {skip} holds no convolution")
            continue
        real += 1
    return real, problems


def trunk_convs(description) -> int:
    """Convolutions, leaving out 1x1 projections on a skip path (those feed an Add directly, as the shorter path)."""
    projections = set()
    for add in description.of_kind("add"):
        for name in add.layer.inbound:
            info = description[name]
            if info.kind == "conv" and info.layer.kernel == (1, 1):
                others = [n for n in add.layer.inbound if n != name]
                if others and _convs_between(description, info.layer.inbound[0], others[0]) > 1:
                    projections.add(name)
    return sum(info.kind in CONV_KINDS and info.qualname not in projections for info in description)


@check("skip_connections")
def skip_connections(ctx: ScoringContext, model: str = "residual", minimum_blocks: int = 2) -> Outcome:
    """Every Add joins a block's input to the output of a branch of convolutions, shapes matching."""
    description = ctx.description(model)
    real, problems = skip_problems(description)
    if problems:
        return Outcome(False, f"{model}: " + "; ".join(problems))
    if real < minimum_blocks:
        return Outcome(False, f"{model} has {real} skip connection(s); at least {minimum_blocks} blocks expected")
    return Outcome(True, f"{model}: {real} residual blocks, each an Add of matching shapes around convolutions")


@check("same_depth")
def same_depth(ctx: ScoringContext, plain: str = "plain", residual: str = "residual", tolerance: float = 0.05,
               depth: Optional[int] = None) -> Outcome:
    """The same number of convolutions, and parameter counts within ``tolerance`` of each other."""
    p, r = ctx.description(plain), ctx.description(residual)
    convs_p, convs_r = trunk_convs(p), trunk_convs(r)
    if convs_p != convs_r:
        return Outcome(False, f"{plain} has {convs_p} convolutions and {residual} {convs_r}: compare equal depths")
    if depth is not None and convs_p + len(p.of_kind("dense")) != depth:
        return Outcome(False, f"{plain} has {convs_p + len(p.of_kind('dense'))} weighted layers; depth {depth} "
                              "was asked for")
    gap = abs(r.params - p.params) / max(p.params, 1)
    if gap > tolerance:
        return Outcome(False, f"{plain} has {p.params:,} parameters and {residual} {r.params:,}: "
                              f"{gap:.1%} apart, more than {tolerance:.0%}")
    return Outcome(True, f"both have {convs_p} convolutions; {p.params:,} and {r.params:,} parameters")


@check("accuracy_at_most")
def accuracy_at_most(ctx: ScoringContext, dataset: str, max_accuracy: float, model: str = "plain", size: Optional[int] = None,
                     scale: float = 1.0, retrain: Optional[dict[str, Any]] = None) -> Outcome:
    """The model stays at or below ``max_accuracy`` (the plain deep net that fails to train); with ``retrain``,
    the grader's own training of the saved architecture (:func:`autograder.checks.accuracy.scored_model`)."""
    from autograder.checks.accuracy import scored_model

    scored, label = scored_model(ctx, model, dataset, scale, retrain)
    accuracy = ctx.accuracy(scored, dataset, size, scale)
    if accuracy <= max_accuracy:
        return Outcome(True, f"{label}: {accuracy:.4f}, stuck near chance as expected (at most {max_accuracy})",
                       accuracy)
    return Outcome(False, f"{label}: {accuracy:.4f}, above the {max_accuracy} a plain net of this depth reaches "
                          "without normalization: is it the plain net asked for?", accuracy)


ANSWER_CHARS = 5000  # the most of a written answer a result carries to the person who grades it


@check("written_answer")
def written_answer(ctx: ScoringContext, answer: str, min_words: int = 20) -> Outcome:
    """A free-text answer is present (at least ``min_words`` words): presence only, the content is for a person.

    A present answer is not judged by the grader (status not-judged, no points: the points are a person's); its
    result carries its text (the first :data:`ANSWER_CHARS` characters) in
    ``detail["review"]``, ``state`` "awaiting": the rubric's ``review`` points wait for the instructor
    (:mod:`autograder.classrun.reviews`; on the nbgrader route, the manually graded cell in formgrader)."""
    text = ctx.answers().get(answer)
    words = len(str(text).split()) if isinstance(text, str) else 0
    if words < min_words:
        return Outcome(False, f"answer {answer!r} has {words} words; write at least {min_words}", words)
    review = {"state": "awaiting", "answer": text.strip()[:ANSWER_CHARS], "words": words}
    return Outcome(None, f"answer {answer!r}: {words} words, awaiting your instructor's review", words,
                   detail={"review": review})
