"""Compute every layer's output shape, parameters and receptive field.

:func:`describe_layers` takes the layers an adapter read (in topological
order) and works out, from their configuration alone, what each one outputs,
how many weights it holds and what part of the input image it sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Iterator, Optional, Sequence

from autograder.modelspec import receptive_field as rfa
from autograder.errors import AutograderError
from autograder.modelspec import layer as K
from autograder.modelspec.layer import Layer, Shape

Fields = Optional[tuple[rfa.AxisField, rfa.AxisField]]  # (height, width); None off the image


class DescriptionError(AutograderError, ValueError):
    """The model cannot be described (an unknown inbound layer, a shape clash, ...)."""


@dataclass(frozen=True)
class LayerInfo:
    """A layer with the facts computed from its configuration."""

    layer: Layer
    output_shape: Shape
    trainable_params: int
    non_trainable_params: int
    fields: Fields
    params_source: str  # "computed", or "framework" for kinds the inspector cannot count

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def qualname(self) -> str:
        return self.layer.qualname

    @property
    def kind(self) -> str:
        return self.layer.kind

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    @property
    def rf(self) -> Optional[tuple[Fraction, Fraction]]:
        return self._pair("rf")

    @property
    def jump(self) -> Optional[tuple[Fraction, Fraction]]:
        return self._pair("jump")

    @property
    def padding(self) -> Optional[tuple[Fraction, Fraction]]:
        return self._pair("padding")

    def _pair(self, attr: str) -> Optional[tuple[Fraction, Fraction]]:
        if self.fields is None:
            return None
        values = tuple(getattr(f, attr) for f in self.fields)
        return None if any(v is None for v in values) else values  # type: ignore[return-value]

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict: square figures as one number, others as ``[h, w]``."""
        return {
            "name": self.qualname,
            "kind": self.kind,
            "class_name": self.layer.class_name,
            "inbound": list(self.layer.inbound),
            "output_shape": list(self.output_shape),
            "params": self.params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "trainable": self.layer.trainable,
            "rf": _json_pair(self.rf),
            "jump": _json_pair(self.jump),
            "padding": _json_pair(self.padding),
            "params_source": self.params_source,
        }


@dataclass(frozen=True)
class ModelDescription:
    """Every layer of a model, in topological order, with computed facts."""

    framework: str
    layers: tuple[LayerInfo, ...]

    @property
    def params(self) -> int:
        return sum(info.params for info in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(info.trainable_params for info in self.layers)

    @property
    def non_trainable_params(self) -> int:
        return sum(info.non_trainable_params for info in self.layers)

    @property
    def input_shape(self) -> Shape:
        return next(info.output_shape for info in self.layers if info.kind == K.INPUT)

    def __iter__(self) -> Iterator[LayerInfo]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, name: str) -> LayerInfo:
        """Look a layer up by qualified name, or by plain name when that is unique."""
        for info in self.layers:
            if info.qualname == name:
                return info
        matches = [info for info in self.layers if info.name == name]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(name if not matches else f"{name} is ambiguous: {[m.qualname for m in matches]}")

    def of_kind(self, *kinds: str) -> list[LayerInfo]:
        return [info for info in self.layers if info.kind in kinds]

    def to_records(self) -> list[dict[str, Any]]:
        return [info.to_record() for info in self.layers]


def describe_layers(layers: Iterable[Layer], framework: str) -> ModelDescription:
    """Compute the facts of every layer; ``layers`` must be topologically ordered."""
    done: dict[str, LayerInfo] = {}
    image: Optional[tuple[Optional[int], Optional[int]]] = None
    for layer in layers:
        try:
            inputs = [done[name] for name in layer.inbound]
        except KeyError as missing:
            raise DescriptionError(f"{layer.qualname}: inbound layer {missing} comes later or does not exist") from None
        if layer.kind == K.INPUT:
            shape = layer.reported_shape or ()
            fields = _image_fields(shape)
            if fields is not None and image is None:
                image = (shape[0], shape[1])
            info = LayerInfo(layer, shape, 0, 0, fields, "computed")
        else:
            if not inputs:
                raise DescriptionError(f"{layer.qualname}: has no inbound layer")
            shape, fields = _output(layer, inputs, image)
            info = _with_params(layer, inputs[0].output_shape, shape, fields)
        done[layer.qualname] = info
    return ModelDescription(framework, tuple(done.values()))


def _image_fields(shape: Shape) -> Fields:
    if len(shape) != 3:
        return None
    return rfa.input_axis(shape[0]), rfa.input_axis(shape[1])


def _whole(image: Optional[tuple[Optional[int], Optional[int]]]) -> Fields:
    if image is None:
        return None
    return rfa.whole(image[0]), rfa.whole(image[1])


def _output(layer: Layer, inputs: Sequence[LayerInfo], image: Any) -> tuple[Shape, Fields]:
    """Output shape and fields of a non-input layer."""
    first = inputs[0]
    shape, fields = first.output_shape, first.fields
    what = f"{layer.qualname} ({layer.class_name})"
    kind = layer.kind
    channels = shape[-1] if shape else None

    if kind in K.WINDOW_KINDS or kind in (K.ZERO_PADDING, K.CROPPING, K.RESIZE):
        _need_image(layer, fields)
        assert fields is not None
        return _spatial(layer, fields, channels, what)

    if kind == K.GLOBAL_POOL:
        _need_image(layer, fields)
        return ((1, 1, channels) if layer.keepdims else (channels,)), _whole(image)

    if kind == K.FLATTEN:
        total = math.prod(shape) if all(d is not None for d in shape) else None  # type: ignore[arg-type]
        return (total,), _whole(image) if fields is not None else None

    if kind == K.DENSE:
        # Keras's Dense acts on the last axis: on a feature map it is a 1x1 layer.
        out = (*shape[:-1], layer.filters)
        return out, fields if len(shape) == 3 else (_whole(image) if fields is not None else None)

    if kind in K.MERGE_KINDS:
        return _merge(layer, inputs, what)

    if kind in K.POINTWISE_KINDS:
        return shape, fields

    return _reported(layer, shape, fields, image, what)


def _spatial(layer: Layer, fields: Fields, channels: Optional[int], what: str) -> tuple[Shape, Fields]:
    """Output shape and fields of a layer that moves over the image: windows, padding, cropping, resizing."""
    kind = layer.kind
    if kind in K.WINDOW_KINDS:
        assert layer.kernel is not None
        pads = layer.padding if isinstance(layer.padding, str) else None
        new = tuple(
            rfa.window(
                f,
                layer.kernel[a],
                layer.stride[a],
                layer.dilation[a],
                pads or layer.padding[a],  # type: ignore[index]
                layer.ceil_mode,
                what,
            )
            for a, f in enumerate(fields)
        )
        out_channels = {
            K.CONV: layer.filters,
            K.SEPARABLE_CONV: layer.filters,
            K.DEPTHWISE_CONV: None if channels is None else channels * layer.depth_multiplier,
            K.POOL: channels,
        }[kind]
        return (new[0].size, new[1].size, out_channels), new  # type: ignore[return-value]

    if kind in (K.ZERO_PADDING, K.CROPPING):
        assert layer.pads is not None
        sign = 1 if kind == K.ZERO_PADDING else -1
        new = tuple(rfa.pad(f, sign * layer.pads[a][0], sign * layer.pads[a][1], what) for a, f in enumerate(fields))
        return (new[0].size, new[1].size, channels), new  # type: ignore[return-value]

    new = tuple(rfa.resize(f, _resize_factor(layer, a, f.size, what), layer.interpolation, what)  # K.RESIZE
                for a, f in enumerate(fields))
    return (new[0].size, new[1].size, channels), new  # type: ignore[return-value]


def _reported(layer: Layer, shape: Shape, fields: Fields, image: Any, what: str) -> tuple[Shape, Fields]:
    """Reshape and layers the inspector does not know: the framework's shape, the fields where they follow."""
    reported = layer.reported_shape
    if reported is None:
        raise DescriptionError(f"{what}: unknown layer kind and no output shape reported by the framework")
    if fields is None:
        return reported, None
    if len(reported) != 3:
        return reported, _whole(image)
    if tuple(reported[:2]) == tuple(shape[:2]):
        return reported, fields
    return reported, (rfa.unknown(reported[0]), rfa.unknown(reported[1]))


def _resize_factor(layer: Layer, axis: int, size: Optional[int], what: str) -> Fraction:
    if layer.factor is not None:
        return Fraction(layer.factor[axis])
    if layer.target_size is None:
        raise DescriptionError(f"{what}: resizing layer with neither a factor nor a target size")
    if size is None:
        raise DescriptionError(f"{what}: resizing to a fixed size needs a known input size")
    return Fraction(layer.target_size[axis], size)


def _need_image(layer: Layer, fields: Fields) -> None:
    if fields is None:
        raise DescriptionError(f"{layer.qualname} ({layer.class_name}) needs an image-shaped input (height, width, channels)")


def _merge(layer: Layer, inputs: Sequence[LayerInfo], what: str) -> tuple[Shape, Fields]:
    shapes = [i.output_shape for i in inputs]
    names = [i.qualname for i in inputs]
    if layer.kind != K.CONCAT:
        out = _agree(shapes, range(len(shapes[0])), names, what)
    else:
        axis = layer.axis % len(shapes[0])
        others = [a for a in range(len(shapes[0])) if a != axis]
        out = list(_agree(shapes, others, names, what))
        widths = [s[axis] for s in shapes]
        out.insert(axis, None if None in widths else sum(widths))  # type: ignore[arg-type]
        out = tuple(out)
        if inputs[0].fields is not None and axis != 2:
            raise DescriptionError(f"{what}: concatenation along a spatial axis is not supported")
    if any(i.fields is None for i in inputs):
        return out, None
    fields = tuple(
        rfa.merge([i.fields[a] for i in inputs], what, names)  # type: ignore[index]
        for a in range(2)
    )
    return out, fields  # type: ignore[return-value]


def _agree(shapes: Sequence[Shape], axes: Iterable[int], names: Sequence[str], what: str) -> Shape:
    if len({len(s) for s in shapes}) > 1:
        raise DescriptionError(f"{what}: inputs of different ranks: {dict(zip(names, shapes))}")
    out: list[Optional[int]] = []
    for a in axes:
        known = {s[a] for s in shapes if s[a] is not None}
        if len(known) > 1:
            raise DescriptionError(f"{what}: input shapes do not match: {dict(zip(names, shapes))}")
        out.append(known.pop() if known else None)
    return tuple(out)


def _with_params(layer: Layer, in_shape: Shape, out_shape: Shape, fields: Fields) -> LayerInfo:
    counted = _count_weights(layer, in_shape)
    if counted is None:
        trainable = layer.reported_trainable_params or 0
        total = layer.reported_params or 0
        return LayerInfo(layer, out_shape, trainable, total - trainable, fields, "framework")
    trainable, statistics = counted
    if not layer.trainable:
        trainable, statistics = 0, trainable + statistics
    return LayerInfo(layer, out_shape, trainable, statistics, fields, "computed")


_WEIGHTLESS = frozenset(
    {K.POOL, K.GLOBAL_POOL, K.FLATTEN, K.RESHAPE, K.ZERO_PADDING, K.CROPPING, K.RESIZE, K.ADD, K.MERGE, K.CONCAT, K.DROPOUT, K.ACTIVATION, K.PREPROCESSING}
)


def _count_weights(layer: Layer, in_shape: Shape) -> Optional[tuple[int, int]]:
    """(trainable-if-unfrozen, never-trainable) weights, or None when unknown."""
    kind = layer.kind
    if kind in _WEIGHTLESS:
        return 0, 0
    cin = in_shape[-1] if in_shape else None
    if cin is None:
        return None
    bias = 1 if layer.use_bias else 0
    if kind in (K.CONV, K.DEPTHWISE_CONV, K.SEPARABLE_CONV):
        kh, kw = layer.kernel  # type: ignore[misc]
        if kind == K.CONV:
            return kh * kw * (cin // layer.groups) * layer.filters + bias * layer.filters, 0  # type: ignore[operator]
        depthwise = kh * kw * cin * layer.depth_multiplier
        if kind == K.DEPTHWISE_CONV:
            return depthwise + bias * cin * layer.depth_multiplier, 0
        pointwise = cin * layer.depth_multiplier * layer.filters  # type: ignore[operator]
        return depthwise + pointwise + bias * layer.filters, 0  # type: ignore[operator]
    if kind == K.DENSE:
        return cin * layer.filters + bias * layer.filters, 0  # type: ignore[operator]
    if kind in (K.BATCHNORM, K.NORM):
        return cin * layer.norm_trainable_vectors, cin * layer.norm_statistic_vectors
    return None


def _json_pair(pair: Optional[tuple[Fraction, Fraction]]) -> Any:
    values = rfa.plain_pair(pair)
    return None if values is None else values[0] if len(values) == 1 else list(values)
