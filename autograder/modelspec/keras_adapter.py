"""Read a Keras 3 model (any backend) into framework-neutral layers.

Sequential, functional and nested models (a VGG16 base inside a Sequential)
are walked node by node; a nested model's layers keep their own names and
carry the nested model's name in ``scope``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from autograder.modelspec import layer as K
from autograder.modelspec.describe import DescriptionError
from autograder.modelspec.layer import Layer, pair as _pair

KERAS_KINDS = {
    "InputLayer": K.INPUT,
    "Conv2D": K.CONV,
    "DepthwiseConv2D": K.DEPTHWISE_CONV,
    "SeparableConv2D": K.SEPARABLE_CONV,
    "MaxPooling2D": K.POOL,
    "AveragePooling2D": K.POOL,
    "GlobalMaxPooling2D": K.GLOBAL_POOL,
    "GlobalAveragePooling2D": K.GLOBAL_POOL,
    "Dense": K.DENSE,
    "Flatten": K.FLATTEN,
    "Reshape": K.RESHAPE,
    "ZeroPadding2D": K.ZERO_PADDING,
    "Cropping2D": K.CROPPING,
    "UpSampling2D": K.RESIZE,
    "Resizing": K.RESIZE,
    "Add": K.ADD,
    "Subtract": K.MERGE,
    "Multiply": K.MERGE,
    "Average": K.MERGE,
    "Maximum": K.MERGE,
    "Minimum": K.MERGE,
    "Concatenate": K.CONCAT,
    "BatchNormalization": K.BATCHNORM,
    "LayerNormalization": K.NORM,
    "GroupNormalization": K.NORM,
    "Dropout": K.DROPOUT,
    "SpatialDropout2D": K.DROPOUT,
    "GaussianDropout": K.DROPOUT,
    "GaussianNoise": K.DROPOUT,
    "AlphaDropout": K.DROPOUT,
    "Activation": K.ACTIVATION,
    "ReLU": K.ACTIVATION,
    "LeakyReLU": K.ACTIVATION,
    "ELU": K.ACTIVATION,
    "Softmax": K.ACTIVATION,
    "Rescaling": K.PREPROCESSING,
    "RandomFlip": K.PREPROCESSING,
    "RandomRotation": K.PREPROCESSING,
    "RandomTranslation": K.PREPROCESSING,
    "RandomZoom": K.PREPROCESSING,
    "RandomContrast": K.PREPROCESSING,
    "RandomBrightness": K.PREPROCESSING,
    "RandomShear": K.PREPROCESSING,
}
# Other names Keras 3 exports for the same classes; a saved model records the canonical name.
KERAS_ALIASES = {
    "Convolution2D": "Conv2D",
    "SeparableConvolution2D": "SeparableConv2D",
    "MaxPool2D": "MaxPooling2D",
    "AvgPool2D": "AveragePooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
}
KERAS_KINDS.update({alias: KERAS_KINDS[canonical] for alias, canonical in KERAS_ALIASES.items()})


def keras_layers(model: Any, input_shape: Optional[Sequence[int]] = None) -> list[Layer]:
    """Every layer of ``model`` in topological order, nested models flattened."""
    graph = _graph_of(model, input_shape)
    layers: list[Layer] = []
    _walk(graph, (), True, {}, layers)
    return layers


def _graph_of(model: Any, input_shape: Optional[Sequence[int]] = None) -> Any:
    """The functional graph behind a model (a Sequential keeps one once built)."""
    import keras

    if isinstance(model, keras.Sequential):
        if getattr(model, "_functional", None) is None and input_shape is not None:
            model.build((None, *input_shape))
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise DescriptionError(
                f"Sequential model {model.name!r} has no input shape: start it with "
                "keras.Input(shape=...) or pass an input shape"
            )
        return graph
    if not hasattr(model, "_nodes_by_depth"):
        raise DescriptionError(f"{type(model).__name__} is not a Keras functional or Sequential model")
    return model


def _walk(graph: Any, scope: tuple[str, ...], trainable: bool, seeded: dict, out: list[Layer]) -> dict:
    """Append the layers of ``graph``; return a map from its output tensors to layer names.

    ``seeded`` maps (id(operation), node index, tensor index) of the graph's
    own inputs to the names that feed them from the enclosing model.
    """
    import keras

    produced: dict[tuple[int, int, int], str] = dict(seeded)
    order = {id(op): i for i, op in enumerate(graph.operations)}
    nodes = [
        node
        for depth in sorted(graph._nodes_by_depth, reverse=True)
        for node in sorted(graph._nodes_by_depth[depth], key=lambda n: order.get(id(n.operation), 0))
    ]
    seen: dict[int, int] = {}
    for node in nodes:
        op = node.operation
        index = op._inbound_nodes.index(node)
        inbound = tuple(produced[_history(t)] for t in node.input_tensors)
        if _kind(op) == K.INPUT and (id(op), index, 0) in produced:
            continue  # a nested model's input: fed by the enclosing model
        if isinstance(op, keras.Model):
            inner = _graph_of(op)
            inner_seeds = {_history(t): name for t, name in zip(inner.inputs, inbound)}
            names = _walk(inner, (*scope, op.name), trainable and op.trainable, inner_seeds, out)
            for t_index, t in enumerate(inner.outputs):
                produced[(id(op), index, t_index)] = names[_history(t)]
            continue
        count = seen.get(id(op), 0)
        seen[id(op)] = count + 1
        name = op.name if count == 0 else f"{op.name}@{count}"
        layer = _layer(op, node, name, inbound, scope, trainable)
        out.append(layer)
        for t_index in range(len(node.output_tensors)):
            produced[(id(op), index, t_index)] = layer.qualname
    return {_history(t): produced[_history(t)] for t in graph.outputs}


def _history(tensor: Any) -> tuple[int, int, int]:
    op, node_index, tensor_index = tensor._keras_history
    return id(op), node_index, tensor_index


def _kind(op: Any) -> str:
    return KERAS_KINDS.get(type(op).__name__, K.OTHER)


def _layer(op: Any, node: Any, name: str, inbound: tuple[str, ...], scope: tuple[str, ...], trainable: bool) -> Layer:
    kind = _kind(op)
    cls = type(op).__name__
    if getattr(op, "data_format", "channels_last") == "channels_first":
        raise DescriptionError(f"{name} ({cls}): data_format='channels_first' is not supported; use channels_last")
    config = _kind_config(op, kind, name, cls)
    if kind == K.DROPOUT and hasattr(op, "rate"):
        config["extra"] = {"rate": float(op.rate)}
    activation = getattr(getattr(op, "activation", None), "__name__", None)
    if activation is not None:
        config["activation"] = activation
    reported_trainable = None
    if hasattr(op, "trainable_weights"):
        reported_trainable = sum(int(_size(w.shape)) for w in op.trainable_weights)
    return Layer(
        name=name,
        kind=kind,
        class_name=cls,
        inbound=inbound,
        scope=scope,
        trainable=trainable and bool(getattr(op, "trainable", True)),
        reported_shape=_shape(node.output_tensors[0].shape) if node.output_tensors else None,
        reported_params=int(op.count_params()) if hasattr(op, "count_params") else None,
        reported_trainable_params=reported_trainable,
        **config,
    )


def _kind_config(op: Any, kind: str, name: str, cls: str) -> dict[str, Any]:
    """The fields of :class:`Layer` that this kind of layer has (window, padding, units, axis...)."""
    config: dict[str, Any] = {}
    if kind in K.WINDOW_KINDS:
        if kind == K.POOL:
            config["kernel"] = _pair(op.pool_size)
            config["stride"] = _pair(op.strides or op.pool_size)
            config["pool"] = "max" if "Max" in cls else "avg"
        else:
            config["kernel"] = _pair(op.kernel_size)
            config["stride"] = _pair(op.strides)
            config["dilation"] = _pair(op.dilation_rate)
            config["use_bias"] = bool(op.use_bias)
            config["groups"] = int(getattr(op, "groups", 1))
            config["depth_multiplier"] = int(getattr(op, "depth_multiplier", 1))
            config["filters"] = getattr(op, "filters", None)
        padding = op.padding.lower()
        if padding not in ("same", "valid"):
            raise DescriptionError(f"{name} ({cls}): padding={padding!r} is not supported")
        config["padding"] = padding
    elif kind == K.GLOBAL_POOL:
        config["keepdims"] = bool(op.keepdims)
        config["pool"] = "max" if "Max" in cls else "avg"
    elif kind == K.DENSE:
        config["filters"] = int(op.units)
        config["use_bias"] = bool(op.use_bias)
    elif kind == K.ZERO_PADDING:
        config["pads"] = _pads(op.padding)
    elif kind == K.CROPPING:
        config["pads"] = _pads(op.cropping)
    elif kind == K.RESIZE:
        config["interpolation"] = op.interpolation
        if cls == "UpSampling2D":
            config["factor"] = _pair(op.size)
        else:
            config["target_size"] = (int(op.height), int(op.width))
    elif kind == K.CONCAT:
        config["axis"] = int(op.axis)
    elif kind in (K.BATCHNORM, K.NORM):
        axis = getattr(op, "axis", -1)
        if axis not in (-1, 3, [-1], [3], (-1,), (3,)):
            raise DescriptionError(f"{name} ({cls}): normalization over axis {axis} is not supported")
        config["norm_trainable_vectors"] = int(bool(getattr(op, "center", True))) + int(bool(getattr(op, "scale", True)))
        config["norm_statistic_vectors"] = 2 if kind == K.BATCHNORM else 0
    return config


def _pads(value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(value, int):
        return (value, value), (value, value)
    rows, cols = value
    return _pair(rows), _pair(cols)


def _shape(shape: Any) -> tuple[Optional[int], ...]:
    return tuple(None if d is None else int(d) for d in tuple(shape)[1:])


def _size(shape: Any) -> int:
    total = 1
    for d in shape:
        total *= int(d)
    return total
