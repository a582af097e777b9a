"""Checks for assignment 05: a VGG16 base, frozen for feature extraction, block 5 fine-tuned."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from autograder.checks import MissingArtifact, Outcome, check
from autograder.studentcode.notebook import parsed_cells

if TYPE_CHECKING:
    from autograder.scoring.context import ScoringContext


def _base_layers(description, base: str) -> list:
    return [info for info in description if info.layer.scope[:1] == (base,)]


@check("vgg16_base")
def vgg16_base(ctx: ScoringContext, model: str, convolutions: int, params: int, classes: int, base: str = "vgg16") -> Outcome:
    """The model nests Keras's VGG16 convolutional base (``convolutions`` and ``params`` from the rubric)
    under a new head ending in ``classes`` units."""
    description = ctx.description(model)
    layers = _base_layers(description, base)
    if not layers:
        return Outcome(False, f"{model} has no nested model named {base!r}: use keras.applications.VGG16 as a layer")
    convs = [i for i in layers if i.kind == "conv"]
    found = sum(i.params for i in layers)
    if len(convs) != convolutions or found != params:
        return Outcome(False, f"{model}'s base has {len(convs)} convolutions and {found:,} parameters; VGG16 "
                              f"without its top has {convolutions} and {params:,} (include_top=False)")
    head = [i for i in description if not i.layer.scope and i.kind == "dense"]
    if not head or head[-1].output_shape[-1] != classes:
        return Outcome(False, f"{model} needs a new classifier head ending in Dense({classes})")
    return Outcome(True, f"{model}: VGG16 base ({convolutions} convolutions, {found:,} parameters) and a new "
                         f"{len(head)}-layer head")


@check("base_trainable")
def base_trainable(ctx: ScoringContext, model: str, trainable_prefix: str = "", base: str = "vgg16") -> Outcome:
    """Exactly the base layers whose names start with ``trainable_prefix`` train ("" : all frozen)."""
    description = ctx.description(model)
    layers = [i for i in _base_layers(description, base) if i.kind == "conv"]
    if not layers:
        return Outcome(False, f"{model} has no nested model named {base!r}")
    training = {i.name for i in layers if i.trainable_params}
    wanted = {i.name for i in layers if trainable_prefix and i.name.startswith(trainable_prefix)}
    head_trains = any(i.trainable_params for i in description if not i.layer.scope)
    phase = f"block {trainable_prefix[5:6]} trainable" if trainable_prefix else "the whole base frozen"
    if training != wanted:
        extra, missing = sorted(training - wanted), sorted(wanted - training)
        detail = "; ".join(filter(None, [f"trainable but should be frozen: {', '.join(extra)}" if extra else "",
                                         f"frozen but should train: {', '.join(missing)}" if missing else ""]))
        return Outcome(False, f"{model} should have {phase}: {detail}")
    if not head_trains:
        return Outcome(False, f"{model}: the new head has no trainable weights")
    return Outcome(True, f"{model}: {phase}, the head trains")


def _learning_rate(optimizer: dict[str, Any]) -> Any:
    rate = optimizer.get("config", {}).get("learning_rate")
    if isinstance(rate, dict):  # a schedule: its initial rate
        return rate.get("config", {}).get("initial_learning_rate")
    return rate


@check("learning_rate_at_most")
def learning_rate_at_most(ctx: ScoringContext, model: str, max_learning_rate: float) -> Outcome:
    """The optimizer saved with the model (compile config in the .keras file) uses a small learning rate."""
    compile_config = ctx.keras_config(model).get("compile_config") or {}
    optimizer = compile_config.get("optimizer")
    if not isinstance(optimizer, dict):
        raise MissingArtifact(f"{model}.keras was saved without its compiled optimizer: compile before submit")
    rate = _learning_rate(optimizer)
    if not isinstance(rate, (int, float)):
        return Outcome(False, f"{model}'s optimizer learning rate cannot be read ({rate!r})")
    if rate > max_learning_rate:
        return Outcome(False, f"{model} was fine-tuned with learning rate {rate:g}; at most {max_learning_rate:g}: "
                              "a large rate destroys the pretrained features", rate)
    return Outcome(True, f"{model}: learning rate {rate:g} (at most {max_learning_rate:g})", rate)


@check("source_calls")
def source_calls(ctx: ScoringContext, function: str, why: str = "") -> Outcome:
    """The notebook's code calls ``function`` somewhere (read with ast, not run)."""
    for tree in parsed_cells(ctx.code_cells()):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name == function:
                    return Outcome(True, f"the notebook calls {function}()")
    return Outcome(False, f"the notebook never calls {function}(){': ' + why if why else ''}")
