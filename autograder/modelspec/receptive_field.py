"""Receptive-field arithmetic along one spatial axis.

Every unit of a feature map looks at a window of the input image. Along one
axis that window is fully described by four numbers, carried from layer to
layer (Dumoulin & Visin 2016; Araujo, Norris & Sim, Distill 2019):

- ``size``: how many units the feature map has along the axis (``n``),
- ``rf``: how many input pixels one unit sees (``r``),
- ``jump``: the distance in input pixels between two neighbouring units (``j``),
- ``start``: the centre of the first unit's field, in input coordinates where
  input pixel ``i`` covers ``[i, i + 1)`` (so the input starts at 0.5).

A window layer (convolution or pooling) with kernel ``k``, stride ``s``,
dilation ``d`` and ``p`` pixels of padding before the data does::

    k_eff = d * (k - 1) + 1
    r_out = r_in + (k_eff - 1) * j_in
    j_out = j_in * s
    start_out = start_in + ((k_eff - 1) / 2 - p) * j_in

The effective padding (how far the first unit's field reaches past the left
edge of the input) is ``r / 2 - start``.

Layers that see the whole input (Flatten, Dense on a vector, global pooling)
get :func:`whole`: one unit whose field is the whole input, no jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Sequence, Union

from autograder.errors import AutograderError

Padding = Union[Literal["same", "valid"], tuple[int, int]]


class GeometryError(AutograderError, ValueError):
    """A layer's geometry cannot be computed (window larger than its input, ...)."""


class MisalignedPathsError(GeometryError):
    """The inputs of a merge layer sit on different grids (different jumps)."""


@dataclass(frozen=True)
class AxisField:
    """One spatial axis of a feature map, seen from the input image."""

    size: int | None
    rf: Fraction | None
    jump: Fraction | None
    start: Fraction | None
    whole: bool = False

    @property
    def padding(self) -> Fraction | None:
        """Effective padding: input pixels the first unit's field reaches before pixel 0."""
        if self.rf is None or self.start is None:
            return None
        return self.rf / 2 - self.start

    @property
    def is_whole(self) -> bool:
        return self.whole


def input_axis(size: int | None) -> AxisField:
    """The input image itself: each pixel sees itself."""
    return AxisField(size, Fraction(1), Fraction(1), Fraction(1, 2))


def whole(input_size: int | None) -> AxisField:
    """A unit that sees the whole input (Flatten, Dense, global pooling)."""
    return AxisField(1, None if input_size is None else Fraction(input_size), None, None, whole=True)


def unknown(size: int | None) -> AxisField:
    """A layer whose geometry the inspector does not know: only its size."""
    return AxisField(size, None, None, None)


def same_padding(size: int | None, kernel: int, stride: int) -> tuple[int, int] | None:
    """Keras/TensorFlow ``padding="same"``: extra pixel goes after the data."""
    if size is None:
        if stride != 1:
            return None
        total = kernel - 1
    else:
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def window(
    field: AxisField,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    padding: Padding = "valid",
    ceil_mode: bool = False,
    what: str = "layer",
) -> AxisField:
    """A convolution or pooling window sliding along the axis."""
    if field.is_whole:
        raise GeometryError(f"{what}: a window layer cannot follow a layer that sees the whole input")
    k = dilation * (kernel - 1) + 1
    if padding == "valid":
        pads: tuple[int, int] | None = (0, 0)
    elif padding == "same":
        pads = same_padding(field.size, k, stride)
    else:
        pads = (int(padding[0]), int(padding[1]))
    size = None
    if field.size is not None and pads is not None:
        span = field.size + pads[0] + pads[1] - k
        if span < 0:
            raise GeometryError(
                f"{what}: window of {k} pixels does not fit an input of {field.size}"
                f" (padded {field.size + pads[0] + pads[1]})"
            )
        if ceil_mode:
            size = -(-span // stride) + 1
            if (size - 1) * stride >= field.size + pads[0]:  # last window must start inside
                size -= 1
        else:
            size = span // stride + 1
    if field.jump is None:
        return unknown(size)
    rf = None if field.rf is None else field.rf + (k - 1) * field.jump
    start = None
    if field.start is not None and pads is not None:
        start = field.start + (Fraction(k - 1, 2) - pads[0]) * field.jump
    return AxisField(size, rf, field.jump * stride, start)


def pad(field: AxisField, before: int, after: int, what: str = "layer") -> AxisField:
    """Zero padding (positive) or cropping (negative) along the axis."""
    if field.is_whole:
        raise GeometryError(f"{what}: cannot pad a layer that sees the whole input")
    size = None if field.size is None else field.size + before + after
    if size is not None and size < 1:
        raise GeometryError(f"{what}: cropping leaves nothing of an input of {field.size}")
    if field.jump is None:
        return unknown(size)
    start = None if field.start is None else field.start - before * field.jump
    return AxisField(size, field.rf, field.jump, start)


def resize(field: AxisField, factor: Fraction, interpolation: str = "nearest", what: str = "layer") -> AxisField:
    """Up- or down-sampling by ``factor`` (output units per input unit).

    Nearest neighbour keeps the field of the unit it copies; any other
    interpolation mixes two neighbouring units, so the field grows by one jump
    and the centre is no longer tracked.
    """
    if field.is_whole:
        raise GeometryError(f"{what}: cannot resize a layer that sees the whole input")
    size = None if field.size is None else int(field.size * factor)
    if field.jump is None:
        return unknown(size)
    jump = field.jump / factor
    if interpolation == "nearest":
        return AxisField(size, field.rf, jump, field.start)
    rf = None if field.rf is None else field.rf + field.jump
    return AxisField(size, rf, jump, None)


def merge(fields: Sequence[AxisField], what: str = "merge", names: Sequence[str] = ()) -> AxisField:
    """Add/Concatenate: the union of the fields of every path.

    When every path's field has the same centre this is the largest field
    over the paths. Paths on different grids (different jumps) cannot be
    merged unit by unit, and are reported as misaligned.
    """
    if not fields:
        raise GeometryError(f"{what}: no inputs")
    if all(f.is_whole for f in fields):
        return fields[0]
    labels = list(names) or [f"input {i}" for i in range(len(fields))]
    if any(f.is_whole for f in fields):
        raise MisalignedPathsError(f"{what}: merges a layer that sees the whole input with a feature map")
    if any(f.jump is None for f in fields):
        return unknown(next((f.size for f in fields if f.size is not None), None))
    jumps = {f.jump for f in fields}
    if len(jumps) > 1:
        detail = ", ".join(f"{n}: jump {fmt(f.jump)}" for n, f in zip(labels, fields))
        raise MisalignedPathsError(
            f"{what}: its inputs sit on different grids ({detail}); the paths are misaligned"
        )
    sizes = {f.size for f in fields if f.size is not None}
    if len(sizes) > 1:
        detail = ", ".join(f"{n}: {f.size}" for n, f in zip(labels, fields))
        raise MisalignedPathsError(f"{what}: its inputs have different sizes ({detail})")
    size = sizes.pop() if sizes else None
    jump = jumps.pop()
    if any(f.rf is None for f in fields):
        return AxisField(size, None, jump, None)
    if any(f.start is None for f in fields):
        return AxisField(size, max(f.rf for f in fields), jump, None)
    left = min(f.start - f.rf / 2 for f in fields)
    right = max(f.start + f.rf / 2 for f in fields)
    return AxisField(size, right - left, jump, (left + right) / 2)


def plain(x: Fraction) -> int | float:
    """A whole figure as an int, any other as a float (for messages and JSON)."""
    return int(x) if x.denominator == 1 else float(x)


def plain_pair(pair: tuple[Fraction, Fraction] | None) -> tuple[int | float, ...] | None:
    """A (height, width) figure as one value when square: (6,), else (6, 4)."""
    if pair is None:
        return None
    a, b = plain(pair[0]), plain(pair[1])
    return (a,) if a == b else (a, b)


def fmt(x: Fraction | None) -> str:
    """A figure as people read it: "-" when unknown, "6", "2.5"."""
    return "-" if x is None else f"{plain(x):g}"
