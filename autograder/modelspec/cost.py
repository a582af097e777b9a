"""What a model costs to run and to retrain, from its description alone (nothing is built or run).

The unit is the multiply-add (MAC): one weight applied to one input value. Layers with weights
count the usual formulas; layers without weights count one operation per element they write (a
pooling window, an interpolation, a copy, a mask) so that a network of few parameters that blows
its input up (``UpSampling2D(64)``) still costs what it will make the machine do. Every layer costs
at least its output elements, a layer of unknown kind included: nothing is ever free.

:func:`training_work` multiplies one image's cost by the images and epochs of a retraining;
:func:`check_budget` refuses, with the figures in words, a retraining over the course's budget
(``retrain_work`` in ``autograder/rubric/limits.toml``), before any of it starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Optional, Sequence

from autograder.errors import ArtifactError
from autograder.modelspec import layer as K
from autograder.modelspec.describe import LayerInfo, ModelDescription, describe_layers
from autograder.modelspec.layer import Shape

BACKWARD_FACTOR = 3  # a training step: the forward pass, then gradients for inputs and for weights, each about as much

# Reads per output element of an interpolation (nearest: 1 pixel, bilinear: 2x2, bicubic: 4x4, ...).
INTERPOLATION_TAPS = {"nearest": 1, "bilinear": 4, "area": 4, "bicubic": 16, "lanczos3": 36, "lanczos5": 100}
DEFAULT_TAPS = 4  # an interpolation not listed above: bilinear's

# Augmentation layers that resample the image (bilinear by default) instead of touching each pixel once.
RESAMPLING_CLASSES = frozenset({"RandomRotation", "RandomTranslation", "RandomZoom", "RandomShear"})

LINEAR_ACTIVATIONS = frozenset({None, "linear"})

# Layers of unknown kind whose weights are one per element or channel (not a kernel slid over the image).
PER_ELEMENT_WEIGHTS = frozenset({"PReLU"})


@dataclass(frozen=True)
class LayerCost:
    """One layer's multiply-adds for one image (forward pass)."""

    name: str
    kind: str
    class_name: str
    output_shape: Shape
    macs: int


@dataclass(frozen=True)
class Work:
    """What retraining a network costs: multiply-adds per image x images x epochs x :data:`BACKWARD_FACTOR`."""

    per_image: int
    images: int
    epochs: int
    layers: tuple[LayerCost, ...] = ()

    @property
    def total(self) -> int:
        return self.per_image * self.images * self.epochs * BACKWARD_FACTOR

    def costliest(self) -> Optional[LayerCost]:
        return max(self.layers, key=lambda c: c.macs, default=None)

    def describe(self) -> str:
        """``2.0e14 multiply-adds (5.4e9 per image × 4,000 images × 3 epochs × 3 for the backward pass)``"""
        return (f"{sci(self.total)} multiply-adds ({sci(self.per_image)} per image × {self.images:,} images "
                f"× {self.epochs} epochs × {BACKWARD_FACTOR} for the backward pass)")


def sci(value: float) -> str:
    """A large count in two significant figures: ``4.1e14``."""
    mantissa, exponent = f"{float(value):.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _elements(shape: Shape) -> Optional[int]:
    """How many numbers a (batchless) shape holds; None when a dimension is unknown."""
    if any(d is None for d in shape):
        return None
    return math.prod(shape)  # type: ignore[arg-type]


def _channels(shape: Shape) -> int:
    return int(shape[-1]) if shape and shape[-1] is not None else 1


# Per-kind formulas: (the layer, its inputs' shapes, its output elements) -> operations for one image.
Formula = Callable[[LayerInfo, Sequence[Shape], int], int]


def _conv(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    kh, kw = info.layer.kernel or (1, 1)
    return out * kh * kw * (_channels(inputs[0]) // max(info.layer.groups, 1))


def _depthwise(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    kh, kw = info.layer.kernel or (1, 1)
    return out * kh * kw  # each output channel reads one input channel's window


def _separable(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    kh, kw = info.layer.kernel or (1, 1)
    middle = _channels(inputs[0]) * info.layer.depth_multiplier  # the depthwise step's output channels
    pixels = out // _channels(info.output_shape)
    return pixels * middle * (kh * kw + _channels(info.output_shape))  # depthwise, then pointwise


def _dense(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    return out * _channels(inputs[0])  # on a vector, or on every position of a feature map (a 1x1 convolution)


def _pool(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    kh, kw = info.layer.kernel or (1, 1)
    return out * kh * kw  # one read per window element


def _global_pool(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    return _elements(inputs[0]) or out  # the window is the whole map


def _resize(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    return out * INTERPOLATION_TAPS.get(info.layer.interpolation, DEFAULT_TAPS)


def _merge(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    return out * max(len(inputs) - 1, 1)  # n inputs: n - 1 operations per element


def _preprocessing(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    return out * (DEFAULT_TAPS if info.layer.class_name in RESAMPLING_CLASSES else 1)


def _unknown(info: LayerInfo, inputs: Sequence[Shape], out: int) -> int:
    """A kind the inspector does not compute (``Conv1D``, ``Conv2DTranspose``, 1-D pooling, ``Permute``...): it
    reads every input element and writes every output element, and applies its weights, if it shares them across
    positions, once per input element and output channel or per output element and input channel, whichever is less
    (exact for a convolution, strided or transposed, and for a dense layer)."""
    read = sum(_elements(shape) or 0 for shape in inputs)
    touched = max(read, out)
    if not info.params or info.layer.class_name in PER_ELEMENT_WEIGHTS:
        return touched
    per_input = read * (info.params // _channels(inputs[0])) if inputs else out
    per_output = out * (info.params // _channels(info.output_shape))
    return max(touched, min(per_input, per_output))


FORMULAS: Mapping[str, Formula] = {
    K.CONV: _conv,
    K.DEPTHWISE_CONV: _depthwise,
    K.SEPARABLE_CONV: _separable,
    K.DENSE: _dense,
    K.POOL: _pool,
    K.GLOBAL_POOL: _global_pool,
    K.RESIZE: _resize,
    K.ADD: _merge,
    K.MERGE: _merge,
    K.PREPROCESSING: _preprocessing,
    K.OTHER: _unknown,
}
# Every other kind (batch norm, activations, dropout, concatenation, padding, cropping, flatten, reshape)
# touches each output element once: the floor every layer gets.
WEIGHTED_KINDS = frozenset({K.CONV, K.DEPTHWISE_CONV, K.SEPARABLE_CONV, K.DENSE})


def layer_macs(info: LayerInfo, inputs: Sequence[Shape]) -> int:
    """One layer's operations for one image: its formula, a fused activation, and never less than its output."""
    if info.kind == K.INPUT:
        return 0
    out = _elements(info.output_shape)
    if out is None:
        raise ArtifactError(f"the cost of {info.qualname} ({info.layer.class_name}) cannot be estimated: its output "
                            f"size {tuple(info.output_shape)} is unknown; give the model a fixed input shape")
    formula = FORMULAS.get(info.kind)
    macs = formula(info, inputs, out) if formula else out
    if info.kind in WEIGHTED_KINDS and info.layer.activation not in LINEAR_ACTIVATIONS:
        macs += out
    return max(macs, out)


def layer_costs(description: ModelDescription) -> tuple[LayerCost, ...]:
    """Every layer's multiply-adds for one image (forward pass), in the description's order."""
    shapes = {info.qualname: info.output_shape for info in description}
    return tuple(
        LayerCost(info.qualname, info.kind, info.layer.class_name, info.output_shape,
                  layer_macs(info, [shapes[name] for name in info.layer.inbound]))
        for info in description
    )


def macs_per_image(description: ModelDescription) -> int:
    """Multiply-adds of one forward pass for one image."""
    return sum(cost.macs for cost in layer_costs(description))


def with_input_shape(description: ModelDescription, shape: Sequence[int]) -> ModelDescription:
    """The description recomputed for inputs of ``shape`` (channels-last, no batch axis), where its one input
    leaves dimensions open (``keras.Input((None, None, 3))``); any other description is returned as it is."""
    inputs = description.of_kind(K.INPUT)
    if len(inputs) != 1 or _elements(inputs[0].output_shape) is not None:
        return description
    layers = [replace(info.layer, reported_shape=tuple(shape)) if info.kind == K.INPUT else info.layer
              for info in description]
    return describe_layers(layers, description.framework)


def training_work(description: ModelDescription, images: int, epochs: int,
                  input_shape: Optional[Sequence[int]] = None) -> Work:
    """What retraining costs: multiply-adds per image x ``images`` x ``epochs`` x :data:`BACKWARD_FACTOR`.
    ``input_shape``: the images' shape, for a description whose input leaves it open."""
    if input_shape is not None:
        description = with_input_shape(description, input_shape)
    costs = layer_costs(description)
    return Work(sum(c.macs for c in costs), int(images), int(epochs), costs)


def check_budget(description: ModelDescription, images: int, epochs: int, budget: float, *,
                 model: str = "this network", scope: str = "this assignment",
                 input_shape: Optional[Sequence[int]] = None) -> Work:
    """The retraining's :class:`Work`, or :class:`ArtifactError` when it exceeds ``budget`` multiply-adds,
    with both figures and the costliest layer in the message. ``model`` names the network, ``scope`` the
    budget's assignment and profile (``"06 in smoke"``)."""
    work = training_work(description, images, epochs, input_shape)
    if work.total > budget:
        top = work.costliest()
        where = "" if top is None else (
            f"; the costliest layer is {top.name} ({top.class_name}, output "
            f"{'x'.join(str(d) for d in top.output_shape)}: {sci(top.macs)} per image)")
        raise ArtifactError(f"retraining {model} would take {work.describe()}; the course's budget for {scope} is "
                            f"{sci(budget)} (retrain_work in limits.toml), so the grader does not retrain it{where}")
    return work
