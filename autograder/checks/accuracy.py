"""Checks that re-evaluate saved models on the grader's own validation data."""

from __future__ import annotations

from typing import Optional

from autograder.checks import MissingArtifact, Outcome, check


@check("validation_accuracy")
def validation_accuracy(
    ctx, dataset: str, min_accuracy: Optional[float] = None, model: str = "model", size: Optional[int] = None,
    scale: float = 1.0, note: str = "", preprocess: str = "",
) -> Outcome:
    """The saved model's accuracy, recomputed by the grader, reaches the threshold.

    Without ``min_accuracy`` (a profile too small to learn in) the check only
    requires that the saved model evaluates on the grader's data, and says so.
    """
    accuracy = ctx.accuracy(model, dataset, size, scale, preprocess)
    where = f"on the grader's {dataset} validation set" + (f" ({size} images)" if size else "")
    if min_accuracy is None:
        return Outcome(True, f"{model}: {accuracy:.4f} {where}; no threshold in the {ctx.profile} profile. {note}",
                       accuracy)
    if accuracy >= min_accuracy:
        return Outcome(True, f"{model}: {accuracy:.4f} {where} (needs {min_accuracy:g})", accuracy)
    return Outcome(False, f"{model}: {accuracy:.4f} {where}, below the {min_accuracy:g} required", accuracy)


@check("history_consistent")
def history_consistent(
    ctx,
    dataset: str,
    tolerance: float,
    model: str = "model",
    metric: str = "val_accuracy",
    which: str = "last",
    size: Optional[int] = None,
    scale: float = 1.0,
    preprocess: str = "",
) -> Outcome:
    """The accuracy the notebook reported agrees with the grader's recomputation.

    ``which`` is "last" when the final weights were saved, "best" when the
    notebook saved its best checkpoint.
    """
    history = ctx.history(model)
    values = [v for v in history.get(metric, []) if v is not None]
    if not values:
        raise MissingArtifact(f"the history of {model} has no {metric!r}")
    claimed = values[-1] if which == "last" else max(values)
    recomputed = ctx.accuracy(model, dataset, size, scale, preprocess)
    gap = abs(claimed - recomputed)
    if gap <= tolerance:
        return Outcome(True, f"reported {metric} {claimed:.4f} agrees with the recomputed {recomputed:.4f}", gap)
    return Outcome(
        False,
        f"reported {metric} {claimed:.4f} ({which} epoch) but the saved model scores {recomputed:.4f}: "
        f"a gap of {gap:.4f} (tolerance {tolerance}); was the saved model the one trained?",
        gap,
    )


@check("epochs_within")
def epochs_within(ctx, max_epochs: int, model: str = "model") -> Outcome:
    history = ctx.history(model)
    epochs = max((len(v) for v in history.values()), default=0)
    if epochs == 0:
        return Outcome(False, f"the history of {model} records no epoch")
    if epochs > max_epochs:
        return Outcome(False, f"{model} trained for {epochs} epochs; at most {max_epochs} are allowed", epochs)
    return Outcome(True, f"{model} trained for {epochs} epochs (at most {max_epochs})", epochs)


@check("beats_model")
def beats_model(ctx, dataset: str, baseline: str = "base", model: str = "model", size: Optional[int] = None,
                scale: float = 1.0, margin: float = 0.0) -> Outcome:
    """The saved model beats the saved baseline, both re-evaluated on the grader's validation data."""
    ours = ctx.accuracy(model, dataset, size, scale)
    theirs = ctx.accuracy(baseline, dataset, size, scale)
    gap = ours - theirs
    text = f"{model} {ours:.4f} against {baseline} {theirs:.4f} on the grader's {dataset} validation set"
    if gap > margin:
        return Outcome(True, f"{text}: better by {gap:.4f}", gap)
    need = f" by more than {margin}" if margin else ""
    return Outcome(False, f"{text}: it must be better{need}", gap)
