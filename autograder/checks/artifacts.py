"""Checks that the notebook produced loadable artifacts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autograder.checks import Outcome, check

if TYPE_CHECKING:
    from autograder.scoring.context import ScoringContext


@check("model_loads")
def model_loads(ctx: ScoringContext, model: str = "model") -> Outcome:
    """The saved model loads in safe mode (no custom code) and can be described."""
    description = ctx.description(model)
    return Outcome(True, f"{model}.keras loads: {len(description)} layers, {description.params:,} parameters")


@check("answers_present")
def answers_present(ctx: ScoringContext, keys: list[str]) -> Outcome:
    """Every named answer was submitted."""
    answers = ctx.answers()
    missing = [k for k in keys if k not in answers]
    if missing:
        return Outcome(False, f"answers missing from the submit cell: {', '.join(missing)}")
    return Outcome(True, f"all {len(keys)} answers submitted")
