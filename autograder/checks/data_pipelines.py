"""Checks that call a student's generator and data pipeline on the grader's hidden inputs.

The calls happen in a sandboxed process (:mod:`autograder.studentcode.hidden_cases`); the
functions here only judge the facts it returns.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from autograder.checks import ArtifactError, Outcome, check

if TYPE_CHECKING:
    from autograder.scoring.context import ScoringContext

def cycled_batches(items: Sequence[Any], batch_size: int, count: int) -> list[list[Any]]:
    """What the generator must yield: consecutive items, starting over after the last."""
    return [[items[(b * batch_size + i) % len(items)] for i in range(batch_size)] for b in range(count)]


def _facts(facts: dict, *keys: str) -> dict:
    for key in ("error", "missing"):
        if key in facts:
            what = f"no function {facts[key]}() is defined" if key == "missing" else facts[key]
            raise ArtifactError(f"your pipeline could not be run: {what}")
    return facts


@check("generator_cases")
def generator_cases(ctx: ScoringContext, cases: list[list[Any]], function: str = "batches") -> Outcome:
    """``cases``: hidden [items, batch_size, batches to draw] triples from the rubric."""
    facts = ctx.harness("generator", function=function, cases=cases)
    if "missing" in facts:
        return Outcome(False, f"no function {function}() is defined")
    if not facts["is_generator_function"]:
        return Outcome(False, f"{function}() is not a generator function: it must use yield")
    for n, ((items, size, count), case) in enumerate(zip(cases, facts["cases"]), 1):
        if case.get("stopped"):
            return Outcome(False, f"hidden case {n} ({len(items)} items, batch_size {size}): the generator stopped "
                                  f"after {len(case['got'])} batches; after the last item it must start again from "
                                  "the first, forever")
        if "error" in case:
            return Outcome(False, f"hidden case {n} ({len(items)} items, batch_size {size}) raised {case['error']}")
        expected = cycled_batches(items, size, count)
        for b, (got, want) in enumerate(zip(case["got"], expected), 1):
            if got != want:
                hint = " (after the last item it must start again from the first)" if b * size > len(items) else ""
                return Outcome(False, f"hidden case {n} ({len(items)} items, batch_size {size}): batch {b} "
                                      f"is wrong{hint}", n)
    if facts["empty"] != "ValueError":
        return Outcome(False, f"{function}([], 3) should raise ValueError (got {facts['empty']})")
    return Outcome(True, f"{function}() passes all {len(cases)} hidden cases")


def _pipeline(ctx: ScoringContext, counts: dict[str, int], batch_size: int, image_size: Sequence[int], function: str,
              augmentation: str = "") -> dict:
    """Facts from ``function`` run on a hidden image tree with ``counts`` images per class and split."""
    return ctx.harness("pipeline", function=function, counts=counts, batch_size=batch_size,
                       image_size=list(image_size), augmentation=augmentation)


def _label_agreement(pass_: dict) -> float:
    """Share of images whose label follows its folder (dark images are cats = 0, bright are dogs = 1)."""
    pairs = list(zip(pass_["labels"], pass_["brightness"]))
    return sum((b > 0.5) == (label == 1.0) for label, b in pairs) / max(len(pairs), 1)


@check("pipeline_batches")
def pipeline_batches(ctx: ScoringContext, counts: dict[str, int], batch_size: int, image_size: list[int],
                      function: str = "make_datasets") -> Outcome:
    facts = _facts(_pipeline(ctx, counts, batch_size, image_size, function))
    problems = []
    for split in ("train", "validation"):
        first = facts[split][0]
        for b in first["batches"]:
            if b["x_shape"][1:] != [*image_size, 3] or b["x_shape"][0] > batch_size:
                problems.append(f"{split} images come in batches of shape {b['x_shape']}, "
                                f"expected ({batch_size}, {image_size[0]}, {image_size[1]}, 3)")
                break
        if first["batches"] and first["batches"][0]["x_shape"][0] != min(batch_size, 2 * counts[split]):
            problems.append(f"the first {split} batch holds {first['batches'][0]['x_shape'][0]} images, "
                            f"not batch_size={batch_size}")
        dtypes = {b["x_dtype"] for b in first["batches"]}
        if dtypes != {"float32"}:
            problems.append(f"{split} pixels are {sorted(dtypes)}, expected float32")
        low = min(b["x_min"] for b in first["batches"])
        high = max(b["x_max"] for b in first["batches"])
        if low < 0 or high > 1.0001:
            problems.append(f"{split} pixels span [{low:.3g}, {high:.3g}]; rescale them to [0, 1]")
        elif high < 0.5:
            problems.append(f"{split} pixels never exceed {high:.3g}: were they rescaled twice?")
        label_shapes = {tuple(b["y_shape"][1:]) for b in first["batches"]}
        labels = set(first["labels"])
        if label_shapes != {(1,)}:
            problems.append(f"{split} labels have shape (batch, {', '.join(map(str, sorted(label_shapes)[0]))}); "
                            "binary labels have shape (batch, 1), one 0. or 1. per image")
        elif not labels <= {0.0, 1.0}:
            problems.append(f"{split} labels are {sorted(labels)[:5]}, expected binary 0/1")
        elif _label_agreement(first) < 1.0:
            problems.append(f"{split} labels do not follow the folder names (class 0 = the first folder "
                            "in alphabetical order)")
    if problems:
        return Outcome(False, "; ".join(dict.fromkeys(problems)))
    return Outcome(True, f"batches of {batch_size} images of {image_size[0]}x{image_size[1]}x3, float32 in [0, 1], "
                         "binary labels that follow the folders")


@check("pipeline_epoch")
def pipeline_epoch(ctx: ScoringContext, counts: dict[str, int], batch_size: int, image_size: list[int],
                    function: str = "make_datasets") -> Outcome:
    facts = _facts(_pipeline(ctx, counts, batch_size, image_size, function))
    for split in ("train", "validation"):
        images = 2 * counts[split]
        got = len(facts[split][0]["batches"])
        seen = len(facts[split][0]["labels"])
        if seen != images or got != math.ceil(images / batch_size):
            return Outcome(False, f"one pass over {split} gave {got} batches and {seen} images; a directory of "
                                  f"{images} images should give {math.ceil(images / batch_size)} batches, each "
                                  "image once")
    return Outcome(True, "one pass over each split shows every image exactly once")


@check("pipeline_shuffling")
def pipeline_shuffling(ctx: ScoringContext, counts: dict[str, int], batch_size: int, image_size: list[int],
                        function: str = "make_datasets") -> Outcome:
    facts = _facts(_pipeline(ctx, counts, batch_size, image_size, function))
    train, validation = facts["train"], facts["validation"]
    if train[0]["brightness"] == train[1]["brightness"]:
        return Outcome(False, "the training data comes in the same order every epoch: shuffle it")
    if validation[0]["digest"] != validation[1]["digest"]:
        return Outcome(False, "two passes over the validation data differ: validation must be neither shuffled "
                              "nor randomly transformed")
    if validation[0]["labels"] != sorted(validation[0]["labels"]):
        return Outcome(False, "the validation data is shuffled: keep it in directory order")
    return Outcome(True, "training data is reshuffled each epoch; validation data is fixed and in order")


@check("augmentation_effect")
def augmentation_effect(ctx: ScoringContext, counts: dict[str, int], batch_size: int, image_size: list[int],
                        required: dict[str, str], function: str = "make_datasets",
                        augmentation: str = "make_augmentation") -> Outcome:
    """``required``: what the augmentation must do, by Keras layer ({"flip": "RandomFlip", ...})."""
    facts = _facts(_pipeline(ctx, counts, batch_size, image_size, function, augmentation))
    if "missing" in facts or "augmentation_error" in facts:
        return Outcome(False, f"{augmentation}() could not be used: "
                              f"{facts.get('augmentation_error') or 'it is not defined'}")
    missing = [name for name, layer in required.items() if layer not in facts["augmentation_layers"]]
    if missing:
        return Outcome(False, f"the augmentation has no {', '.join(missing)} "
                              f"(layers found: {', '.join(facts['augmentation_layers']) or 'none'})")
    out = facts["augmented"]
    if out["shape"] != out["input_shape"] or out["dtype"] != "float32":
        return Outcome(False, f"augmenting a batch of shape {out['input_shape']} gave {out['shape']} {out['dtype']}; "
                              "shape and dtype must hold")
    if out["min"] < -1e-3 or out["max"] > 1.001:
        return Outcome(False, f"augmented pixels span [{out['min']:.3g}, {out['max']:.3g}], outside [0, 1]")
    if out["mean_abs_change"] < 0.01:
        return Outcome(False, "augmented images are (almost) identical to the originals: is training=True honoured?")
    if facts["train_augmented"][0]["images"] == facts["train"][0]["images"]:
        return Outcome(False, f"{function}(..., augmentation=...) returns the training images unchanged: apply the "
                              "augmentation to the training batches")
    if _label_agreement(facts["train_augmented"][0]) < 1.0:
        return Outcome(False, "after augmentation the training labels no longer follow the folders")
    return Outcome(True, f"augmentation ({', '.join(facts['augmentation_layers'])}) changes images "
                         f"(mean change {out['mean_abs_change']:.3f}) and keeps shapes, range and labels")


@check("validation_not_augmented")
def validation_not_augmented(ctx: ScoringContext, counts: dict[str, int], batch_size: int, image_size: list[int],
                              function: str = "make_datasets",
                              augmentation: str = "make_augmentation") -> Outcome:
    facts = _facts(_pipeline(ctx, counts, batch_size, image_size, function, augmentation))
    if "validation_augmented" not in facts:
        return Outcome(False, f"{augmentation}() could not be used: {facts.get('augmentation_error', 'not defined')}")
    if facts["validation_augmented"][0]["digest"] != facts["validation"][0]["digest"]:
        return Outcome(False, "with augmentation switched on, the validation images change: augment the training "
                              "data only")
    return Outcome(True, "validation images are identical with and without augmentation")
