"""A saved architecture read through an allow-list into a config the grader writes itself.

A ``.keras`` file's ``config.json`` is the student's, and data can carry weights (an initializer holding an
encoded array), run code (a layer or activation naming any public Keras function) or freeze layers. So nothing
of it reaches Keras as written: :func:`clean_config` walks it and writes a fresh config holding only what this
allow-list validated, value by value:

- layer classes of :data:`LAYERS`, Keras's own, each with the arguments it may take; nested ``Sequential``
  and ``Functional`` models, their graph edges checked as data;
- every argument by name, of a known type and range (:data:`ARGUMENTS`; a class may narrow one: :data:`OWN`);
- initializers, regularizers and constraints by registered name with scalar arguments only; activations and
  dtype policies by name from a fixed set.

Anything else is refused, with its place in the config named. For retraining, ``trainable`` is not read: a layer
is frozen only where the course freezes it (``frozen``: the rubric's layer-name prefixes, as for 05's VGG16
base); the saved model as the notebook left it (``frozen=None``) keeps its flags, for the checks that read them.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping, Optional, Sequence

from autograder.errors import ArtifactError

Check = Callable[[Any, str], Any]  # (value, where in the config) -> the value the grader writes; raises


class Refused(ArtifactError):
    """A value the allow-list does not describe: where it is in the file, and why."""


def refuse(where: str, why: str) -> None:
    raise Refused(f"{where}: {why}")


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- values ---------------------------------------------------------------------------------------------------

def integer(low: int, high: int) -> Check:
    def check(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            refuse(where, f"expected a whole number from {low} to {high}, found {shown(value)}")
        return value
    return check


def number(low: float, high: float) -> Check:
    def check(value: Any, where: str) -> float:
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or not low <= value <= high):
            refuse(where, f"expected a number from {low:g} to {high:g}, found {shown(value)}")
        return float(value)
    return check


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        refuse(where, f"expected true or false, found {shown(value)}")
    return value


def exactly(*allowed: Any) -> Check:
    def check(value: Any, where: str) -> Any:
        if isinstance(value, bool) != any(isinstance(a, bool) for a in allowed) or value not in allowed:
            refuse(where, f"expected one of {', '.join(map(repr, allowed))}, found {shown(value)}")
        return value
    return check


def optional(check: Check) -> Check:
    return lambda value, where: None if value is None else check(value, where)


def listed(item: Check, low: int = 1, high: int = 8) -> Check:
    """A list of ``low`` to ``high`` items, each checked."""
    def check(value: Any, where: str) -> list[Any]:
        if not isinstance(value, list) or not low <= len(value) <= high:
            refuse(where, f"expected a list of {low} to {high} values, found {shown(value)}")
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return check


def one_or_list(item: Check, high: int = 3) -> Check:
    """A single value or a list of up to ``high`` of them (kernel sizes, strides, axes)."""
    many = listed(item, 1, high)
    return lambda value, where: many(value, where) if isinstance(value, list) else item(value, where)


MAX_SIDE = 10**9  # the largest dimension a shape may declare (a flattened feature map is long; what a network
# costs is bounded apart, by retrain_work and the memory cap)
SIZE = integer(1, 256)  # kernel, pool, stride, dilation, upsampling factor (cost is bounded apart: retrain_work)
SIZES = one_or_list(SIZE)
SEED = optional(integer(0, 2**63 - 1))
AXIS = one_or_list(integer(-8, 8), 8)
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
SHAPE = listed(optional(integer(1, MAX_SIDE)), 1, 6)
FACTOR = one_or_list(number(-1.0, 1.0), 2)


def name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        refuse(where, f"a layer name is letters, digits, '_', '.' or '-' (at most 128), found {shown(value)}")
    return value


def shapes(value: Any, where: str) -> Any:
    """One shape, or a list of them (a merging layer's inputs)."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return listed(SHAPE, 1, 64)(value, where)
    return SHAPE(value, where)


def paddings(value: Any, where: str) -> Any:
    """ZeroPadding2D's and Cropping2D's widths: one number, one per side pair, or a pair per axis."""
    width = integer(0, 1024)
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return listed(listed(width, 2, 2), 1, 3)(value, where)
    return one_or_list(width)(value, where)


def target_shape(value: Any, where: str) -> list[int]:
    return listed(integer(-1, MAX_SIDE), 1, 5)(value, where)


# -- Keras objects by registered name ---------------------------------------------------------------------------

ACTIVATIONS = frozenset({
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "swish", "mish", "sigmoid",
    "hard_sigmoid", "hard_silu", "hard_swish", "tanh", "softmax", "log_softmax", "softplus", "softsign",
    "exponential",
})


def activation(value: Any, where: str) -> str:
    if value is None:
        return "linear"
    if not isinstance(value, str) or value not in ACTIVATIONS:
        refuse(where, f"an activation is one of Keras's by name ({', '.join(sorted(ACTIVATIONS))}), found "
                      f"{shown(value)}")
    return value


FINITE = number(-1e3, 1e3)
POSITIVE = number(0.0, 1e3)
GLOROT_LIKE = {"seed": SEED, "input_axes": optional(AXIS), "output_axes": optional(AXIS)}

# class name -> the scalar arguments it may take: the only initializers, regularizers and constraints built
INITIALIZERS: dict[str, dict[str, Check]] = {
    "Zeros": {}, "Ones": {}, "Constant": {"value": FINITE},
    "RandomNormal": {"mean": FINITE, "stddev": POSITIVE, "seed": SEED},
    "TruncatedNormal": {"mean": FINITE, "stddev": POSITIVE, "seed": SEED},
    "RandomUniform": {"minval": FINITE, "maxval": FINITE, "seed": SEED},
    "GlorotUniform": GLOROT_LIKE, "GlorotNormal": GLOROT_LIKE, "HeUniform": GLOROT_LIKE, "HeNormal": GLOROT_LIKE,
    "LecunUniform": GLOROT_LIKE, "LecunNormal": GLOROT_LIKE,
    "VarianceScaling": {"scale": POSITIVE, "mode": exactly("fan_in", "fan_out", "fan_avg"),
                        "distribution": exactly("truncated_normal", "untruncated_normal", "normal", "uniform"),
                        **GLOROT_LIKE},
    "Orthogonal": {"gain": FINITE, "seed": SEED}, "Identity": {"gain": FINITE},
}
PENALTY = number(0.0, 1.0)
REGULARIZERS: dict[str, dict[str, Check]] = {"L1": {"l1": PENALTY}, "L2": {"l2": PENALTY},
                                             "L1L2": {"l1": PENALTY, "l2": PENALTY}}
CONSTRAINTS: dict[str, dict[str, Check]] = {
    "NonNeg": {}, "UnitNorm": {"axis": AXIS}, "MaxNorm": {"max_value": POSITIVE, "axis": AXIS},
    "MinMaxNorm": {"min_value": POSITIVE, "max_value": POSITIVE, "rate": number(0.0, 1.0), "axis": AXIS},
}


def snake(class_name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", class_name).lower()


FRAME = {"module", "class_name", "config", "registered_name", "shared_object_id"}  # a serialized object's keys
# (Keras numbers an object that several layers share, such as one initializer: the number is dropped here)


def article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def keras_object(kind: str, module: str, table: Mapping[str, Mapping[str, Check]]) -> Check:
    """An initializer, regularizer or constraint: by registered name (a string, or its serialized dict), with the
    scalar arguments ``table`` allows; written back as a fresh serialized dict."""
    by_snake = {snake(c): c for c in table}

    def check(value: Any, where: str) -> dict[str, Any]:
        if isinstance(value, str):
            class_name, arguments = by_snake.get(value) or (value if value in table else None), {}
        elif isinstance(value, dict) and set(value) <= FRAME:
            class_name, arguments = value.get("class_name"), value.get("config") or {}
            if value.get("module") not in (None, module) or value.get("registered_name") not in (None, class_name):
                refuse(where, f"{article(kind)} is one of {module}'s own, found one from {shown(value.get('module'))} "
                              f"registered as {shown(value.get('registered_name'))}")
        else:
            class_name, arguments = None, {}
        if class_name not in table or not isinstance(arguments, dict):
            refuse(where, f"{article(kind)} is one of {', '.join(sorted(table))} by name, with single-number arguments; "
                          f"found {shown(value)}")
        allowed = table[class_name]
        unknown = sorted(set(arguments) - set(allowed))
        if unknown:
            refuse(f"{where}.{unknown[0]}", f"{class_name} takes no argument {unknown[0]!r} here (it takes "
                                            f"{', '.join(sorted(allowed)) or 'none'})")
        config = {key: allowed[key](v, f"{where}.{key}") for key, v in arguments.items()}
        return {"module": module, "class_name": class_name, "config": config, "registered_name": None}
    return check


INITIALIZER = keras_object("initializer", "keras.initializers", INITIALIZERS)
REGULARIZER = optional(keras_object("regularizer", "keras.regularizers", REGULARIZERS))
CONSTRAINT = optional(keras_object("constraint", "keras.constraints", CONSTRAINTS))

DTYPES = ("float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16")


def dtype_policy(value: Any, where: str) -> Any:
    """A dtype policy by name (``"float32"``, or Keras's serialized ``DTypePolicy``), written back fresh."""
    if isinstance(value, str):
        return exactly(*DTYPES)(value, where)
    if (isinstance(value, dict) and value.get("class_name") == "DTypePolicy"
            and isinstance(value.get("config"), dict) and set(value["config"]) == {"name"}):
        policy = exactly(*DTYPES)(value["config"]["name"], f"{where}.name")
        return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": policy}, "registered_name": None}
    refuse(where, f"a dtype policy is one of {', '.join(DTYPES)} by name, found {shown(value)}")


# -- layers -----------------------------------------------------------------------------------------------------

ARGUMENTS: dict[str, Check] = {
    "units": integer(1, 2**20), "filters": integer(1, 2**20), "depth_multiplier": integer(1, 64),
    "groups": integer(1, 65536), "kernel_size": SIZES, "strides": SIZES, "pool_size": SIZES,
    "dilation_rate": SIZES, "size": SIZES, "output_padding": optional(one_or_list(integer(0, 256))),
    "padding": exactly("valid", "same"), "data_format": optional(exactly("channels_last", "channels_first")),
    "activation": activation, "use_bias": boolean, "keepdims": boolean,
    "rate": number(0.0, 0.99), "noise_shape": optional(listed(optional(integer(1, MAX_SIDE)), 1, 6)), "seed": SEED,
    "axis": AXIS, "momentum": number(0.0, 1.0), "epsilon": number(1e-12, 1.0), "center": boolean,
    "scale": boolean, "synchronized": boolean, "renorm": boolean, "renorm_clipping": exactly(None),
    "renorm_momentum": number(0.0, 1.0), "rms_scaling": boolean, "quantization_config": exactly(None),
    "max_value": optional(number(0.0, 1e6)), "negative_slope": FINITE, "threshold": FINITE, "alpha": FINITE,
    "shared_axes": optional(one_or_list(integer(1, 8), 8)),
    "cropping": paddings, "target_shape": target_shape, "dims": listed(integer(1, 8), 1, 8),
    "height": integer(1, MAX_SIDE), "width": integer(1, MAX_SIDE), "crop_to_aspect_ratio": boolean,
    "pad_to_aspect_ratio": boolean, "antialias": boolean,
    "interpolation": exactly("nearest", "bilinear", "bicubic", "area", "lanczos3", "lanczos5"),
    "fill_mode": exactly("reflect", "wrap", "constant", "nearest", "crop"), "fill_value": FINITE,
    "mode": exactly("horizontal", "vertical", "horizontal_and_vertical"),
    "factor": FACTOR, "height_factor": FACTOR, "width_factor": optional(FACTOR), "x_factor": FACTOR,
    "y_factor": FACTOR, "value_range": listed(number(-1e4, 1e4), 2, 2),
}
for _part in ("kernel", "bias", "depthwise", "pointwise", "beta", "gamma", "moving_mean", "moving_variance", "alpha"):
    ARGUMENTS |= {f"{_part}_initializer": INITIALIZER, f"{_part}_regularizer": REGULARIZER,
                  f"{_part}_constraint": CONSTRAINT}
ARGUMENTS["activity_regularizer"] = REGULARIZER

# (class, argument) -> a check narrower or other than the argument's usual one
OWN: dict[tuple[str, str], Check] = {
    ("ZeroPadding2D", "padding"): paddings,
    ("Rescaling", "scale"): number(-1e4, 1e4), ("Rescaling", "offset"): number(-1e4, 1e4),
    ("Conv1D", "padding"): exactly("valid", "same", "causal"),
}

CONV = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation", "use_bias",
        "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
        "kernel_constraint", "bias_constraint")
KERNEL = ("kernel_initializer", "kernel_regularizer", "kernel_constraint")
SEPARABLE = tuple(a for a in CONV if a not in KERNEL) + tuple(
    f"{part}_{what}" for part in ("depthwise", "pointwise") for what in ("initializer", "regularizer", "constraint"))
NORMALIZATION = ("axis", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer", "beta_regularizer",
                 "gamma_regularizer", "beta_constraint", "gamma_constraint")
POOLING = ("pool_size", "strides", "padding", "data_format")
IMAGE_OPS = ("data_format", "seed", "fill_mode", "fill_value", "interpolation")

# Keras's layers the grader builds, and the arguments each may take (besides name, dtype, trainable)
LAYERS: dict[str, tuple[str, ...]] = {
    "Dense": ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
              "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint",
              "quantization_config"),
    "Conv2D": CONV + ("groups",), "Conv1D": CONV + ("groups",), "Conv2DTranspose": CONV + ("output_padding",),
    "SeparableConv2D": SEPARABLE + ("filters", "depth_multiplier"),
    "DepthwiseConv2D": tuple(a for a in SEPARABLE if not a.startswith("pointwise_") and a != "filters")
    + ("depth_multiplier",),
    "MaxPooling2D": POOLING, "AveragePooling2D": POOLING, "MaxPooling1D": POOLING, "AveragePooling1D": POOLING,
    "GlobalAveragePooling2D": ("data_format", "keepdims"), "GlobalMaxPooling2D": ("data_format", "keepdims"),
    "GlobalAveragePooling1D": ("data_format", "keepdims"), "GlobalMaxPooling1D": ("data_format", "keepdims"),
    "Flatten": ("data_format",), "Dropout": ("rate", "noise_shape", "seed"),
    "SpatialDropout2D": ("rate", "seed", "data_format"),
    "BatchNormalization": NORMALIZATION + ("momentum", "moving_mean_initializer", "moving_variance_initializer",
                                           "synchronized", "renorm", "renorm_clipping", "renorm_momentum"),
    "LayerNormalization": NORMALIZATION + ("rms_scaling",), "GroupNormalization": NORMALIZATION + ("groups",),
    "Activation": ("activation",), "ReLU": ("max_value", "negative_slope", "threshold"),
    "LeakyReLU": ("negative_slope",), "ELU": ("alpha",), "Softmax": ("axis",),
    "PReLU": ("alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"),
    "Add": (), "Subtract": (), "Multiply": (), "Average": (), "Maximum": (), "Minimum": (), "Concatenate": ("axis",),
    "ZeroPadding2D": ("padding", "data_format"), "Cropping2D": ("cropping", "data_format"),
    "Reshape": ("target_shape",), "Permute": ("dims",), "Rescaling": ("scale", "offset"),
    "Resizing": ("height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_mode",
                 "fill_value", "antialias", "data_format"),
    "UpSampling2D": ("size", "data_format", "interpolation"),
    "RandomFlip": ("mode", "seed", "data_format"), "RandomRotation": ("factor",) + IMAGE_OPS,
    "RandomTranslation": ("height_factor", "width_factor") + IMAGE_OPS,
    "RandomZoom": ("height_factor", "width_factor") + IMAGE_OPS, "RandomShear": ("x_factor", "y_factor") + IMAGE_OPS,
    "RandomContrast": ("factor", "value_range", "seed", "data_format"),
    "RandomBrightness": ("factor", "value_range", "seed", "data_format"),
    "RandomCrop": ("height", "width", "seed", "data_format"),
}
MODULES = {"Sequential": "keras", "Functional": "keras.src.models.functional"}  # where Keras finds each model class
MODELS = tuple(MODULES)
MAX_LAYERS = 2000  # layers in one model, nested ones counted


class Cleaner:
    """One walk of a config: counts layers, and applies the course's frozen prefixes."""

    def __init__(self, frozen: Optional[Sequence[str]]):
        self.frozen = None if frozen is None else tuple(frozen)
        self.layers = 0

    def trainable(self, layer_name: str, config: Mapping[str, Any], where: str) -> bool:
        if self.frozen is None:
            return boolean(config.get("trainable", True), f"{where}.trainable")
        return not any(layer_name.startswith(prefix) for prefix in self.frozen)

    def model(self, value: Any, where: str) -> dict[str, Any]:
        """A ``Sequential`` or ``Functional`` model (the whole config, or one nested in it)."""
        entry = self.entry(value, where)
        kind = entry["class_name"]
        config = value.get("config")
        if not isinstance(config, dict):
            refuse(where, f"a {kind} holds its layers in a config object")
        allowed = {"name", "trainable", "dtype", "layers"} | (
            {"build_input_shape"} if kind == "Sequential" else {"input_layers", "output_layers"})
        self.unknown(config, allowed, where)
        model_name = name(config.get("name", kind.lower()), f"{where}.name")
        layers = config.get("layers")
        if not isinstance(layers, list):
            refuse(f"{where}.layers", "expected the list of the model's layers")
        clean: dict[str, Any] = {"name": model_name, "trainable": self.trainable(model_name, config, where),
                                 "layers": [self.layer(layer, f"{model_name} > layer {i}", kind == "Functional")
                                            for i, layer in enumerate(layers)]}
        if "dtype" in config:
            clean["dtype"] = dtype_policy(config["dtype"], f"{where}.dtype")
        if config.get("build_input_shape") is not None:
            clean["build_input_shape"] = shapes(config["build_input_shape"], f"{where}.build_input_shape")
        for key in ("input_layers", "output_layers"):
            if key in config:
                clean[key] = endpoints(config[key], f"{where}.{key}")
        return {**entry, "config": clean, **self.build(value, where)}

    def layer(self, value: Any, where: str, functional: bool) -> dict[str, Any]:
        self.layers += 1
        if self.layers > MAX_LAYERS:
            refuse(where, f"more than {MAX_LAYERS} layers")
        if isinstance(value, dict) and value.get("class_name") in MODELS:
            clean = self.model(value, where)
        else:
            clean = self.plain_layer(value, where)
        if functional:
            clean["name"] = name(value.get("name"), f"{where}.name")
            clean["inbound_nodes"] = listed(node, 0, 64)(value.get("inbound_nodes"), f"{where}.inbound_nodes")
        elif "inbound_nodes" in value or "name" in value:
            refuse(where, "a Sequential model's layer has no graph edges")
        return clean

    def plain_layer(self, value: Any, where: str) -> dict[str, Any]:
        entry = self.entry(value, where)
        kind, arguments = entry["class_name"], value.get("config")
        if not isinstance(arguments, dict):
            refuse(where, f"a {kind} holds its arguments in a config object")
        if kind == "InputLayer":
            return {**entry, "config": input_layer(arguments, where)}
        layer_name = name(arguments.get("name", "layer"), f"{where}.name")
        where = f"{where} ({layer_name})"
        allowed = LAYERS[kind]
        self.unknown(arguments, set(allowed) | {"name", "trainable", "dtype"}, where, kind)
        clean: dict[str, Any] = {"name": layer_name, "trainable": self.trainable(layer_name, arguments, where)}
        if "dtype" in arguments:
            clean["dtype"] = dtype_policy(arguments["dtype"], f"{where}.dtype")
        for key in allowed:
            if key in arguments:
                clean[key] = OWN.get((kind, key), ARGUMENTS[key])(arguments[key], f"{where}.{key}")
        return {**entry, "config": clean, **self.build(value, where)}

    def entry(self, value: Any, where: str) -> dict[str, Any]:
        """The serialized object's frame: a known class of Keras's own, written back with Keras's module."""
        if not isinstance(value, dict):
            refuse(where, f"expected a serialized layer, found {shown(value)}")
        self.unknown(value, {"module", "class_name", "config", "registered_name", "build_config", "compile_config",
                             "name", "inbound_nodes"}, where)
        kind, module = value.get("class_name"), value.get("module")
        if kind not in LAYERS and kind not in MODELS and kind != "InputLayer":
            refuse(where, f"{shown(kind)} is not a layer the grader builds (it builds Keras's "
                          f"{', '.join(sorted(LAYERS))}, InputLayer and nested Sequential or Functional models)")
        if module is not None and not (module == "keras" or str(module).startswith("keras.")):
            refuse(where, f"{kind} comes from {shown(module)}, not from Keras")
        if value.get("registered_name") not in (None, kind):
            refuse(where, f"{kind} is registered as {shown(value['registered_name'])}, not as Keras's own")
        return {"module": MODULES.get(kind, "keras.layers"), "class_name": kind, "registered_name": None}

    def build(self, value: dict[str, Any], where: str) -> dict[str, Any]:
        """The input shape Keras builds a layer for, where the config gives one (any compile config is dropped:
        the grader's recipe is its own, :mod:`autograder.scoring.recipe`)."""
        build = value.get("build_config")
        if build is None:
            return {}
        if not isinstance(build, dict) or set(build) - {"input_shape"}:
            refuse(f"{where}.build_config", "expected only an input shape")
        return {"build_config": {"input_shape": optional(shapes)(build.get("input_shape"),
                                                                 f"{where}.build_config.input_shape")}}

    @staticmethod
    def unknown(config: Mapping[str, Any], allowed: set[str], where: str, kind: str = "") -> None:
        extra = sorted(set(config) - allowed)
        if extra:
            refuse(f"{where}.{extra[0]}", f"{kind + ' takes' if kind else 'the grader reads'} no {extra[0]!r}")


def input_layer(arguments: Mapping[str, Any], where: str) -> dict[str, Any]:
    Cleaner.unknown(arguments, {"batch_shape", "dtype", "sparse", "ragged", "name", "optional"}, where,
                    "InputLayer")
    clean = {"batch_shape": SHAPE(arguments.get("batch_shape"), f"{where}.batch_shape"),
             "name": name(arguments.get("name", "input_layer"), f"{where}.name")}
    for key in ("sparse", "ragged", "optional"):
        if key in arguments:
            clean[key] = exactly(False)(arguments[key], f"{where}.{key}")
    if "dtype" in arguments:
        clean["dtype"] = exactly(*DTYPES[:4])(arguments["dtype"], f"{where}.dtype")
    return clean


def endpoints(value: Any, where: str) -> Any:
    """A functional model's inputs or outputs: ``[layer, node, tensor]``, or a list of them."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return listed(history, 1, 64)(value, where)
    return history(value, where)


def history(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != 3:
        refuse(where, f"expected [layer name, node, tensor], found {shown(value)}")
    return [name(value[0], f"{where}[0]"), integer(0, 1024)(value[1], f"{where}[1]"),
            integer(0, 1024)(value[2], f"{where}[2]")]


def tensor(value: Any, where: str) -> Any:
    """A node's input: one graph tensor, or a list of them (a merging layer's)."""
    if isinstance(value, list):
        return listed(tensor, 1, 64)(value, where)
    if (not isinstance(value, dict) or value.get("class_name") != "__keras_tensor__" or set(value) != {"class_name",
                                                                                                      "config"}
            or not isinstance(value["config"], dict)
            or set(value["config"]) - {"shape", "dtype", "keras_history"}):
        refuse(where, f"a layer's input is a tensor of the graph, found {shown(value)}")
    config = value["config"]
    clean: dict[str, Any] = {"keras_history": history(config.get("keras_history"), f"{where}.keras_history")}
    if "shape" in config:
        clean["shape"] = listed(optional(integer(0, MAX_SIDE)), 0, 6)(config["shape"], f"{where}.shape")
    if "dtype" in config:
        clean["dtype"] = exactly(*DTYPES[:4])(config["dtype"], f"{where}.dtype")
    return {"class_name": "__keras_tensor__", "config": clean}


def node(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - {"args", "kwargs"}:
        refuse(where, f"a graph edge holds args and kwargs only, found {shown(value)}")
    kwargs = value.get("kwargs") or {}
    if not isinstance(kwargs, dict) or set(kwargs) - {"training", "mask"}:
        refuse(f"{where}.kwargs", f"a layer is called with its inputs only, found {shown(kwargs)}")
    clean_kwargs = {}
    if "training" in kwargs:
        clean_kwargs["training"] = optional(boolean)(kwargs["training"], f"{where}.kwargs.training")
    if "mask" in kwargs:
        clean_kwargs["mask"] = exactly(None)(kwargs["mask"], f"{where}.kwargs.mask")
    return {"args": listed(tensor, 1, 64)(value.get("args"), f"{where}.args"), "kwargs": clean_kwargs}


def clean_config(config: Any, frozen: Optional[Sequence[str]] = ()) -> dict[str, Any]:
    """The architecture of a saved ``config.json`` (its ``compile_config`` aside), written afresh by the grader
    from the values its allow-list validated; ``frozen``: the layer-name prefixes the course freezes (None: the
    saved flags, for inspecting the model as saved)."""
    if not isinstance(config, dict) or config.get("class_name") not in MODELS:
        raise ArtifactError(f"config.json holds {shown(config)[:40]}, not a Sequential or Functional model")
    architecture = {k: v for k, v in config.items() if k != "compile_config"}
    try:
        return Cleaner(frozen).model(architecture, config["class_name"])
    except Refused as exc:
        raise ArtifactError(f"config.json, {exc}; the grader builds only what its allow-list describes "
                            "(docs/sandbox.md, what the grader trusts)") from None
