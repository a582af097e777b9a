"""Score: run a notebook's rubric checks on its artifacts, outside the student's kernel.

:class:`ScoringContext` gives checks lazy, cached access to what the notebook
wrote (models loaded with ``safe_mode=True``, JSON read without pickle, every
file size-capped before it is read), to the notebook's code as text, and to the
grader's own validation data. :class:`ScoringPool` scores each notebook in a
worker process of its own (started, with Keras imported, while that notebook's
kernel runs), so a crash, a hang or a Keras global set while loading a hostile
model costs that notebook alone, never the batch or the next student.
"""

from __future__ import annotations

import functools
import json
import math
import os
import stat
from concurrent.futures import ProcessPoolExecutor, TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder import workers
from autograder.checks import CHECKS
from autograder.errors import ArtifactError, CheckTimeout, MissingArtifact
from autograder.paths import RELEASED_DIR
from autograder.results import CheckResult, Outcome, Status, unscored
from autograder.rubric import CheckSpec, Limits, Rubric
from autograder.sandbox import Sandbox
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
        return {metric: _per_epoch(name, metric, values) for metric, values in histories[name].items()}

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
            return _prepared(x, scale, preprocess), np.asarray(y).reshape(-1)

        resized = image_size if dataset == "cats_and_dogs" else None
        return self._cached(("data", dataset, size, scale, seed, preprocess, resized), load)

    def _photos(self, split: str, size: Optional[int], seed: int, image_size: tuple[int, int]) -> Any:
        """Dogs vs. cats' ``split`` folder (or a fixed, balanced ``size`` of it), resized to ``image_size``."""
        from coursework import datasets

        root = (datasets.cats_and_dogs_small(self.data_dir) if size is None else
                datasets.cats_and_dogs_subset({split: size // 2}, seed=seed, data_dir=self.data_dir))
        return datasets.load_image_split(root / split, _photo_size(image_size))

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
        training sample (a copy of the model; see :func:`autograder.checks.batchnorm.settled`), for profiles
        too short for a default momentum to settle them.
        """

        def predict() -> Any:
            import numpy as np

            model = self.model(model_name)
            x, y = self.validation_data(dataset, size, scale, preprocess=preprocess, image_size=_image_size(model))
            if settle_batchnorm:
                from autograder.checks.batchnorm import settled

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
            return _prepared(x, scale, preprocess), np.asarray(y).reshape(-1)

        resized = image_size if dataset == "cats_and_dogs" else None
        return self._cached(("training", dataset, size, scale, validation_size, resized, preprocess), load)

    def retrained(self, model_name: str, dataset: str, batch_size: int, train_size: Optional[int] = None,
                  scale: float = 1.0, max_epochs: Optional[int] = None, validation_size: int = 10,
                  augment: Optional[dict[str, Any]] = None, preprocess: str = "", pretrained: str = "",
                  after: str = "") -> str:
        """Retrain ``model_name``'s saved architecture with its saved recipe on the grader's training data
        (:mod:`autograder.retraining`); the name under which :meth:`accuracy` scores that model.

        ``pretrained`` ("vgg16"): its layers of that network start from the grader's own copy of the ImageNet
        weights. ``after`` (a model name): it starts from that model as the grader retrained it (05's phase 2
        fine-tunes what phase 1 trained), with the same settings."""
        from autograder import retraining

        name = model_name + RETRAINED
        recipe = self.retraining_recipe(batch_size, max_epochs, augment, pretrained, after)

        def train() -> Any:
            model = self.built(model_name)
            x, y = self.training_data(dataset, train_size, scale, validation_size, _image_size(model), preprocess)
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
        the class (:mod:`autograder.pipeline.shared_base`); None: train it here."""
        from autograder.pipeline.shared_base import baseline_words

        return self.shared.get(baseline_words(args))

    def built(self, model_name: str) -> Any:
        """A fresh, untrained ``model_name`` as the grader builds it: from the course's locked cell where one
        defines it (its saved file unread), else from its saved config through the allow-list, frozen only where
        the course freezes it."""
        from autograder import retraining
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
        from autograder import retraining

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


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of a regular file, never through a symlink (even one swapped in after a check)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ArtifactError(f"{path.name} is not a readable regular file: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArtifactError(f"{path.name} is not a regular file")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ArtifactError(f"{path.name} is larger than the {max_bytes:,} bytes allowed")
    return data


def check_zip(path: Path, limits: Limits) -> None:
    """Refuse a ``.keras`` zip whose central directory promises too much, before anything expands it.

    The end record gives the member count before the directory is parsed; then each JSON member is checked
    against ``json_bytes`` and all members together against ``model_expanded_bytes``. Python's ``zipfile``
    (which Keras reads through) never expands a member past the size its directory entry declares.
    """
    import zipfile

    label = path.name
    try:
        with open(path, "rb") as fh:
            end = zipfile._EndRecData(fh)  # the end-of-central-directory record (zip64 aware), parsed alone
        if end is None:
            raise zipfile.BadZipFile("no end of central directory")
        if end[zipfile._ECD_ENTRIES_TOTAL] > limits.model_members:
            raise ArtifactError(f"{label} has more than {limits.model_members:,} members "
                                f"({end[zipfile._ECD_ENTRIES_TOTAL]:,}); the limit is model_members")
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ArtifactError(f"{label} cannot be loaded safely: it is not a readable zip archive ({exc})") from exc
    if len(members) > limits.model_members:
        raise ArtifactError(f"{label} has more than {limits.model_members:,} members ({len(members):,}); "
                            "the limit is model_members")
    for member in members:
        if member.filename.endswith(".json") and member.file_size > limits.json_bytes:
            raise ArtifactError(f"{label}: {member.filename} expands to {member.file_size:,} bytes; "
                                f"the limit is {limits.json_bytes:,} bytes (json_bytes)")
    total = sum(m.file_size for m in members)
    if total > limits.model_expanded_bytes:
        raise ArtifactError(f"{label} expands to {total:,} bytes; the limit is {limits.model_expanded_bytes:,} "
                            "bytes (model_expanded_bytes)")
    check_declared_size(path, limits)


def check_declared_size(path: Path, limits: Limits) -> None:
    """Refuse a ``.keras`` whose config declares more than ``model_parameters`` variables, or whose weights
    member declares arrays of more than ``model_expanded_bytes`` together (a tiny gzip-chunked HDF5 dataset can
    declare gigabytes), counted from headers alone: see :mod:`autograder.pipeline.declared_size`."""
    import zipfile

    from autograder.pipeline.declared_size import declared_parameters

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError) as exc:
        raise ArtifactError(f"{path.name} holds no readable config: {exc}") from exc
    from autograder.pipeline.declared_size import declared_array_bytes

    try:
        declared_parameters(config, cap=limits.model_parameters)
        with zipfile.ZipFile(path) as archive:
            for kind in ("h5", "npz"):
                if f"model.weights.{kind}" in archive.namelist():
                    with archive.open(f"model.weights.{kind}") as weights:
                        declared_array_bytes(weights, kind, limits.model_expanded_bytes)
    except ArtifactError as exc:
        raise ArtifactError(f"{path.name}: {exc}") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArtifactError(f"{path.name}: its weights cannot be read: {exc}") from exc


def _per_epoch(model: str, metric: str, values: Any) -> list[Optional[float]]:
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


def run_check(function: str, context: ScoringContext, args: dict[str, Any]
                       ) -> tuple[Status, str, Optional[float], float, Optional[dict[str, Any]]]:
    """(status, message, value, fraction, detail) for one check; never raises."""
    try:
        outcome = CHECKS[function](context, **args)
    except MissingArtifact as exc:
        return Status.MISSING, str(exc), None, 0.0, None
    except ArtifactError as exc:
        return Status.ERROR, str(exc), None, 0.0, None
    except CheckTimeout as exc:
        return Status.TIMEOUT, str(exc), None, 0.0, None
    except Exception as exc:  # a check that crashes on odd input is an error for this check only
        return Status.ERROR, f"the check could not run: {type(exc).__name__}: {exc}", None, 0.0, None
    if not isinstance(outcome, Outcome):
        return Status.ERROR, f"check {function} returned {type(outcome).__name__}, not an Outcome", None, 0.0, None
    if outcome.passed is None:
        return Status.NOT_JUDGED, outcome.message, outcome.value, 0.0, outcome.detail
    fraction = outcome.fraction if outcome.fraction is not None else (1.0 if outcome.passed else 0.0)
    return ((Status.PASS if outcome.passed else Status.FAIL), outcome.message, outcome.value,
            max(0.0, min(1.0, fraction)), outcome.detail)


def selected(rubric: Rubric, check_ids: Optional[Sequence[str]] = None, static_only: bool = False) -> list[CheckSpec]:
    """The rubric's checks, restricted to ``check_ids`` and to those that need no execution."""
    return [s for s in rubric.checks
            if (check_ids is None or s.id in check_ids) and not (static_only and s.needs_execution)]


def score(
    rubric: Rubric,
    profile: str,
    artifacts: Path,
    notebook: Optional[Path],
    data_dir: Optional[str] = None,
    check_ids: Optional[Sequence[str]] = None,
    static_only: bool = False,
    limits: Optional[Limits] = None,
    sandbox: Optional[Sandbox] = None,
    seed: int = 0,
    shared: Optional[dict[str, Any]] = None,
) -> list[CheckResult]:
    """Run the rubric's checks (all, or ``check_ids``) in this process; ``seed``: the run's injected seed;
    ``shared``: figures of networks trained once for the class."""
    context = ScoringContext(artifacts, notebook, profile, limits or rubric.profiles[profile].limits, data_dir,
                             sandbox, rubric.profiles[profile].epochs, seed, rubric, shared)
    results = []
    for spec in selected(rubric, check_ids, static_only):
        status, message, value, fraction, detail = run_check(spec.function, context,
                                                                      spec.args_for(profile))
        results.append(CheckResult(rubric.id, spec.id, spec.description, round(spec.points * fraction, 3),
                                   spec.max_points, status, message, value, detail))
    return results


def _score_job(rubric: Rubric, profile: str, artifacts: str, notebook: Optional[str], data_dir: Optional[str],
               static_only: bool, limits: Limits, sandbox: Optional[Sandbox], seed: int = 0,
               shared: Optional[dict[str, Any]] = None) -> list[CheckResult]:
    """Worker entry point: score one notebook."""
    import sys

    _memory_capped(limits)
    try:
        return score(rubric, profile, Path(artifacts), Path(notebook) if notebook else None, data_dir,
                     static_only=static_only, limits=limits, sandbox=sandbox, seed=seed, shared=shared)
    finally:
        if "keras" in sys.modules:
            sys.modules["keras"].backend.clear_session()


def _fingerprint_job(artifacts: str, profile: str, limits: Limits) -> dict[str, Any]:
    """Worker entry point: the similarity fingerprint of one notebook's saved models and curves."""
    import sys

    from autograder.pipeline.fingerprint import fingerprint

    _memory_capped(limits)
    try:
        return fingerprint(ScoringContext(Path(artifacts), None, profile, limits))
    finally:
        if "keras" in sys.modules:
            sys.modules["keras"].backend.clear_session()


MAX_PHOTO_SIDE = 150  # the course's photo size: a model declaring larger inputs must not size the grader's arrays


def _prepared(x: Any, scale: float, preprocess: str) -> Any:
    """Images as float32 divided by ``scale``, or put through ``preprocess`` ("vgg16":
    ``keras.applications.vgg16.preprocess_input`` on 0-255 pixels); one channel made explicit."""
    import numpy as np

    x = x.astype("float32") / scale
    if preprocess == "vgg16":
        from keras.applications.vgg16 import preprocess_input

        x = np.asarray(preprocess_input(x))
    elif preprocess:
        raise ValueError(f"unknown preprocessing {preprocess!r}")
    return x[..., None] if x.ndim == 3 else x


def _image_size(model: Any) -> tuple[int, int]:
    """The (height, width) a model's images are, where its input fixes them; the course's photo size otherwise."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 4 and isinstance(shape[1], int) and isinstance(shape[2], int):
        return shape[1], shape[2]
    return MAX_PHOTO_SIDE, MAX_PHOTO_SIDE


def _photo_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """``image_size``, refused where it would make the grader's arrays of photos larger than the course's."""
    if not all(0 < side <= MAX_PHOTO_SIDE for side in image_size):
        raise ArtifactError(f"the saved model takes {image_size[0]}x{image_size[1]} images; the grader "
                            f"resizes its photos to at most {MAX_PHOTO_SIDE}x{MAX_PHOTO_SIDE}")
    return image_size


def _start_worker(grader: int) -> None:
    """A scoring worker: dies with the grader, has no network, logs TensorFlow's C++ chatter to /dev/null."""
    workers.die_with(grader)
    workers.without_network()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


def _memory_capped(limits: Limits) -> None:
    """Cap this worker's heap at the profile's ``memory_bytes`` for the job at hand (what a sandboxed kernel may
    use): an artifact that makes scoring allocate past it fails this notebook, not the grader's machine."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = limits.memory_bytes if hard == resource.RLIM_INFINITY else min(limits.memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))


def _warm_up() -> int:
    """Import Keras (and its backend) in a new scoring process before its notebook is ready to score; its pid."""
    import keras  # noqa: F401

    return os.getpid()


def _failed(future: Any) -> bool:
    """Whether ``future`` (a warm-up) ended without its result: its process died, or never ran it."""
    return future is not None and future.done() and (future.cancelled() or future.exception() is not None)


class ScoringPool:
    """A scoring process per notebook: scoring and fingerprinting one notebook's artifacts share a process, which
    is never used for another notebook. Whatever reading one notebook's artifacts left in a process (a Keras module
    global set through a config, a cache) cannot reach another student's scores; a job that kills or hangs its
    process costs that notebook alone.

    :meth:`notebook_done` (``grade_notebook`` calls it) ends the process and starts the next one at once, so that
    it imports Keras while the next notebook's kernel runs. A ``score`` in a process that has read another
    notebook's artifacts first replaces it (without that head start); so does a ``fingerprint`` of artifacts
    other than the ones its process scored.
    """

    def __init__(self) -> None:
        self._executor: Optional[ProcessPoolExecutor] = None
        self._warming: Optional[Any] = None  # the new process's warm-up: its pid once Keras is imported
        self._artifacts: Optional[str] = None  # the one notebook's artifacts the process has read (None: none)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = workers.pool(1, _start_worker)
            self._warming = self._executor.submit(_warm_up)
        return self._executor

    def _process_for(self, artifacts: Path, scoring: bool) -> ProcessPoolExecutor:
        """A process that has read no artifacts but ``artifacts`` (none at all, to ``score``): this one, or a new
        one in its place."""
        if self._artifacts is not None and (scoring or self._artifacts != str(artifacts)):
            self.kill()
        elif self._artifacts is None and _failed(self._warming):
            self.kill()  # it died before reading anything (the grader's failure, not this notebook's): start again
        executor = self._pool()
        self._artifacts = str(artifacts)
        return executor

    def warm_up(self) -> None:
        """Start the scoring process now: it imports Keras while the first notebook runs."""
        self._pool()

    def notebook_done(self) -> None:
        """The notebook in hand is scored and fingerprinted: end its process now and start the next one, which
        imports Keras while the next notebook runs (a process that has read no artifacts is kept)."""
        if self._artifacts is not None:
            self.kill()
            self._pool()

    def kill(self) -> None:
        """End the scoring process now, with any job in it."""
        self._artifacts = None
        if self._executor is None:
            return
        workers.kill(self._executor)
        self._executor = self._warming = None

    def score(self, rubric: Rubric, profile: str, artifacts: Path, notebook: Optional[Path],
              data_dir: Optional[str] = None, static_only: bool = False,
              limits: Optional[Limits] = None, sandbox: Optional[Sandbox] = None, seed: int = 0,
              shared: Optional[dict[str, Any]] = None) -> list[CheckResult]:
        """``rubric``'s checks on ``artifacts``, in a process that has read no other artifacts; ``shared``: figures
        of networks the grader trained once for the class (:mod:`autograder.pipeline.shared_base`)."""
        limits = limits or rubric.profiles[profile].limits
        try:
            future = self._process_for(artifacts, scoring=True).submit(
                _score_job, rubric, profile, str(artifacts), str(notebook) if notebook else None, data_dir,
                static_only, limits, sandbox, seed, shared)
            return future.result(timeout=limits.scoring_timeout)
        except FutureTimeout:
            self.kill()
            status, message = Status.TIMEOUT, f"scoring took longer than {limits.scoring_timeout:.0f} s and was stopped"
        except BrokenProcessPool:
            self.kill()
            status, message = Status.ERROR, "the scoring process died while loading or evaluating the artifacts"
        return unscored(rubric.id, selected(rubric, static_only=static_only), status, message)

    def fingerprint(self, artifacts: Path, profile: str, limits: Limits) -> dict[str, Any]:
        """The similarity fingerprint of ``artifacts`` (autograder.pipeline.fingerprint), read in the process that
        scored them (else in a new one)."""
        try:
            future = self._process_for(artifacts, scoring=False).submit(_fingerprint_job, str(artifacts), profile,
                                                                        limits)
            return future.result(timeout=limits.scoring_timeout)
        except FutureTimeout:
            self.kill()
            error = f"fingerprinting took longer than {limits.scoring_timeout:.0f} s and was stopped"
        except BrokenProcessPool:
            self.kill()
            error = "the scoring process died while fingerprinting the artifacts"
        return {"version": 1, "models": {}, "histories": {}, "errors": [error]}

    def close(self) -> None:
        """End the scoring process and wait for it to go (no job is in flight between notebooks; the warm-up of a
        process no notebook will use is cut short, not waited for)."""
        if self._executor is not None:
            workers.kill(self._executor, join_seconds=10)
        self._executor = self._warming = self._artifacts = None

    def __enter__(self) -> "ScoringPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.close()
        else:  # interrupted: do not wait for a job in flight
            self.kill()
