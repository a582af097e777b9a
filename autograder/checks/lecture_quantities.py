"""More quantities for the "why" questions of :mod:`autograder.checks.why_numbers`, from the lectures on
receptive fields, Inception's bottleneck and initialisation. Each is computed from the sizes the rubric
gives, so neither the notebook nor the rubric holds an answer."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from autograder.checks.why_numbers import QUANTITIES, _area


def _side(layer: Mapping[str, Any], key: str) -> int:
    value = layer.get(key, 1)
    return int(value[0] if isinstance(value, (list, tuple)) else value)


def receptive_field(layers: Sequence[Mapping[str, Any]]) -> int:
    """Input pixels along one side seen by one output of a stack of convolutions and poolings (each a
    ``kernel``, a ``stride`` and a ``dilation``): r grows by (k - 1) times the product of the strides before it."""
    field, jump = 1, 1
    for layer in layers:
        kernel = _side(layer, "dilation") * (_side(layer, "kernel") - 1) + 1
        field, jump = field + (kernel - 1) * jump, jump * _side(layer, "stride")
    return field


def stack_multiplications(size: Any, channels: int, layers: Sequence[Mapping[str, Any]]) -> int:
    """Multiplications of a chain of stride-1 'same' convolutions on a map of ``size`` with ``channels``
    (each layer a ``kernel`` and ``filters``): k·k·c_in products for each of the h·w·f outputs, summed."""
    total = 0
    for layer in layers:
        kernel, filters = _side(layer, "kernel"), int(layer["filters"])
        total += _area(size) * kernel * kernel * channels * filters
        channels = filters
    return total


def variance_gain(kernel: int, channels: int, std: float, relu: bool = True) -> float:
    """The factor by which one k×k convolution with weights of standard deviation ``std`` on ``channels``
    multiplies its input's variance: the fan-in k·k·c times std², halved by a ReLU (it zeroes half its inputs)."""
    return kernel * kernel * channels * std ** 2 * (0.5 if relu else 1.0)


def he_std(kernel: int, channels: int) -> float:
    """The standard deviation of He initialisation for a k×k convolution on ``channels``: sqrt(2 / fan-in)."""
    return math.sqrt(2 / (kernel * kernel * channels))


for _quantity in (receptive_field, stack_multiplications, variance_gain, he_std):
    if _quantity.__name__ in QUANTITIES:
        raise ValueError(f"quantity {_quantity.__name__!r} defined twice")
    QUANTITIES[_quantity.__name__] = _quantity
