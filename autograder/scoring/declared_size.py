"""Declared size: how many variables a saved Keras model's ``config.json`` asks for, from the config alone.

A 30 KB ``.keras`` whose config declares ``Dense(3_000_000)`` makes Keras
allocate gigabytes while it loads. :func:`declared_parameters` walks the
config (Sequential, Functional, nested models) and computes every layer's
input shape and variables the way Keras would build them, without importing
Keras or building anything, so the grader can refuse a model above its
``model_parameters`` cap before loading it.

Keras builds a layer from its ``build_config`` input shape when it is
deserialized, and otherwise from the shape flowing into it; both are counted
and the larger wins. A layer class this module does not know is refused:
it could create variables of any size.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Optional, Sequence

from autograder.errors import ArtifactError

Shape = tuple[Optional[int], ...]  # batch dimension first, as Keras writes shapes

MODELS = {"Sequential", "Functional", "Model"}
SAME_SHAPE = {  # layers whose output has the input's shape and that hold no variables
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "ThresholdedReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Rescaling",
    "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast", "RandomBrightness",
    "RandomShear", "RandomGrayscale", "RandomHue", "RandomSaturation", "RandomSharpness", "RandomPosterization",
    "RandomInvert", "RandomErasing", "RandomGaussianBlur", "RandomColorJitter", "RandomColorDegeneration",
    "RandomElasticTransform", "Solarization", "AutoContrast", "Equalization", "ActivityRegularization",
    "Masking", "Identity", "UnitNormalization",
}
MERGE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}


class DeclaredSizeError(ArtifactError):
    """The config cannot be sized, or declares more variables than allowed."""


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DeclaredSizeError(f"{what} is {value!r}, not a non-negative whole number")
    return value


def _ints(value: Any, rank: int, what: str) -> tuple[int, ...]:
    values = value if isinstance(value, (list, tuple)) else [value] * rank
    if len(values) != rank:
        raise DeclaredSizeError(f"{what} is {value!r}, not {rank} numbers")
    return tuple(_int(v, what) for v in values)


def _shape(value: Any, what: str) -> Shape:
    if not isinstance(value, (list, tuple)) or not value:
        raise DeclaredSizeError(f"{what} is {value!r}, not a shape")
    return tuple(None if v is None else _int(v, what) for v in value)


def _known(dim: Optional[int], layer: str) -> int:
    if dim is None:
        raise DeclaredSizeError(f"layer {layer!r} has variables over an input dimension the config leaves open")
    return dim


def _spatial(shape: Shape, rank: int, config: dict[str, Any]) -> tuple[list[Optional[int]], Optional[int], bool]:
    """(spatial sizes, channels, channels_first) of an image-like input of ``rank`` spatial dimensions."""
    if len(shape) != rank + 2:
        raise DeclaredSizeError(f"layer {config.get('name')!r} takes {rank + 2}-dimensional inputs, not {shape}")
    first = config.get("data_format") == "channels_first"
    return (list(shape[2:]) if first else list(shape[1:-1])), (shape[1] if first else shape[-1]), first


def _image(batch: Optional[int], spatial: Sequence[Optional[int]], channels: Optional[int], first: bool) -> Shape:
    return (batch, channels, *spatial) if first else (batch, *spatial, channels)


def _window(n: Optional[int], k: int, s: int, padding: str, d: int = 1) -> Optional[int]:
    if n is None:
        return None
    if padding in ("same", "causal"):
        return -(-n // max(s, 1))
    return max(0, (n - d * (k - 1) - 1) // max(s, 1) + 1)


def _rank(class_name: str) -> int:
    return 3 if "3D" in class_name else 1 if "1D" in class_name else 2


def _conv(kind: str) -> Callable[[dict[str, Any], Shape], tuple[Shape, int]]:
    def size(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
        name = config.get("name")
        rank = _rank(kind)
        spatial, cin, first = _spatial(shape, rank, config)
        cin = _known(cin, name)
        k = _ints(config.get("kernel_size"), rank, f"{name}: kernel_size")
        s = _ints(config.get("strides", 1), rank, f"{name}: strides")
        d = _ints(config.get("dilation_rate", 1), rank, f"{name}: dilation_rate")
        padding = config.get("padding", "valid")
        bias = bool(config.get("use_bias", True))
        window = math.prod(k)
        if kind.startswith("DepthwiseConv"):
            multiplier = _int(config.get("depth_multiplier", 1), f"{name}: depth_multiplier")
            cout = cin * multiplier
            count = window * cout + (cout if bias else 0)
        else:
            cout = _int(config.get("filters"), f"{name}: filters")
            if kind.startswith("SeparableConv"):
                multiplier = _int(config.get("depth_multiplier", 1), f"{name}: depth_multiplier")
                count = window * cin * multiplier + cin * multiplier * cout + (cout if bias else 0)
            else:
                groups = max(1, _int(config.get("groups", 1), f"{name}: groups"))
                count = window * (cin // groups) * cout + (cout if bias else 0)
        if kind.endswith("Transpose"):
            out = [None if n is None else (n * si if padding == "same" else (n - 1) * si + di * (ki - 1) + 1)
                   for n, ki, si, di in zip(spatial, k, s, d)]
        else:
            out = [_window(n, ki, si, padding, di) for n, ki, si, di in zip(spatial, k, s, d)]
        return _image(shape[0], out, cout, first), count

    return size


def _dense(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    name = config.get("name")
    units = _int(config.get("units"), f"{name}: units")
    cin = _known(shape[-1], name)
    return (*shape[:-1], units), cin * units + (units if config.get("use_bias", True) else 0)


def _axis_size(config: dict[str, Any], shape: Shape) -> int:
    axes = config.get("axis", -1)
    total = 1
    for axis in axes if isinstance(axes, list) else [axes]:
        if isinstance(axis, bool) or not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
            raise DeclaredSizeError(f"layer {config.get('name')!r}: axis {axis!r} is not an axis of {shape}")
        total *= _known(shape[axis], config.get("name"))
    return total


def _batchnorm(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    c = _axis_size(config, shape)
    return shape, c * (2 + bool(config.get("center", True)) + bool(config.get("scale", True)))


def _layernorm(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    c = _axis_size(config, shape)
    return shape, c * (bool(config.get("center", True)) + bool(config.get("scale", True)))


def _groupnorm(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    return _layernorm({**config, "axis": config.get("axis", -1)}, shape)


def _normalization(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    c = _axis_size({**config, "axis": config.get("axis", -1) if config.get("axis", -1) is not None else -1}, shape)
    return shape, 2 * c + 1


def _prelu(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    shared = config.get("shared_axes") or []
    dims = [1 if i + 1 in shared else _known(n, config.get("name")) for i, n in enumerate(shape[1:])]
    return shape, math.prod(dims)


def _embedding(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    name = config.get("name")
    rows = _int(config.get("input_dim"), f"{name}: input_dim")
    cols = _int(config.get("output_dim"), f"{name}: output_dim")
    return (*shape, cols), rows * cols


def _flatten(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    rest = shape[1:]
    return (shape[0], None if None in rest else math.prod(rest)), 0  # type: ignore[arg-type]


def _reshape(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    target = [_int(v, "target_shape") if v != -1 else -1 for v in config.get("target_shape") or []]
    if -1 in target:
        known = math.prod(v for v in target if v != -1)
        rest = shape[1:]
        total = None if None in rest else math.prod(rest)  # type: ignore[arg-type]
        target = [(total // known if total is not None and known else None) if v == -1 else v for v in target]
    return (shape[0], *target), 0


def _pool(kind: str) -> Callable[[dict[str, Any], Shape], tuple[Shape, int]]:
    def size(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
        name = config.get("name")
        rank = _rank(kind)
        spatial, c, first = _spatial(shape, rank, config)
        k = _ints(config.get("pool_size", 2), rank, f"{name}: pool_size")
        strides = config.get("strides")
        s = k if strides is None else _ints(strides, rank, f"{name}: strides")
        out = [_window(n, ki, si, config.get("padding", "valid")) for n, ki, si in zip(spatial, k, s)]
        return _image(shape[0], out, c, first), 0

    return size


def _global_pool(kind: str) -> Callable[[dict[str, Any], Shape], tuple[Shape, int]]:
    def size(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
        spatial, c, first = _spatial(shape, _rank(kind), config)
        if config.get("keepdims"):
            return _image(shape[0], [1] * len(spatial), c, first), 0
        return (shape[0], c), 0

    return size


def _resize(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    spatial, c, first = _spatial(shape, 2, config)
    name = config.get("name")
    return _image(shape[0], [_int(config.get("height"), f"{name}: height"),
                             _int(config.get("width"), f"{name}: width")], c, first), 0


def _padding(sign: int) -> Callable[[dict[str, Any], Shape], tuple[Shape, int]]:
    def size(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
        key = "padding" if sign > 0 else "cropping"
        rank = len(shape) - 2
        spatial, c, first = _spatial(shape, rank, config)
        value = config.get(key, 1)
        pairs = []
        for v in (value if isinstance(value, (list, tuple)) else [value] * rank):
            pair = _ints(v, 2, f"{config.get('name')}: {key}")
            pairs.append(pair[0] + pair[1])
        if len(pairs) != rank:
            raise DeclaredSizeError(f"layer {config.get('name')!r}: {key} {value!r} does not fit {shape}")
        out = [None if n is None else max(0, n + sign * p) for n, p in zip(spatial, pairs)]
        return _image(shape[0], out, c, first), 0

    return size


def _upsampling(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    rank = len(shape) - 2
    spatial, c, first = _spatial(shape, rank, config)
    factors = _ints(config.get("size", 2), rank, f"{config.get('name')}: size")
    return _image(shape[0], [None if n is None else n * f for n, f in zip(spatial, factors)], c, first), 0


def _permute(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    dims = config.get("dims") or []
    if sorted(dims) != list(range(1, len(shape))):
        raise DeclaredSizeError(f"layer {config.get('name')!r}: dims {dims!r} do not permute {shape}")
    return (shape[0], *(shape[d] for d in dims)), 0


def _repeat(config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    return (shape[0], _int(config.get("n"), "n"), *shape[1:]), 0


SINGLE: dict[str, Callable[[dict[str, Any], Shape], tuple[Shape, int]]] = {
    "Dense": _dense, "BatchNormalization": _batchnorm, "LayerNormalization": _layernorm,
    "GroupNormalization": _groupnorm, "Normalization": _normalization, "PReLU": _prelu, "Embedding": _embedding,
    "Flatten": _flatten, "Reshape": _reshape, "Resizing": _resize, "CenterCrop": _resize, "RandomCrop": _resize,
    "Permute": _permute, "RepeatVector": _repeat,
    **{f"{kind}{r}D": _conv(f"{kind}{r}D") for kind in ("Conv", "SeparableConv", "DepthwiseConv") for r in (1, 2, 3)
       if not (kind != "Conv" and r == 3)},
    **{f"Conv{r}DTranspose": _conv(f"Conv{r}DTranspose") for r in (1, 2, 3)},
    **{f"{kind}Pooling{r}D": _pool(f"{kind}Pooling{r}D") for kind in ("Max", "Average") for r in (1, 2, 3)},
    **{f"Global{kind}Pooling{r}D": _global_pool(f"Global{kind}Pooling{r}D")
       for kind in ("Max", "Average") for r in (1, 2, 3)},
    **{f"ZeroPadding{r}D": _padding(+1) for r in (1, 2, 3)},
    **{f"Cropping{r}D": _padding(-1) for r in (1, 2, 3)},
    **{f"UpSampling{r}D": _upsampling for r in (1, 2, 3)},
}


def _merge(class_name: str, config: dict[str, Any], shapes: list[Shape]) -> Shape:
    if not shapes:
        raise DeclaredSizeError(f"layer {config.get('name')!r} has no inputs")
    if class_name == "Concatenate":
        axis = config.get("axis", -1)
        first = list(shapes[0])
        if not isinstance(axis, int) or not -len(first) <= axis < len(first):
            raise DeclaredSizeError(f"layer {config.get('name')!r}: axis {axis!r} is not an axis of {shapes[0]}")
        sizes = [s[axis] for s in shapes]
        first[axis] = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
        return tuple(first)
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    return tuple(None if any(d is None for d in dims) else max(dims) for dims in zip(*padded))  # type: ignore


class _Counter:
    """Walks one config, counting variables against ``cap`` as it goes (stops at the first excess)."""

    def __init__(self, cap: Optional[int]):
        self.cap = cap
        self.total = 0

    def add(self, count: int, layer: str) -> None:
        self.total += count
        if self.cap is not None and self.total > self.cap:
            raise DeclaredSizeError(f"its config declares more than {self.cap:,} variables (at layer {layer!r}, "
                                    f"{count:,} in that layer alone); the limit is model_parameters")

    def layer(self, entry: Any, inputs: list[Shape]) -> list[Shape]:
        """The output shapes of one layer entry called on ``inputs``; its variables counted."""
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise DeclaredSizeError("a layer entry is not a {class_name, config} object")
        class_name, config = entry.get("class_name"), entry["config"]
        name = str(config.get("name"))
        if class_name in MODELS:
            return self.model(entry, inputs[0] if inputs else None)
        if class_name == "InputLayer":
            return [self.input_shape(config)]
        candidates = list(inputs)
        built = (entry.get("build_config") or {}).get("input_shape") if isinstance(entry.get("build_config"),
                                                                                       dict) else None
        if class_name in MERGE or class_name == "Concatenate":
            if not inputs and isinstance(built, list) and built and isinstance(built[0], list):
                inputs = [_shape(s, f"{name}: input_shape") for s in built]
            return [_merge(class_name, config, inputs)]
        if class_name in SAME_SHAPE:
            if not inputs and built is not None:
                return [_shape(built, f"{name}: input_shape")]
            return [inputs[0]] if inputs else []
        size = SINGLE.get(class_name)  # type: ignore[arg-type]
        if size is None:
            raise DeclaredSizeError(f"layer {name!r} is a {class_name!s:.60}, which the grader cannot size from "
                                    "its config")
        if built is not None:
            candidates.append(_shape(built, f"{name}: build_config input_shape"))
        if not candidates:
            raise DeclaredSizeError(f"layer {name!r} has no input shape in the config")
        outputs, counts = [], []
        for shape in candidates:
            out, count = size(config, shape)
            outputs.append(out)
            counts.append(count)
        self.add(max(counts), name)
        return [outputs[0]]

    @staticmethod
    def input_shape(config: dict[str, Any]) -> Shape:
        if config.get("batch_shape") is not None:
            return _shape(config["batch_shape"], "batch_shape")
        if config.get("batch_input_shape") is not None:
            return _shape(config["batch_input_shape"], "batch_input_shape")
        if config.get("input_shape") is not None:
            return (None, *_shape(config["input_shape"], "input_shape"))
        raise DeclaredSizeError(f"input layer {config.get('name')!r} declares no shape")

    def model(self, entry: dict[str, Any], given: Optional[Shape]) -> list[Shape]:
        config = entry["config"]
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise DeclaredSizeError(f"model {config.get('name')!r} has no list of layers")
        if entry.get("class_name") == "Sequential":
            shape = given
            declared = config.get("build_input_shape") or (entry.get("build_config") or {}).get("input_shape")
            if shape is None and declared is not None:
                shape = _shape(declared, "build_input_shape")
            for layer in layers:
                outputs = self.layer(layer, [shape] if shape is not None else [])
                shape = outputs[0] if outputs else None
            return [shape] if shape is not None else []
        return self.functional(config, layers)

    def functional(self, config: dict[str, Any], layers: list[Any]) -> list[Shape]:
        produced: dict[tuple[str, int], list[Shape]] = {}
        for entry in layers:
            if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
                raise DeclaredSizeError("a layer entry is not a {class_name, config} object")
            name = str(entry.get("name", entry["config"].get("name")))
            nodes = entry.get("inbound_nodes") or []
            if not nodes:
                produced[(name, 0)] = self.layer(entry, [])
                continue
            for index, node in enumerate(nodes):
                inputs = []
                for layer, node_index, tensor in _histories(node):
                    shapes = produced.get((layer, node_index), [])
                    if tensor >= len(shapes):
                        raise DeclaredSizeError(f"layer {name!r} is called on a tensor the config does not produce")
                    inputs.append(shapes[tensor])
                if index == 0:
                    produced[(name, 0)] = self.layer(entry, inputs)
                else:  # a shared layer: its variables exist once; only the output shape is needed
                    produced[(name, index)] = produced[(name, 0)]
        outputs = config.get("output_layers") or []
        outputs = [outputs] if outputs and isinstance(outputs[0], str) else outputs
        return [produced[(o[0], o[1])][o[2]] for o in outputs
                if isinstance(o, list) and len(o) == 3 and len(produced.get((o[0], o[1]), [])) > o[2]]


def _histories(node: Any) -> list[tuple[str, int, int]]:
    """The (layer, node, tensor) each Keras tensor of an inbound node comes from, in order."""
    found: list[tuple[str, int, int]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                history = (value.get("config") or {}).get("keras_history")
                if (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)
                        and all(isinstance(i, int) and not isinstance(i, bool) for i in history[1:])):
                    found.append((history[0], history[1], history[2]))
                    return
                raise DeclaredSizeError("a layer's input names no layer it comes from")
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(node.get("args", []) if isinstance(node, dict) else node)
    return found


def declared_parameters(config: Any, cap: Optional[int] = None) -> int:
    """The number of variables (scalars) Keras would create to load the model ``config`` (``config.json``).

    Raises :class:`DeclaredSizeError` when the count passes ``cap`` (as soon as it does), or when the config
    cannot be sized (a layer class not known here, a shape it leaves open).
    """
    if not isinstance(config, dict) or config.get("class_name") not in MODELS:
        raise DeclaredSizeError("its config.json does not describe a Sequential or Functional model")
    counter = _Counter(cap)
    try:
        counter.model(config, None)
    except RecursionError as exc:
        raise DeclaredSizeError("its config nests models too deeply to size") from exc
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        if isinstance(exc, DeclaredSizeError):
            raise
        raise DeclaredSizeError(f"its config cannot be sized: {type(exc).__name__}: {exc}") from exc
    return counter.total


MAX_ARRAYS = 1_000_000  # groups and arrays a weights file may hold (Keras writes a few per layer)


def declared_array_bytes(fileobj: Any, kind: str, cap: int) -> int:
    """The bytes the arrays of a weights file (``kind`` "h5" or "npz", open for reading) declare, from their
    headers alone (h5py reads HDF5 metadata; NumPy's ``.npy`` header parser); nothing is decompressed.

    Raises :class:`DeclaredSizeError` once the sum passes ``cap``, or for an object array (pickle), an external,
    virtual or linked dataset, or more than :data:`MAX_ARRAYS` entries.
    """
    readers = {"h5": ("HDF5", _h5_arrays), "npz": (".npz", _npz_arrays)}
    if kind not in readers:
        raise ValueError(f"unknown weights format {kind!r}")
    label, arrays = readers[kind]
    total = 0
    try:
        for name, nbytes in arrays(fileobj):
            total += nbytes
            if total > cap:
                raise DeclaredSizeError(f"its weights declare more than {cap:,} bytes of arrays (at {name!s:.80}, "
                                        f"{nbytes:,} bytes); the limit is model_expanded_bytes")
    except DeclaredSizeError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, ...; zipfile and NumPy theirs
        raise DeclaredSizeError(f"its weights are not a readable {label} file: {type(exc).__name__}: {exc}") from exc
    return total


def _h5_arrays(fileobj: Any) -> Iterator[tuple[str, int]]:
    """(name, declared bytes) of each dataset of an HDF5 file, from its metadata."""
    import h5py

    with h5py.File(fileobj, "r") as h5:
        entries: list[tuple[str, Any]] = []  # h5py's visit callback must not raise: collect, then judge
        h5.visititems_links(lambda name, link: entries.append((name, link)) or len(entries) > MAX_ARRAYS or None)
        if len(entries) > MAX_ARRAYS:
            raise DeclaredSizeError(f"its weights hold more than {MAX_ARRAYS:,} groups and arrays")
        for name, link in entries:
            if not isinstance(link, h5py.HardLink):
                raise DeclaredSizeError(f"its weights hold a link ({name!s:.80}), not an array")
            item = h5.get(name)
            if isinstance(item, h5py.Dataset):
                if item.external or item.is_virtual:
                    raise DeclaredSizeError(f"its weights hold an external or virtual array ({name!s:.80})")
                yield name, math.prod(item.shape or ()) * item.dtype.itemsize


def _npz_arrays(fileobj: Any) -> Iterator[tuple[str, int]]:
    """(name, declared bytes) of each array of an ``.npz``, from its ``.npy`` headers."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(fileobj) as npz:
        entries = npz.infolist()
        if len(entries) > MAX_ARRAYS:
            raise DeclaredSizeError(f"its weights hold more than {MAX_ARRAYS:,} arrays")
        for entry in entries:
            with npz.open(entry) as member:
                major, _ = np.lib.format.read_magic(member)
                header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, dtype = header(member)
            if dtype.hasobject:
                raise DeclaredSizeError(f"its weights hold an object array ({entry.filename!s:.80})")
            yield entry.filename, math.prod(shape) * dtype.itemsize
