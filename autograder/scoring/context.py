"""The scoring context: what a check may look at, and the only way it looks.

:class:`ScoringContext` gives checks lazy, cached access to what the notebook wrote (models built by the grader
from their config read through the allow-list, JSON read without pickle, every file size-capped before it is
read: :mod:`autograder.scoring.readers`), to the notebook's code as text, to the grader's own validation and
training data, and to the models the grader retrains itself (:mod:`autograder.scoring.retraining`). Every check
(:mod:`autograder.checks`) is written against it.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any, Optional

from autograder.errors import ArtifactError, MissingArtifact
from autograder.paths import RELEASED_DIR
from autograder.rubric import Limits, Rubric
from autograder.sandbox import Sandbox
from autograder.scoring.images import model_image_size, photo_size, prepared
from autograder.scoring.readers import check_zip, read_bounded
from coursework.submit import ANSWERS, HISTORIES, METADATA

RETRAINED = "@retrained"  # suffix of a model the grader trained itself from a saved architecture
SETTLE_IMAGES = 2000  # training images that re-estimate BatchNormalization statistics (stratified, seed 1)


class ScoringContext:
    """What a check may look at: the artifacts, the staged notebook's code, the grader's data."""

    def __init__(self, artifacts: Path, notebook: Optional[Path], profile: str, limits: Limits,
                 data_dir: Optional[str] = None, sandbox: Optional[Sandbox] = None, epochs: int = 1,
                 seed: int = 0, rubric: Optional[Rubric] = None, shared: Optional[dict[str, Any]] = None):
        self.artifacts = Path(artifacts)
        self.notebook = notebook
        self.profile = profile
        self.limits = limits
        self.data_dir = data_dir
        self.sandbox = sandbox  # where the student's functions run, when a check calls them
        self.epochs = epochs  # the profile's epochs: what the grader retrains for (see retrained)
        self.seed = seed  # the seed injected into the notebook: the grader retrains under it too
        self.assignment = rubric.id if rubric else "this assignment"
        self.course_models = rubric.models if rubric else {}  # what the course fixes about each saved model
        self.released = RELEASED_DIR / rubric.name / rubric.notebook if rubric else None  # its locked cells
        self.shared = dict(shared or {})  # figures of networks trained once for the class, by baseline key
        self._cache: dict[Any, Any] = {}

    def _cached(self, key: Any, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def file(self, name: str, max_bytes: int) -> Path:
        """The artifact ``name``, a regular file of at most ``max_bytes``; a symlink is never followed."""
        if self.artifacts.is_symlink():
            raise ArtifactError("the artifacts folder is a symlink; nothing in it is read")
        path = self.artifacts / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise ArtifactError(f"{name} is not a regular file")
        if not path.is_file():
            raise MissingArtifact(f"{name} was not written (did the notebook reach its submit cell?)")
        if path.stat().st_size > max_bytes:
            raise ArtifactError(f"{name} is larger than the {max_bytes:,} bytes allowed")
        return path

    def code_cells(self) -> list[str]:
        """The notebook's cells as Python source (non-code cells as ""), never executed."""
        from autograder.studentcode.notebook import code_cells

        if self.notebook is None:
            raise MissingArtifact("the notebook is not available to this check")
        return self._cached("code_cells", lambda: code_cells(self.notebook))

    def json(self, name: str) -> Any:
        def read() -> Any:
            path = self.file(name, self.limits.json_bytes)
            try:
                return json.loads(read_bounded(path, self.limits.json_bytes))
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise ArtifactError(f"{name} is not valid JSON: {exc}") from exc

        return self._cached(("json", name), read)

    def model(self, name: str = "model") -> Any:
        """The saved model as the notebook left it (its weights, its trainable flags), built by the grader from
        its config read through the allow-list (:mod:`autograder.scoring.architecture`), never as written."""
        def load() -> Any:
            path = self.keras_file(name)
            import keras

            from autograder.scoring.architecture import clean_config

            clean = clean_config(self.keras_config(name), frozen=None)
            try:
                model = keras.saving.deserialize_keras_object(clean, safe_mode=True)
                model.load_weights(path)
            except Exception as exc:
                raise ArtifactError(f"{name}.keras cannot be loaded safely: {type(exc).__name__}: {exc}") from exc
            return model

        return self._cached(("model", name), load)

    def description(self, name: str = "model") -> Any:
        from autograder.modelspec import describe

        return self._cached(("description", name), lambda: describe(self.model(name)))

    def keras_file(self, name: str) -> Path:
        """``name.keras``, its zip's central directory checked against the caps before anything expands it."""
        def checked() -> Path:
            path = self.file(f"{name}.keras", self.limits.model_bytes)
            check_zip(path, self.limits)
            return path

        return self._cached(("keras_file", name), checked)

    def history(self, name: str = "model") -> dict[str, list[Optional[float]]]:
        """The per-epoch lists of ``name``; NaN and infinities count as no value (None), as ``submit`` writes them."""
        histories = self.json(HISTORIES)
        if not isinstance(histories, dict) or not isinstance(histories.get(name), dict):
            raise MissingArtifact(f"no training history for {name!r} in {HISTORIES}")
        return {metric: per_epoch(name, metric, values) for metric, values in histories[name].items()}

    def answers(self) -> dict[str, Any]:
        answers = self.json(ANSWERS)
        if not isinstance(answers, dict):
            raise ArtifactError(f"{ANSWERS} must hold a JSON object")
        return answers

    def metadata(self) -> dict[str, Any]:
        return self.json(METADATA)

    def validation_data(self, dataset: str, size: Optional[int] = None, scale: float = 1.0, seed: int = 0,
                        preprocess: str = "", image_size: tuple[int, int] = (150, 150)) -> Any:
        """The grader's evaluation images: the held-out test split (or a fixed, stratified ``size`` of it), which
        no notebook ever sees, as float32 divided by ``scale``, or put through
        ``preprocess`` ("vgg16": ``keras.applications.vgg16.preprocess_input`` on 0-255 pixels).
        ``image_size``: what the photos of dogs vs. cats are resized to (the other sets have one size)."""
        from coursework import datasets

        def load() -> Any:
            import numpy as np

            if dataset == "cats_and_dogs":
                x, y = self._photos("test", size, seed, image_size)
            elif dataset in ("mnist", "cifar10", "digits"):
                x, y = datasets.test_split(dataset, size, seed=seed, data_dir=self.data_dir)
            else:
                raise ValueError(f"unknown validation data set {dataset!r}")
            return prepared(x, scale, preprocess), np.asarray(y).reshape(-1)

        resized = image_size if dataset == "cats_and_dogs" else None
        return self._cached(("data", dataset, size, scale, seed, preprocess, resized), load)

    def _photos(self, split: str, size: Optional[int], seed: int, image_size: tuple[int, int]) -> Any:
        """Dogs vs. cats' ``split`` folder (or a fixed, balanced ``size`` of it), resized to ``image_size``."""
        from coursework import datasets

        root = (datasets.cats_and_dogs_small(self.data_dir) if size is None else
                datasets.cats_and_dogs_subset({split: size // 2}, seed=seed, data_dir=self.data_dir))
        return datasets.load_image_split(root / split, photo_size(image_size))

    def harness(self, name: str, **args: Any) -> dict[str, Any]:
        """Facts from running the student's definitions through a grader harness
        (see :mod:`autograder.studentcode.hidden_cases`)."""
        from autograder.studentcode.hidden_cases import run_harness

        key = ("harness", name, json.dumps(args, sort_keys=True))
        return self._cached(key, lambda: run_harness(self.notebook, name, args, self.limits, self.sandbox))

    def predictions(self, model_name: str, dataset: str, size: Optional[int] = None, scale: float = 1.0,
                    preprocess: str = "", settle_batchnorm: bool = False) -> Any:
        """(true labels, predicted labels) of the saved model on the grader's validation data.

        ``settle_batchnorm``: first re-estimate every BatchNormalization's moving statistics on the grader's
        training sample (a copy of the model; see :func:`autograder.scoring.settle.settled`), for profiles
        too short for a default momentum to settle them.
        """

        def predict() -> Any:
            import numpy as np

            model = self.model(model_name)
            x, y = self.validation_data(dataset, size, scale, preprocess=preprocess, image_size=model_image_size(model))
            if settle_batchnorm:
                from autograder.scoring.settle import settled

                model = settled(model, self.training_sample(dataset, size, scale, preprocess))
            try:
                scores = np.asarray(model.predict(x, batch_size=256, verbose=0))
            except Exception as exc:
                raise ArtifactError(f"{model_name} cannot predict on inputs of shape {x.shape[1:]}: {exc}") from exc
            if scores.ndim == 2 and scores.shape[1] == 1:
                predicted = (scores[:, 0] > 0.5).astype(int)
            else:
                predicted = scores.reshape(len(x), -1).argmax(axis=1)
            return y, predicted

        return self._cached(("predictions", model_name, dataset, size, scale, preprocess, settle_batchnorm),
                            predict)

    def accuracy(self, model_name: str, dataset: str, size: Optional[int] = None, scale: float = 1.0,
                 preprocess: str = "", settle_batchnorm: bool = False) -> float:
        """The saved model's accuracy on the grader's validation data."""
        y, predicted = self.predictions(model_name, dataset, size, scale, preprocess, settle_batchnorm)
        return float((predicted == y).mean())

    def confusion(self, model_name: str, dataset: str, size: Optional[int] = None, scale: float = 1.0,
                  preprocess: str = "", settle_batchnorm: bool = False) -> list[list[int]]:
        """The confusion matrix (rows: true class, columns: predicted) of the grader's re-evaluation."""
        import numpy as np

        y, predicted = self.predictions(model_name, dataset, size, scale, preprocess, settle_batchnorm)
        classes = int(max(y.max(initial=0), predicted.max(initial=0))) + 1
        matrix = np.zeros((classes, classes), dtype=int)
        np.add.at(matrix, (y.astype(int), predicted.astype(int)), 1)
        return matrix.tolist()

    def training_sample(self, dataset: str, size: Optional[int] = None, scale: float = 1.0,
                        preprocess: str = "") -> Any:
        """Images from the grader's training split (never the validation images), prepared as the validation
        data is: what re-estimating BatchNormalization statistics reads."""
        from coursework import datasets

        def load() -> Any:
            if dataset not in ("mnist", "cifar10"):
                raise ValueError(f"no training sample for {dataset!r}")
            (x, _), _ = datasets.training_split(dataset, 10, SETTLE_IMAGES, seed=1, data_dir=self.data_dir)
            x = x.astype("float32") / scale
            if preprocess:
                raise ValueError(f"no training sample with preprocessing {preprocess!r}")
            return x[..., None] if x.ndim == 3 else x

        return self._cached(("train", dataset, size, scale, preprocess), load)

    def training_data(self, dataset: str, size: Optional[int] = None, scale: float = 1.0,
                      validation_size: int = 10, image_size: tuple[int, int] = (150, 150),
                      preprocess: str = "") -> Any:
        """The grader's own copy of the course's training split (what the notebook trains on), as float32
        divided by ``scale`` (or put through ``preprocess``, as :meth:`validation_data` does): ``size`` images
        of it (all by default), after the ``validation_size`` images a
        notebook validates on are set apart (:func:`coursework.datasets.training_split`). The photos of dogs vs.
        cats are their ``train/`` folder (its validation photos are a folder apart), resized to ``image_size``."""
        from coursework import datasets

        def load() -> Any:
            import numpy as np

            if dataset == "cats_and_dogs":
                x, y = self._photos("train", size, 0, image_size)
            elif dataset in ("digits", "mnist", "cifar10"):
                (x, y), _ = datasets.training_split(dataset, validation_size, size, seed=0, data_dir=self.data_dir)
            else:
                raise ValueError(f"the grader has no training split of {dataset!r} to retrain on")
            return prepared(x, scale, preprocess), np.asarray(y).reshape(-1)

        resized = image_size if dataset == "cats_and_dogs" else None
        return self._cached(("training", dataset, size, scale, validation_size, resized, preprocess), load)

    def retrained(self, model_name: str, dataset: str, batch_size: int, train_size: Optional[int] = None,
                  scale: float = 1.0, max_epochs: Optional[int] = None, validation_size: int = 10,
                  augment: Optional[dict[str, Any]] = None, preprocess: str = "", pretrained: str = "",
                  after: str = "") -> str:
        """Retrain ``model_name``'s saved architecture with its saved recipe on the grader's training data
        (:mod:`autograder.scoring.retraining`); the name under which :meth:`accuracy` scores that model.

        ``pretrained`` ("vgg16"): its layers of that network start from the grader's own copy of the ImageNet
        weights. ``after`` (a model name): it starts from that model as the grader retrained it (05's phase 2
        fine-tunes what phase 1 trained), with the same settings."""
        from autograder.scoring import retraining

        name = model_name + RETRAINED
        recipe = self.retraining_recipe(batch_size, max_epochs, augment, pretrained, after)

        def train() -> Any:
            model = self.built(model_name)
            x, y = self.training_data(dataset, train_size, scale, validation_size, model_image_size(model), preprocess)
            from autograder.modelspec import check_budget, describe

            check_budget(describe(model), len(x), recipe.epochs, self.limits.retrain_work, model=model_name,
                         scope=f"{self.assignment} in {self.profile}", input_shape=x.shape[1:])
            start: Any = None  # sets the rebuilt model's starting weights
            if after:
                before = self.model(self.retrained(after, dataset, batch_size, train_size, scale, max_epochs,
                                                   validation_size, augment, preprocess, pretrained))
                start = functools.partial(retraining.copy_weights, before)
            elif pretrained:
                start = functools.partial(retraining.load_pretrained, retraining.pretrained(pretrained))
            return retraining.retrain(model, self.compiled(model_name), x, y, recipe, start)

        self._cached(("model", name), train)
        return name

    def shared_baseline(self, args: dict[str, Any]) -> Optional[dict[str, Any]]:
        """The figures of the baseline a check with ``args`` compares with, where the grader trained it once for
        the class (:mod:`autograder.scoring.shared_base`); None: train it here."""
        from autograder.scoring.shared_base import baseline_words

        return self.shared.get(baseline_words(args))

    def built(self, model_name: str) -> Any:
        """A fresh, untrained ``model_name`` as the grader builds it: from the course's locked cell where one
        defines it (its saved file unread), else from its saved config through the allow-list, frozen only where
        the course freezes it."""
        from autograder.scoring import retraining
        from autograder.scoring.locked import build_locked

        rules = self.course_models.get(model_name, {})
        if "locked_cell" in rules:
            return build_locked(self.released, rules["locked_cell"], rules["build"], self.seed)
        return retraining.rebuild(self.keras_config(model_name), self.seed, rules.get("frozen", ()))

    def compiled(self, model_name: str) -> Any:
        """How the grader compiles ``model_name`` (:class:`autograder.scoring.recipe.Compiled`): the course's
        recipe where a locked cell fixes it (the rubric's), else the notebook's, read through the allow-list."""
        from autograder.scoring import recipe

        rules = self.course_models.get(model_name, {})
        if "recipe" in rules:
            return recipe.from_rubric(rules["recipe"], f"[models.{model_name}]")
        return recipe.from_compile_config(self.keras_config(model_name).get("compile_config"))

    def recipe_words(self, model_name: str) -> str:
        """Whose recipe the grader trains ``model_name`` with, and what it is, for a message."""
        rules = self.course_models.get(model_name, {})
        whose = "the course's" if "recipe" in rules else "your"
        built = "the course's own definition, " if "locked_cell" in rules else ""
        return f"{built}{whose} recipe: {self.compiled(model_name).describe()}"

    def retraining_recipe(self, batch_size: int, max_epochs: Optional[int] = None,
                          augment: Optional[dict[str, Any]] = None, pretrained: str = "", after: str = "",
                          **data_sizes: Any) -> Any:
        """How :meth:`retrained` trains, from the same keywords (a rubric's ``retrain`` table); its data sizes
        (``train_size``, ``validation_size``) choose the images, not the recipe."""
        from autograder.scoring import retraining

        start = (f"from {after} as the grader retrained it" if after else
                 f"from the grader's own ImageNet {pretrained.upper()}" if pretrained else "")
        return retraining.Recipe(retraining.epochs_for(self.epochs, max_epochs), batch_size, self.seed,
                                 tuple((augment or {}).items()), start)

    def keras_config(self, model_name: str) -> dict[str, Any]:
        """The JSON config inside a saved ``.keras`` file (read from the zip, nothing deserialized)."""
        import zipfile

        def read() -> dict[str, Any]:
            try:
                with zipfile.ZipFile(self.keras_file(model_name)) as archive:
                    return json.loads(archive.read("config.json"))
            except (zipfile.BadZipFile, KeyError, ValueError) as exc:
                raise ArtifactError(f"{model_name}.keras holds no readable config: {exc}") from exc

        return self._cached(("config", model_name), read)


def per_epoch(model: str, metric: str, values: Any) -> list[Optional[float]]:
    """A history's list for one metric, with every non-finite number as None."""
    def number(v: Any) -> Optional[float]:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ArtifactError(f"the history of {model!r} in {HISTORIES} must map metrics to lists of numbers "
                                f"({metric!r} holds {type(v).__name__})")
        return float(v) if math.isfinite(v) else None

    if not isinstance(values, list):
        raise ArtifactError(f"the history of {model!r} in {HISTORIES} must map metrics to lists of numbers "
                            f"({metric!r} is a {type(values).__name__})")
    return [number(v) for v in values]
