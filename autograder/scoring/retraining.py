"""Retraining: the grader trains the submitted architecture itself, and only that model earns accuracy points.

A saved ``.keras`` file holds the architecture (``config.json``), the notebook's recipe (its
``compile_config``: optimizer with learning rate, loss) and weights. The weights are a claim: they may have
been trained elsewhere, forged, or set after training. So the grader ignores them. It builds the model from
its config under the injected seed, compiles it with the notebook's optimizer and loss (or the course's, where a
locked cell fixes them), and trains it on its own copy of the course's training data for the rubric's
epochs and batch size, capped by the rubric's epoch limit: a student's claim of epochs is never read. No
student code runs in the process (nothing of the notebook is imported or executed). Where the course's recipe
has more than the model (rubric data): each training batch goes through the augmentation the assignment asks for
(02); a pretrained base starts from the grader's own copy of its weights, and a second phase from the model the
grader trained in the first (05).

A config is data that can smuggle weights, run code or freeze layers, so the grader never deserializes it as
written: it builds the model from the config its allow-list writes afresh (:mod:`autograder.scoring.architecture`),
compiles it with a recipe it validated or the course's own (:mod:`autograder.scoring.recipe`), and builds a network
a locked cell defines from the course's copy of that cell (:mod:`autograder.scoring.locked`). Every weight the
retrained model has comes from its initializers (by registered name, scalar arguments) and the grader's training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from autograder.errors import ArtifactError
from autograder.scoring.recipe import Compiled

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


def rebuild(config: dict[str, Any], seed: int, frozen: Sequence[str] = ()) -> Any:
    """A freshly initialized model from a saved ``config.json`` (its weights and recipe unread), built from what
    the allow-list validated; frozen where the course's ``frozen`` layer-name prefixes say, nowhere else."""
    import keras

    from autograder.scoring.architecture import clean_config

    clean = clean_config(config, frozen)
    keras.utils.set_random_seed(seed)
    try:
        return keras.saving.deserialize_keras_object(clean, safe_mode=True)
    except Exception as exc:
        raise ArtifactError(f"the grader cannot rebuild the saved model from its config: {type(exc).__name__}: "
                            f"{exc}") from exc


def retrain(model: Any, compiled: Compiled, x: Any, y: Any, recipe: Recipe,
            start: Optional[Callable[[Any], None]] = None) -> Any:
    """``model`` (freshly built by the grader), compiled with ``compiled`` and trained on ``(x, y)`` from its
    initialization, or from the weights ``start`` sets (the grader's own: pretrained, or an earlier phase it
    trained)."""
    if start is not None:
        start(model)
    steps = recipe.epochs * -(-len(x) // recipe.batch_size)
    try:
        optimizer, loss = compiled.build(steps)
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
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
