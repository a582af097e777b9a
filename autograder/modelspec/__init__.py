"""A framework-neutral description of a model, layer by layer.

``describe(model)`` accepts a Keras 3 model or a PyTorch ``nn.Module`` and
returns a :class:`ModelDescription`: for every layer its kind, output shape
(channels-last), trainable and non-trainable parameters, receptive field,
jump (effective stride) and effective padding, all computed from the layers'
configuration. :mod:`autograder.modelspec.cost` counts what it costs to run and to retrain
(multiply-adds per image, per layer), from the same description.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from autograder.modelspec.describe import DescriptionError, LayerInfo, ModelDescription, describe_layers
from autograder.modelspec.cost import Work, check_budget, macs_per_image, training_work
from autograder.modelspec.layer import POINTWISE_KINDS, Layer

__all__ = ["POINTWISE_KINDS", "DescriptionError", "Layer", "LayerInfo", "ModelDescription", "describe",
           "Work", "check_budget", "macs_per_image", "training_work",
           "canonical_class_name", "framework_of", "layer_class_names", "pointwise_class_names"]


def layer_class_names() -> list[str]:
    """The Keras layer classes the inspector understands (``Conv2D``, ``MaxPool2D``, ...), inputs excepted."""
    from autograder.modelspec.keras_adapter import KERAS_KINDS

    return [name for name, kind in KERAS_KINDS.items() if kind != "input"]


def pointwise_class_names() -> list[str]:
    """The layer classes (aliases included) that change neither the size nor the receptive field."""
    from autograder.modelspec.keras_adapter import KERAS_KINDS

    return [name for name, kind in KERAS_KINDS.items() if kind in POINTWISE_KINDS]


def canonical_class_name(name: str) -> str:
    """The class name a saved model records for ``name`` (``MaxPool2D`` -> ``MaxPooling2D``)."""
    from autograder.modelspec.keras_adapter import KERAS_ALIASES

    return KERAS_ALIASES.get(name, name)


def framework_of(model: Any) -> str:
    """``"keras"`` or ``"torch"``, from the model's class hierarchy (no imports)."""
    modules = {cls.__module__.split(".")[0] for cls in type(model).__mro__}
    if "keras" in modules:
        return "keras"
    if "torch" in modules:
        return "torch"
    raise DescriptionError(f"{type(model).__name__} is neither a Keras model nor a PyTorch nn.Module")


def describe(model: Any, input_shape: Optional[Sequence[int]] = None) -> ModelDescription:
    """Describe a Keras model or a PyTorch module.

    ``input_shape`` excludes the batch axis and follows the framework's own
    convention: (H, W, C) for Keras (needed only for a Sequential model built
    without ``keras.Input``), (C, H, W) for PyTorch (always needed).
    """
    framework = framework_of(model)
    if framework == "keras":
        from autograder.modelspec.keras_adapter import keras_layers

        return describe_layers(keras_layers(model, input_shape), "keras")
    if input_shape is None:
        raise DescriptionError("a PyTorch module needs an input shape (C, H, W)")
    from autograder.modelspec.torch_adapter import torch_layers

    return describe_layers(torch_layers(model, input_shape), "torch")
