"""How the grader compiles what it retrains: an optimizer, its learning rate and a loss, as the grader's own type.

Where students choose the recipe (00-03, 05), their saved ``compile_config`` is read through an allow-list
(:func:`from_compile_config`): a known optimizer with scalar settings, a learning rate that is a number in
:data:`LEARNING_RATES` or a known schedule with scalar arguments, a known loss. Where a locked cell fixes it
(04, 06), the rubric's ``[recipes]`` table says it (:func:`from_rubric`) and the saved one is never read.
Either way the grader builds the Keras objects itself (:meth:`Compiled.build`): no function, object or array a
notebook wrote reaches Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from autograder.errors import ArtifactError, RubricError
from autograder.scoring.architecture import (FRAME, Check, Refused, boolean, exactly, integer, listed, name, number,
                                             optional, refuse, shown)

LEARNING_RATES = (1e-7, 1.0)  # outside this a learning rate is refused: 0 (or nearly) would keep the start
RATE = number(*LEARNING_RATES)
UNIT = number(0.0, 1.0)
CLIP = optional(number(1e-6, 1e6))
COMMON: dict[str, Check] = {"name": name, "clipnorm": CLIP, "clipvalue": CLIP, "global_clipnorm": CLIP,
                            "weight_decay": optional(UNIT), "use_ema": exactly(False), "ema_momentum": UNIT,
                            "ema_overwrite_frequency": exactly(None), "loss_scale_factor": exactly(None),
                            "gradient_accumulation_steps": exactly(None)}
ADAM = {"beta_1": UNIT, "beta_2": UNIT, "epsilon": number(1e-12, 1.0)}
# Keras's optimizers the grader builds, and their own scalar settings (besides the learning rate and COMMON)
OPTIMIZERS: dict[str, dict[str, Check]] = {
    "Adam": ADAM | {"amsgrad": boolean}, "AdamW": ADAM | {"amsgrad": boolean}, "Nadam": ADAM, "Adamax": ADAM,
    "SGD": {"momentum": number(0.0, 0.999), "nesterov": boolean},
    "RMSprop": {"rho": UNIT, "momentum": number(0.0, 0.999), "epsilon": number(1e-12, 1.0), "centered": boolean},
    "Adagrad": {"initial_accumulator_value": number(0.0, 10.0), "epsilon": number(1e-12, 1.0)},
    "Adadelta": {"rho": UNIT, "epsilon": number(1e-12, 1.0)},
}
STEPS = integer(1, 10**9)
# Keras's learning-rate schedules the grader builds, with scalar (or short-list) arguments
SCHEDULES: dict[str, dict[str, Check]] = {
    "CosineDecay": {"initial_learning_rate": RATE, "decay_steps": STEPS, "alpha": UNIT,
                    "warmup_target": optional(RATE), "warmup_steps": integer(0, 10**9), "name": name},
    "ExponentialDecay": {"initial_learning_rate": RATE, "decay_steps": STEPS, "decay_rate": number(1e-3, 1.0),
                         "staircase": boolean, "name": name},
    "InverseTimeDecay": {"initial_learning_rate": RATE, "decay_steps": STEPS, "decay_rate": number(0.0, 1e3),
                         "staircase": boolean, "name": name},
    "PolynomialDecay": {"initial_learning_rate": RATE, "decay_steps": STEPS, "end_learning_rate": RATE,
                        "power": number(0.0, 10.0), "cycle": boolean, "name": name},
    "PiecewiseConstantDecay": {"boundaries": listed(STEPS, 1, 16), "values": listed(RATE, 2, 17), "name": name},
}
LOSSES: dict[str, dict[str, Check]] = {  # by class name; the snake-case names of Keras's functions map to these
    "SparseCategoricalCrossentropy": {"from_logits": boolean, "ignore_class": exactly(None)},
    "CategoricalCrossentropy": {"from_logits": boolean, "label_smoothing": number(0.0, 0.5), "axis": exactly(-1)},
    "BinaryCrossentropy": {"from_logits": boolean, "label_smoothing": number(0.0, 0.5), "axis": exactly(-1)},
}
LOSS_NAMES = {"sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
              "categorical_crossentropy": "CategoricalCrossentropy", "binary_crossentropy": "BinaryCrossentropy"}
LOSS_COMMON: dict[str, Check] = {"name": name, "reduction": exactly("sum_over_batch_size"), "dtype": exactly(None)}


@dataclass(frozen=True)
class Compiled:
    """An optimizer with its settings and learning rate (a number, or a schedule), and a loss: data only.
    A schedule's ``decay_steps`` of 0 means "the whole training", filled in by :meth:`build`."""

    optimizer: str
    learning_rate: Any  # float, or (schedule class name, ((argument, value), ...))
    settings: tuple[tuple[str, Any], ...]
    loss: str
    loss_settings: tuple[tuple[str, Any], ...] = ()

    def build(self, steps: int) -> tuple[Any, Any]:
        """Keras's optimizer and loss; ``steps``: the training's steps, for a schedule over the whole training."""
        import keras

        rate = self.learning_rate
        if isinstance(rate, tuple):
            schedule, arguments = rate
            arguments = dict(arguments)
            if arguments.get("decay_steps") == 0:
                arguments["decay_steps"] = max(1, steps)
            rate = getattr(keras.optimizers.schedules, schedule)(**arguments)
        optimizer = getattr(keras.optimizers, self.optimizer)(learning_rate=rate, **dict(self.settings))
        return optimizer, getattr(keras.losses, self.loss)(**dict(self.loss_settings))

    def describe(self) -> str:
        rate = self.learning_rate
        if isinstance(rate, tuple):
            arguments = dict(rate[1])
            rate = f"{rate[0]} from {arguments.get('initial_learning_rate', arguments.get('values', ['?'])[0]):g}"
        else:
            rate = f"learning rate {rate:g}"
        return f"{self.optimizer}, {rate}, {self.loss}"


def scalars(table: Mapping[str, Check], arguments: Any, where: str, owner: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(arguments, dict):
        refuse(where, f"{owner}'s settings are an object, found {shown(arguments)}")
    unknown = sorted(set(arguments) - set(table))
    if unknown:
        refuse(f"{where}.{unknown[0]}", f"{owner} takes no setting {unknown[0]!r} here (it takes "
                                        f"{', '.join(sorted(table))})")
    return tuple((key, table[key](value, f"{where}.{key}")) for key, value in sorted(arguments.items()))


def serialized(value: Any, where: str, kind: str) -> tuple[str, Any]:
    """(class name, config) of a serialized Keras object of ``kind`` ("optimizers", "losses", ...)."""
    module = value.get("module") if isinstance(value, dict) else None
    if (not isinstance(value, dict) or set(value) - FRAME
            or not (module is None or str(module).startswith("keras."))  # on torch: keras.src.backend.torch...
            or value.get("registered_name") not in (None, value.get("class_name"))):
        refuse(where, f"expected one of Keras's {kind.rstrip('s')} objects by name, found {shown(value)}")
    return value.get("class_name"), value.get("config") or {}


def learning_rate(value: Any, where: str) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return scalars({"rate": RATE}, {"rate": value}, where, "the learning rate")[0][1]
    schedule, arguments = serialized(value, where, "schedules")
    if schedule not in SCHEDULES:
        refuse(where, f"a learning rate is a number from {LEARNING_RATES[0]:g} to {LEARNING_RATES[1]:g} or one of "
                      f"Keras's schedules {', '.join(sorted(SCHEDULES))}; found {shown(value)}")
    settings = scalars(SCHEDULES[schedule], arguments, where, schedule)
    if schedule == "PiecewiseConstantDecay" and len(dict(settings)["values"]) != len(dict(settings)["boundaries"]) + 1:
        refuse(where, "PiecewiseConstantDecay takes one value more than boundaries")
    return schedule, settings


def optimizer(value: Any, where: str = "optimizer") -> tuple[str, Any, tuple[tuple[str, Any], ...]]:
    """(class, learning rate, other settings) of a saved optimizer: by name, or serialized."""
    if isinstance(value, str):
        known = {k.lower(): k for k in OPTIMIZERS}
        if value.lower() not in known:
            refuse(where, f"an optimizer is one of {', '.join(sorted(OPTIMIZERS))}, found {shown(value)}")
        return known[value.lower()], 1e-3 if value.lower() != "sgd" else 1e-2, ()
    class_name, config = serialized(value, where, "optimizers")
    if class_name not in OPTIMIZERS:
        refuse(where, f"an optimizer is one of {', '.join(sorted(OPTIMIZERS))}, found {shown(class_name)}")
    if not isinstance(config, dict) or "learning_rate" not in config:
        refuse(where, f"{class_name} is saved without its learning rate")
    rest = {k: v for k, v in config.items() if k != "learning_rate"}
    settings = scalars(COMMON | OPTIMIZERS[class_name], rest, where, class_name)
    return class_name, learning_rate(config["learning_rate"], f"{where}.learning_rate"), settings


def loss(value: Any, where: str = "loss") -> tuple[str, tuple[tuple[str, Any], ...]]:
    if isinstance(value, str):
        if value not in LOSS_NAMES:
            refuse(where, f"a loss is one of {', '.join(sorted(LOSS_NAMES))}, found {shown(value)}")
        return LOSS_NAMES[value], ()
    class_name, config = serialized(value, where, "losses")
    if class_name not in LOSSES:
        refuse(where, f"a loss is one of {', '.join(sorted(LOSSES))}, found {shown(class_name)}")
    settings = scalars(LOSS_COMMON | LOSSES[class_name], config, where, class_name)
    return class_name, tuple((k, v) for k, v in settings if k not in LOSS_COMMON)


def from_compile_config(compile_config: Any) -> Compiled:
    """The recipe a notebook saved with its model, read through the allow-list (the student's choice)."""
    if not isinstance(compile_config, dict) or not compile_config.get("optimizer") or not compile_config.get("loss"):
        raise ArtifactError("the saved model carries no optimizer and loss: compile it before submit, the grader "
                            "retrains it with the notebook's recipe")
    try:
        class_name, rate, settings = optimizer(compile_config["optimizer"])
        loss_class, loss_settings = loss(compile_config["loss"])
    except Refused as exc:
        raise ArtifactError(f"the saved compile config, {exc}; the grader trains with a known optimizer, learning "
                            "rate and loss only (docs/sandbox.md, what the grader trusts)") from None
    return Compiled(class_name, rate, tuple((k, v) for k, v in settings if k != "name"), loss_class, loss_settings)


def from_rubric(table: Mapping[str, Any], where: str) -> Compiled:
    """A recipe a locked cell fixes, as a rubric writes it: ``{ optimizer = "Adam", learning_rate = 1e-3 or
    { schedule = "CosineDecay", initial_learning_rate = 2e-3 }, loss = "sparse_categorical_crossentropy" }``;
    a schedule without ``decay_steps`` decays over the whole training."""
    try:
        rate = table.get("learning_rate", 1e-3)
        if isinstance(rate, Mapping):
            arguments = {k: v for k, v in rate.items() if k != "schedule"}
            rate = learning_rate({"class_name": rate.get("schedule"), "config": {"decay_steps": 1, **arguments}},
                                 f"{where}.learning_rate")
            if "decay_steps" not in table["learning_rate"]:
                rate = (rate[0], tuple((k, 0 if k == "decay_steps" else v) for k, v in rate[1]))
        else:
            rate = learning_rate(rate, f"{where}.learning_rate")
        class_name, _, settings = optimizer({"class_name": table.get("optimizer"), "config": {
            "learning_rate": 1e-3, **table.get("settings", {})}}, where)
        loss_class, loss_settings = loss(table.get("loss"), f"{where}.loss")
    except Refused as exc:
        raise RubricError(f"the rubric's recipe {exc}") from exc
    unknown = set(table) - {"optimizer", "learning_rate", "loss", "settings"}
    if unknown:
        raise RubricError(f"the rubric's recipe {where} has unknown keys: {', '.join(sorted(unknown))}")
    return Compiled(class_name, rate, settings, loss_class, loss_settings)
