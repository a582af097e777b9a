"""Read a PyTorch ``nn.Module`` into framework-neutral layers.

The module is traced with ``torch.fx`` (so ``x + y``, ``torch.cat`` and
``torch.flatten`` in ``forward`` are seen as layers too) and run once on a
zero tensor of ``input_shape`` (channels first, no batch axis) to record the
framework's own shapes. Shapes are then reported channels-last.
"""

from __future__ import annotations

import contextlib
import io

import operator
from typing import Any, Optional, Sequence

from autograder.modelspec import layer as K
from autograder.modelspec.describe import DescriptionError
from autograder.modelspec.layer import Layer, pair as _pair

_MODULE_KINDS = {
    "Conv2d": K.CONV,
    "MaxPool2d": K.POOL,
    "AvgPool2d": K.POOL,
    "AdaptiveAvgPool2d": K.GLOBAL_POOL,
    "AdaptiveMaxPool2d": K.GLOBAL_POOL,
    "Linear": K.DENSE,
    "Flatten": K.FLATTEN,
    "ZeroPad2d": K.ZERO_PADDING,
    "Upsample": K.RESIZE,
    "UpsamplingNearest2d": K.RESIZE,
    "BatchNorm2d": K.BATCHNORM,
    "BatchNorm1d": K.BATCHNORM,
    "GroupNorm": K.NORM,
    "Dropout": K.DROPOUT,
    "Dropout2d": K.DROPOUT,
    "Identity": K.ACTIVATION,
}
_ACTIVATIONS = {
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Hardswish",
}
_FUNCTION_KINDS = {
    "add": K.ADD,
    "iadd": K.ADD,
    "sub": K.MERGE,
    "mul": K.MERGE,
    "cat": K.CONCAT,
    "concat": K.CONCAT,
    "flatten": K.FLATTEN,
    "view": K.RESHAPE,
    "reshape": K.RESHAPE,
    "relu": K.ACTIVATION,
    "relu_": K.ACTIVATION,
    "relu6": K.ACTIVATION,
    "gelu": K.ACTIVATION,
    "silu": K.ACTIVATION,
    "sigmoid": K.ACTIVATION,
    "tanh": K.ACTIVATION,
    "softmax": K.ACTIVATION,
    "log_softmax": K.ACTIVATION,
    "leaky_relu": K.ACTIVATION,
    "dropout": K.DROPOUT,
    "max_pool2d": K.POOL,
    "avg_pool2d": K.POOL,
}


def torch_layers(module: Any, input_shape: Sequence[int]) -> list[Layer]:
    """Every layer of ``module`` in execution order; ``input_shape`` is (C, H, W)."""
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        traced = torch.fx.symbolic_trace(module)
    except Exception as exc:  # tracing fails on data-dependent control flow
        raise DescriptionError(f"cannot trace {type(module).__name__} with torch.fx: {exc}") from exc
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints its own traceback
            ShapeProp(traced).propagate(torch.zeros(1, *input_shape))
    except Exception as exc:
        cause = exc.__cause__ or exc  # ShapeProp wraps the module's own error
        raise DescriptionError(f"{type(module).__name__} fails on an input of shape {tuple(input_shape)}: "
                               f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}") from exc
    finally:
        module.train(was_training)

    layers: list[Layer] = []
    names: dict[Any, str] = {}
    for node in traced.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.op == "output" or meta is None or not hasattr(meta, "shape"):
            continue  # the output marker, and values that are not tensors (x.size(0))
        args: list[Any] = []  # in order and with repeats (torch.cat([y, y]) has two inputs)
        torch.fx.node.map_arg((node.args, node.kwargs), args.append)
        inbound = tuple(names[n] for n in args if n in names)
        if node.op == "placeholder":
            layer = Layer(
                name=node.name, kind=K.INPUT, class_name="Input", reported_shape=_channels_last(meta.shape),
                reported_params=0, reported_trainable_params=0,
            )
        elif node.op == "call_module":
            layer = _module_layer(traced.get_submodule(node.target), str(node.target), node, inbound, meta)
        elif node.op in ("call_function", "call_method"):
            layer = _function_layer(node, inbound, meta)
        else:  # get_attr: a constant tensor
            continue
        names[node] = layer.name
        layers.append(layer)
    return layers


def _channels_last(shape: Any) -> tuple[Optional[int], ...]:
    dims = tuple(int(d) for d in shape)[1:]
    return (*dims[1:], dims[0]) if len(dims) == 3 else dims


def _module_layer(mod: Any, name: str, node: Any, inbound: tuple[str, ...], meta: Any) -> Layer:
    cls = type(mod).__name__
    kind = K.ACTIVATION if cls in _ACTIVATIONS else _MODULE_KINDS.get(cls, K.OTHER)
    params = list(mod.parameters(recurse=False))
    stats = [b for b_name, b in mod.named_buffers(recurse=False) if b_name in ("running_mean", "running_var")]
    config: dict[str, Any] = {}
    if cls == "Conv2d":
        cin, groups = mod.in_channels, mod.groups
        if groups > 1 and groups == cin:
            kind = K.DEPTHWISE_CONV
            config["depth_multiplier"] = mod.out_channels // cin
        else:
            config["filters"] = mod.out_channels
            config["groups"] = groups
        config.update(
            kernel=_pair(mod.kernel_size),
            stride=_pair(mod.stride),
            dilation=_pair(mod.dilation),
            padding=_padding(mod.padding, name),
            use_bias=mod.bias is not None,
        )
        if mod.padding_mode != "zeros":
            raise DescriptionError(f"{name} (Conv2d): padding_mode={mod.padding_mode!r} is not supported")
    elif cls in ("MaxPool2d", "AvgPool2d"):
        config.update(
            kernel=_pair(mod.kernel_size),
            stride=_pair(mod.stride or mod.kernel_size),
            dilation=_pair(getattr(mod, "dilation", 1)),
            padding=_padding(mod.padding, name),
            ceil_mode=bool(mod.ceil_mode),
            pool="max" if cls == "MaxPool2d" else "avg",
        )
    elif kind == K.GLOBAL_POOL:
        if _pair(mod.output_size) != (1, 1):
            kind = K.OTHER
        config.update(keepdims=True, pool="max" if "Max" in cls else "avg")
    elif cls == "Linear":
        config.update(filters=mod.out_features, use_bias=mod.bias is not None)
    elif cls == "ZeroPad2d":
        left, right, top, bottom = mod.padding
        config["pads"] = ((top, bottom), (left, right))
    elif kind == K.RESIZE:
        if mod.scale_factor is None:
            kind = K.OTHER
        else:
            config.update(factor=_pair_any(mod.scale_factor), interpolation=getattr(mod, "mode", "nearest"))
    elif kind in (K.BATCHNORM, K.NORM):
        config["norm_trainable_vectors"] = 2 if getattr(mod, "affine", True) else 0
        config["norm_statistic_vectors"] = 2 if stats else 0
    return Layer(
        name=name,
        kind=kind,
        class_name=f"nn.{cls}",
        inbound=inbound,
        trainable=all(p.requires_grad for p in params),
        reported_shape=_channels_last(meta.shape),
        reported_params=sum(p.numel() for p in params) + sum(b.numel() for b in stats),
        reported_trainable_params=sum(p.numel() for p in params if p.requires_grad),
        **config,
    )


def _function_layer(node: Any, inbound: tuple[str, ...], meta: Any) -> Layer:
    target = node.target
    fname = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    kind = _FUNCTION_KINDS.get(fname, K.OTHER)
    if target in (operator.add, operator.iadd) and len(inbound) < 2:
        kind = K.ACTIVATION  # adding a constant changes no geometry
    config: dict[str, Any] = {}
    if kind == K.CONCAT:
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        rank = len(meta.shape)
        dim = dim % rank
        config["axis"] = -1 if (rank == 4 and dim == 1) else dim - 1
    elif kind == K.POOL:
        args = list(node.args[1:])
        kwargs = dict(node.kwargs)
        kernel = kwargs.get("kernel_size", args[0] if args else None)
        stride = kwargs.get("stride", args[1] if len(args) > 1 else None) or kernel
        padding = kwargs.get("padding", args[2] if len(args) > 2 else 0)
        config.update(
            kernel=_pair(kernel),
            stride=_pair(stride),
            padding=_padding(padding, node.name),
            pool="max" if fname.startswith("max") else "avg",
            ceil_mode=bool(kwargs.get("ceil_mode", False)),
        )
    elif kind == K.RESHAPE and len(meta.shape) == 2:
        kind = K.FLATTEN
    return Layer(
        name=node.name,
        kind=kind,
        class_name=f"{'torch' if node.op == 'call_function' else 'Tensor'}.{fname}",
        inbound=inbound,
        reported_shape=_channels_last(meta.shape),
        reported_params=0,
        reported_trainable_params=0,
        **config,
    )


def _pair_any(value: Any) -> tuple[Any, Any]:
    if isinstance(value, (int, float)):
        return value, value
    values = tuple(value)
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _padding(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value
    rows, cols = _pair(value)
    return (rows, rows), (cols, cols)
