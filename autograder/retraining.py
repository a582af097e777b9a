"""Provenance: the grader trains the submitted architecture itself, and only that model earns accuracy points.

A saved ``.keras`` file holds the architecture (``config.json``), the notebook's recipe (its
``compile_config``: optimizer with learning rate, loss) and weights. The weights are a claim: they may have
been trained elsewhere, forged, or set after training. So the grader ignores them. It rebuilds the model from
its config (pure data, deserialized with ``safe_mode=True``) under the injected seed, compiles it with the
saved optimizer and loss, and trains it on its own copy of the course's training data for the rubric's
epochs and batch size, capped by the rubric's epoch limit: a student's claim of epochs is never read. No
student code runs in the process (nothing of the notebook is imported or executed). Where the course's recipe
has more than the model (rubric data): each training batch goes through the augmentation the assignment asks for
(02); a pretrained base starts from the grader's own copy of its weights, and a second phase from the model the
grader trained in the first (05).

A config is data that can smuggle weights too: an initializer or a layer argument carrying an array
(``Constant`` with a list, ``Normalization``'s mean and variance, ``Rescaling`` with arrays, an
``Embedding`` initialized from a matrix). :func:`guard_config` refuses, with the layer and argument named,
any array argument of more than ``config_numbers`` numbers (limits.toml) and any initializer argument that is
not a single number; classes outside Keras (custom objects) are refused too. What passes is re-initialized:
every weight the retrained model has comes from its initializers and the grader's training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from autograder.errors import ArtifactError

REFUSED_CLASSES = {"TFSMLayer", "Lambda"}  # layers that load files or run code (safe_mode refuses lambdas too)


# The augmentation a rubric may ask the grader to train with, by name: Keras's preprocessing layer and how the
# rubric's value becomes its arguments (02 teaches augmentation in the data pipeline, outside the model).
AUGMENTATIONS = {
    "flip": lambda layers, v: layers.RandomFlip(v),
    "rotation": lambda layers, v: layers.RandomRotation(v),
    "translation": lambda layers, v: layers.RandomTranslation(v, v),
    "zoom": lambda layers, v: layers.RandomZoom(v),
    "shear": lambda layers, v: layers.RandomShear(v, v),
}


@dataclass(frozen=True)
class Recipe:
    """How the grader retrains: from the rubric (epochs, batch size, cap, augmentation) and the run (seed)."""

    epochs: int
    batch_size: int
    seed: int
    augment: tuple[tuple[str, Any], ...] = ()  # (name in AUGMENTATIONS, its value), applied to training batches
    start: str = ""  # where its weights start, in words, when not from the initializers

    def describe(self) -> str:
        augmented = f", augmented ({', '.join(name for name, _ in self.augment)})" if self.augment else ""
        start = f", {self.start}" if self.start else ""
        return f"{self.epochs} epochs, batch {self.batch_size}{augmented}{start}, seed {self.seed}"


def guard_config(config: Any, max_numbers: int) -> None:
    """Refuse a model config that carries arrays (weights in disguise) or classes from outside Keras."""
    for where, value in _objects(config, "model"):
        module = value.get("module") or ""
        name = value.get("class_name")
        if ">" in str(value.get("registered_name") or "") or (module and not module.startswith("keras")):
            raise ArtifactError(f"{where}: {name!r} from {module or value.get('registered_name')!r} is not a Keras "
                                "class; the grader rebuilds only Keras's own layers")
        if name in REFUSED_CLASSES:
            raise ArtifactError(f"{where}: a {name} layer is refused (it loads or runs code the grader cannot "
                                "retrain)")
        arguments = value.get("config")
        if not isinstance(arguments, dict):
            continue
        initializer = module.startswith("keras.initializers")
        for key, argument in arguments.items():
            numbers = _count_numbers(argument)
            if initializer and isinstance(argument, (list, dict)) and numbers:
                raise ArtifactError(f"{where}: the {name} initializer's {key!r} is an array of {numbers} numbers; "
                                    "an initializer may take single numbers only (weights are trained, not written "
                                    "into the config)")
            if isinstance(argument, list) and numbers > max_numbers:
                raise ArtifactError(f"{where}: {name}'s {key!r} is an array of {numbers:,} numbers; the grader "
                                    f"accepts at most {max_numbers} in a config argument (config_numbers): weights "
                                    "are trained, not written into the config")


def _objects(value: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every serialized Keras object (a dict with ``class_name``) in a config, with a readable location."""
    if isinstance(value, dict):
        if "class_name" in value:
            name = value.get("config", {}).get("name") if isinstance(value.get("config"), dict) else None
            where = f"{where} > {name or value['class_name']}"
            yield where, value
        for key, item in value.items():
            yield from _objects(item, where if key in ("config", "layers") else f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item, where)


def _count_numbers(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, list):
        return sum(_count_numbers(v) for v in value)
    return 0


def rebuild(saved: dict[str, Any], seed: int, max_numbers: int) -> Any:
    """A freshly initialized, compiled model from a ``.keras`` file's ``config.json`` (its weights unread)."""
    import keras

    compile_config = saved.get("compile_config") if isinstance(saved, dict) else None
    if not isinstance(compile_config, dict) or not compile_config.get("optimizer") or not compile_config.get("loss"):
        raise ArtifactError("the saved model carries no optimizer and loss: compile it before submit, the grader "
                            "retrains it with the notebook's recipe")
    architecture = {k: v for k, v in saved.items() if k != "compile_config"}
    guard_config(architecture, max_numbers)
    guard_config(compile_config, max_numbers)
    keras.utils.set_random_seed(seed)
    try:
        model = keras.saving.deserialize_keras_object(architecture, safe_mode=True)
        optimizer = _keras_object(compile_config["optimizer"], keras.optimizers.get)
        loss = _keras_object(compile_config["loss"], keras.losses.get)
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(f"the grader cannot rebuild the saved model from its config: {type(exc).__name__}: "
                            f"{exc}") from exc
    return model


def _keras_object(value: Any, by_name: Any) -> Any:
    if isinstance(value, str):
        return by_name(value)
    if isinstance(value, dict):
        # By its public name, not its module: an optimizer saved on torch names keras.src.backend.torch's Adam,
        # which TensorFlow cannot run; Keras's own lookup gives this backend's class of that name.
        public = {k: v for k, v in value.items() if k not in ("module", "registered_name")}
        return by_name(public)  # keras.optimizers.get / keras.losses.get: deserialized in safe mode
    raise ArtifactError(f"the saved compile config holds {json.dumps(value)[:80]}, not a Keras object")


def retrain(saved: dict[str, Any], x: Any, y: Any, recipe: Recipe, max_numbers: int,
            start: Optional[Callable[[Any], None]] = None) -> Any:
    """The saved architecture, trained by the grader on ``(x, y)`` from a fresh initialization, or from the
    weights ``start`` sets (the grader's own: pretrained, or an earlier phase it trained)."""
    model = rebuild(saved, recipe.seed, max_numbers)
    if start is not None:
        start(model)
    try:
        if recipe.augment:
            model.fit(_augmented_batches(x, y, recipe), epochs=recipe.epochs, verbose=0)
        else:
            model.fit(x, y, epochs=recipe.epochs, batch_size=recipe.batch_size, shuffle=True, verbose=0)
    except Exception as exc:
        raise ArtifactError(f"the saved architecture cannot be trained on the course's data ({x.shape[1:]} "
                            f"inputs): {type(exc).__name__}: {exc}") from exc
    return model


def pretrained_problem(name: str) -> Optional[str]:
    """Why the grader cannot start a network from its own copy of pretrained weights ``name``, or None."""
    from coursework.pretrained import VGG16_NOTOP, keras_models_dir

    if name != "vgg16":
        return f"no pretrained network {name!r} (known: vgg16)"
    path = keras_models_dir() / VGG16_NOTOP
    if not path.is_file():
        return (f"the grader's copy of VGG16's ImageNet weights is missing: {path} (`make data` on a machine with "
                "a network, or copy the file there)")
    return None


def pretrained(name: str) -> Any:
    """The grader's own copy of a pretrained network's weights ("vgg16": VGG16's ImageNet convolutions, from
    Keras's cache), never the submission's."""
    import keras

    from coursework.pretrained import VGG16_NOTOP, keras_models_dir

    problem = pretrained_problem(name)
    if problem:
        raise FileNotFoundError(problem)
    network = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    network.load_weights(keras_models_dir() / VGG16_NOTOP)
    return network


def _layers_with_weights(model: Any) -> list[Any]:
    """Every layer holding weights, nested models opened, in order."""
    found = []
    for layer in model.layers:
        if getattr(layer, "layers", None):
            found += _layers_with_weights(layer)
        elif layer.weights:
            found.append(layer)
    return found


def load_pretrained(source: Any, model: Any) -> None:
    """Give each layer of ``model`` named as a layer of the pretrained ``source`` that layer's weights."""
    targets = {layer.name: layer for layer in _layers_with_weights(model)}
    for layer in _layers_with_weights(source):
        target = targets.get(layer.name)
        if target is None:
            raise ArtifactError(f"the saved model has no layer {layer.name!r}: the grader starts the pretrained "
                                f"base from its own {source.name} weights, layer by layer, by Keras's names")
        try:
            target.set_weights(layer.get_weights())
        except ValueError as exc:
            raise ArtifactError(f"layer {layer.name!r} of the saved model does not take {source.name}'s weights: "
                                f"{exc}") from exc


def copy_weights(source: Any, model: Any) -> None:
    """``source``'s weights into ``model``, layer by layer in order (one architecture, trained in two phases)."""
    theirs, ours = _layers_with_weights(source), _layers_with_weights(model)
    shapes = [[tuple(w.shape) for w in layer.weights] for layer in theirs]
    if shapes != [[tuple(w.shape) for w in layer.weights] for layer in ours]:
        raise ArtifactError(f"{model.name} is not the architecture of {source.name}: the grader fine-tunes what it "
                            "trained in the phase before, so both phases must save the same network")
    for layer, target in zip(theirs, ours):
        target.set_weights(layer.get_weights())


def _augmented_batches(x: Any, y: Any, recipe: Recipe) -> Any:
    """Shuffled batches of ``(x, y)``, each put through the recipe's augmentation (new draws every epoch)."""
    import keras
    import numpy as np

    unknown = [name for name, _ in recipe.augment if name not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown}; known: {sorted(AUGMENTATIONS)}")
    augmentation = keras.Sequential([AUGMENTATIONS[name](keras.layers, value) for name, value in recipe.augment])

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(recipe.seed)
            self.order = self.rng.permutation(len(x))

        def __len__(self) -> int:
            return -(-len(x) // recipe.batch_size)

        def __getitem__(self, index: int) -> Any:
            chosen = self.order[index * recipe.batch_size:(index + 1) * recipe.batch_size]
            return keras.ops.convert_to_numpy(augmentation(x[chosen], training=True)), y[chosen]

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(x))

    return Batches()


def epochs_for(profile_epochs: int, max_epochs: Optional[int]) -> int:
    """What the grader trains: the profile's epochs, never past the rubric's limit."""
    return profile_epochs if max_epochs is None else min(profile_epochs, max_epochs)
