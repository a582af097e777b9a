"""A framework-neutral description of one layer, as an adapter reads it.

Adapters (Keras, PyTorch) fill in *configuration*: what kind of layer it is,
its kernel, stride, padding, filters and which layers feed it. Everything that
follows from the configuration (output shapes, parameter counts, receptive
fields) is computed by :mod:`autograder.modelspec.describe`, never copied from
the framework. The framework's own figures are kept beside it
(``reported_*``) for cross-checks and for layer kinds the inspector does not
know.

Shapes are channels-last and without the batch axis, whatever the framework:
a PyTorch ``(N, C, H, W)`` tensor is described as ``(H, W, C)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

Shape = tuple[Optional[int], ...]
Pair = tuple[int, int]
Pads = tuple[Pair, Pair]  # ((top, bottom), (left, right))

# Layer kinds. Checks are written against these, not against class names.
INPUT = "input"
CONV = "conv"
DEPTHWISE_CONV = "depthwise_conv"
SEPARABLE_CONV = "separable_conv"
POOL = "pool"
GLOBAL_POOL = "global_pool"
DENSE = "dense"
FLATTEN = "flatten"
RESHAPE = "reshape"
ZERO_PADDING = "zero_padding"
CROPPING = "cropping"
RESIZE = "resize"
ADD = "add"
MERGE = "merge"  # other element-wise merges: Subtract, Multiply, Average, Maximum, Minimum
CONCAT = "concat"
BATCHNORM = "batchnorm"
NORM = "norm"
DROPOUT = "dropout"
ACTIVATION = "activation"
PREPROCESSING = "preprocessing"
OTHER = "other"

WINDOW_KINDS = frozenset({CONV, DEPTHWISE_CONV, SEPARABLE_CONV, POOL})
MERGE_KINDS = frozenset({ADD, MERGE, CONCAT})
# Kinds that change neither the spatial size nor the receptive field.
POINTWISE_KINDS = frozenset({BATCHNORM, NORM, DROPOUT, ACTIVATION, PREPROCESSING})


@dataclass(frozen=True)
class Layer:
    """One layer's configuration, as read from a framework model."""

    name: str
    kind: str
    class_name: str
    inbound: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()  # enclosing nested models, outermost first
    trainable: bool = True
    # Window layers (convolutions, pooling).
    kernel: Optional[Pair] = None
    stride: Pair = (1, 1)
    dilation: Pair = (1, 1)
    padding: Union[str, Pads] = "valid"  # "valid", "same" or explicit pixels
    ceil_mode: bool = False
    pool: Optional[str] = None  # "max" or "avg"
    # Channels and weights.
    filters: Optional[int] = None  # output channels of conv/separable, units of dense
    depth_multiplier: int = 1
    groups: int = 1
    use_bias: bool = True
    # Zero padding / cropping (Pads), resizing factors (out / in per axis).
    pads: Optional[Pads] = None
    factor: Optional[tuple[Any, Any]] = None  # resizing by a factor (UpSampling2D) ...
    target_size: Optional[Pair] = None  # ... or to a fixed size (Resizing)
    interpolation: str = "nearest"
    keepdims: bool = False
    activation: Optional[str] = None  # a fused activation (Dense(..., activation="softmax")) or an Activation layer's
    axis: int = -1  # concatenation axis, channels-last
    # Normalization layers: trainable weight vectors per channel and statistics.
    norm_trainable_vectors: int = 0
    norm_statistic_vectors: int = 0
    # The framework's own figures (channels-last, no batch axis).
    reported_shape: Optional[Shape] = None
    reported_params: Optional[int] = None
    reported_trainable_params: Optional[int] = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def qualname(self) -> str:
        """The name with its enclosing models, e.g. ``vgg16/block1_conv1``."""
        return "/".join((*self.scope, self.name))


def pair(value: Any) -> Pair:
    """``3`` or ``(3,)`` or ``(3, 5)`` as a (height, width) pair of ints."""
    if isinstance(value, int):
        return value, value
    values = tuple(int(v) for v in value)
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])
