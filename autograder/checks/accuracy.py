"""Checks that re-evaluate saved models on the grader's held-out test images (never seen by the notebook)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

from autograder.checks import MissingArtifact, Outcome, check

if TYPE_CHECKING:
    from autograder.scoring.context import ScoringContext

# saved weights this far above the grader's retraining are named in the message (no point hangs on it)
SAVED_AHEAD = 0.05


@check("validation_accuracy")
def validation_accuracy(
    ctx, dataset: str, min_accuracy: Optional[float] = None, model: str = "model", size: Optional[int] = None,
    scale: float = 1.0, note: str = "", preprocess: str = "", retrain: Optional[dict[str, Any]] = None,
) -> Outcome:
    """The model's accuracy, computed by the grader on its own evaluation data, reaches the threshold.

    With ``retrain``, the model scored is the saved architecture retrained by the grader with the notebook's
    recipe (:func:`scored_model`): the saved weights earn nothing, and their accuracy is only shown beside it.
    Without ``min_accuracy`` (a profile too small to learn in) the check cannot judge: it is reported as not
    judged, for no points, once the model has evaluated on the grader's data. The detail holds the confusion
    matrix.
    """
    detail: dict[str, Any] = {"model": model, "dataset": dataset}
    scored, label = scored_model(ctx, model, dataset, scale, retrain, preprocess)
    accuracy = ctx.accuracy(scored, dataset, size, scale, preprocess)
    detail["confusion"] = ctx.confusion(scored, dataset, size, scale, preprocess)
    where = f"on the grader's held-out {dataset} test images" + (f" ({size} images)" if size else "")
    own = ""
    if retrain is not None:
        saved = ctx.accuracy(model, dataset, size, scale, preprocess)
        detail.update(saved_accuracy=saved, retrained=label)
        own = (f"; your run's saved {model} scores {saved:.4f} (shown, not counted: only a model the grader "
               "trained counts)")
        if saved - accuracy > SAVED_AHEAD:
            own += (f". Your saved weights score {saved - accuracy:.2f} above what this architecture and recipe "
                    "reach in the grader's training: were they trained in this run, with these settings?")
    if min_accuracy is None:
        return Outcome(None, f"not judged in the {ctx.profile} profile (too little training to tell learning from "
                       f"chance): {label} evaluates to {accuracy:.4f} {where}{own}. {note}".strip(), accuracy,
                       detail=detail)
    if accuracy >= min_accuracy:
        return Outcome(True, f"{label}: {accuracy:.4f} {where} (needs {min_accuracy:g}){own}", accuracy,
                       detail=detail)
    return Outcome(False, f"{label}: {accuracy:.4f} {where}, below the {min_accuracy:g} required{own}", accuracy,
                   detail=detail)


def scored_model(ctx: ScoringContext, model: str, dataset: str, scale: float, retrain: Optional[dict[str, Any]],
                 preprocess: str = "") -> tuple[str, str]:
    """The model a check scores, and how its message names it: the saved ``model``, or with ``retrain``
    (``batch_size``; ``train_size``, ``validation_size``, ``max_epochs``, ``augment``, ``pretrained``, ``after``
    where they apply) the saved architecture retrained by the grader with the notebook's recipe, or the course's
    where a locked cell fixes it (:meth:`autograder.scoring.context.ScoringContext.retrained`)."""
    if retrain is None:
        return model, model
    recipe = ctx.retraining_recipe(**retrain)
    return (ctx.retrained(model, dataset, scale=scale, preprocess=preprocess, **retrain),
            f"{model} retrained by the grader ({recipe.describe()}; {ctx.recipe_words(model)})")


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
    validation_size: Optional[int] = None,
) -> Outcome:
    """The accuracy the notebook reported on its validation images agrees with the saved model's accuracy on
    the grader's test images, within ``tolerance`` plus three standard errors of the difference of two
    accuracies measured on ``validation_size`` (default: as many as the test images) and on the test images.

    ``which`` is "last" when the final weights were saved, "best" when the
    notebook saved its best checkpoint.
    """
    history = ctx.history(model)
    values = [v for v in history.get(metric, []) if v is not None]
    if not values:
        raise MissingArtifact(f"the history of {model} has no {metric!r}")
    claimed = values[-1] if which == "last" else max(values)
    recomputed = ctx.accuracy(model, dataset, size, scale, preprocess)
    tested = len(ctx.predictions(model, dataset, size, scale, preprocess)[0])
    allowed = tolerance + sampling_margin(recomputed, validation_size or tested, tested)
    gap = abs(claimed - recomputed)
    detail = {"history": history, "model": model}  # as the grader read it, for the page's learning curves
    if gap <= allowed:
        return Outcome(True, f"reported {metric} {claimed:.4f} agrees with {recomputed:.4f} on the test images "
                             f"(within {allowed:.4f})", gap, detail=detail)
    return Outcome(
        False,
        f"reported {metric} {claimed:.4f} ({which} epoch) but the saved model scores {recomputed:.4f} on the test "
        f"images: a gap of {gap:.4f}, beyond the {allowed:.4f} that sampling explains; was the saved model the one "
        "trained?",
        gap,
        detail=detail,
    )


def sampling_margin(accuracy: float, n_validation: int, n_test: int) -> float:
    """Three standard errors of the difference between one accuracy measured on two independent samples."""
    p = min(max(accuracy, 0.0), 1.0)
    return 3 * math.sqrt(max(p * (1 - p), 0.01 * 0.99) * (1 / max(n_validation, 1) + 1 / max(n_test, 1)))


@check("epochs_within")
def epochs_within(ctx: ScoringContext, max_epochs: int, model: str = "model") -> Outcome:
    history = ctx.history(model)
    epochs = max((len(v) for v in history.values()), default=0)
    if epochs == 0:
        return Outcome(False, f"the history of {model} records no epoch")
    if epochs > max_epochs:
        return Outcome(False, f"{model} trained for {epochs} epochs; at most {max_epochs} are allowed", epochs)
    return Outcome(True, f"{model} trained for {epochs} epochs (at most {max_epochs})", epochs)


@check("beats_model")
def beats_model(ctx: ScoringContext, dataset: str, baseline: str = "base", model: str = "model", size: Optional[int] = None,
                scale: float = 1.0, margin: float = 0.0, settle_batchnorm: bool = False,
                chance_margin: Optional[float] = None, retrain: Optional[dict[str, Any]] = None) -> Outcome:
    """The model beats the baseline, both re-evaluated on the grader's held-out test images; with ``retrain``
    both are the grader's retraining of the saved architectures (:func:`scored_model`), not the saved weights.

    ``settle_batchnorm`` (short profiles): both are evaluated after re-estimating their BatchNormalization
    statistics (:mod:`autograder.scoring.settle`), so that a default momentum is not mistaken for a bad
    design. ``chance_margin``: when the baseline itself is within this of chance, the profile trained too
    little to compare, and a model that does not beat it is reported as not judged rather than failed.
    A baseline the grader trained once for the class (a locked cell's network: ``ctx.shared_baseline``) is
    compared by its stored figure instead of being retrained here.
    """
    scored, label = scored_model(ctx, model, dataset, scale, retrain)
    ours = ctx.accuracy(scored, dataset, size, scale, settle_batchnorm=settle_batchnorm)
    shared = ctx.shared_baseline({"baseline": baseline, "dataset": dataset, "size": size, "scale": scale,
                                  "settle_batchnorm": settle_batchnorm, "retrain": retrain})
    if shared is not None:  # trained once for the class by the grader: the same figure for every student
        theirs = float(shared["accuracy"])
        baseline_label = (f"{baseline} as the grader trained it once for this class ({shared['recipe']}; "
                          f"{ctx.recipe_words(baseline)})")
    else:
        scored_baseline, baseline_label = scored_model(ctx, baseline, dataset, scale, retrain)
        theirs = ctx.accuracy(scored_baseline, dataset, size, scale, settle_batchnorm=settle_batchnorm)
    confusion = ctx.confusion(scored, dataset, size, scale, settle_batchnorm=settle_batchnorm)
    detail = {"confusion": confusion, "model": model, "dataset": dataset}
    gap = ours - theirs
    settled = " (BatchNormalization statistics re-estimated on training images)" if settle_batchnorm else ""
    text = (f"{label} {ours:.4f} against {baseline_label} {theirs:.4f} on the grader's held-out {dataset} test "
            f"images{settled}")
    if gap > margin:
        return Outcome(True, f"{text}: better by {gap:.4f}", gap, detail=detail)
    chance = 1 / max(2, len(confusion))
    if chance_margin is not None and theirs < chance + chance_margin:
        return Outcome(None, f"not judged in the {ctx.profile} profile: {text}; the {baseline} network is still "
                       f"near chance ({chance:.2f}), too little training to compare", gap, detail=detail)
    need = f" by more than {margin}" if margin else ""
    return Outcome(False, f"{text}: it must be better{need}", gap, detail=detail)
