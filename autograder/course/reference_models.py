"""The reference solutions' networks and what the grader retrains, per profile, without running a notebook.

:func:`reference_builders` builds each saved model of a reference notebook from the notebook's own definitions
(lifted from ``reference_solutions/`` without running its cells; the constants its cells set per profile, such as
01's image size and 05's input size, evaluated for that profile). :func:`retrainings` reads, from a rubric, every
model the grader retrains and on how many images for how many epochs. ``benchmarks/retrain_budget.py`` and
``python -m autograder cost`` both read them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

from autograder import rubric as rubrics
from autograder.paths import REFERENCE_DIR
from autograder.scoring.retraining import epochs_for

DEFAULT_VALIDATION = 10  # ScoringContext.retrained's validation_size when a retrain table names none

# The grader's training split of each data set (docs/architecture.md#data-sets): scikit-learn's digits less the
# 360 held out, MNIST's and CIFAR-10's x_train, dogs-vs-cats' train/ folder (its validation is a folder apart).
TRAINING_SPLIT = {"digits": 1437, "mnist": 60_000, "cifar10": 50_000, "cats_and_dogs": 2000}
# The input each data set's images have when a model does not choose it (dogs vs. cats follow the model's input).
DATA_SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "cifar10": (32, 32, 3)}

# Which expression, in the reference notebook's namespace, builds each saved model.
BUILDS: dict[str, dict[str, str]] = {
    "00": {"model": "build_model()"},
    "01": {"model": "build_model(IMAGE_SIZE + (3,))"},
    "02": {"model": "build_model()"},
    "03": {"model": "build_lenet5()"},
    "04": {"plain": "plain(DEPTH)", "residual": "residual(DEPTH)"},
    "05": {name: "build_model(vgg16_base(None, input_shape=(INPUT_SIZE, INPUT_SIZE, 3)))"
           for name in ("feature_extraction", "fine_tuned")},
    "06": {"base": "build_base()", "model": "build_model()"},
}


@dataclass(frozen=True)
class Retraining:
    """One model a rubric has the grader retrain, in one profile."""

    assignment: str
    profile: str
    model: str
    dataset: str
    images: int
    epochs: int


def retrainings(rubric: rubrics.Rubric, profile: str) -> list[Retraining]:
    """Every model ``rubric`` retrains in ``profile`` (a check's ``model`` and ``baseline``), each once."""
    found: dict[str, Retraining] = {}
    for spec in rubric.checks:
        args = spec.args_for(profile)
        table = args.get("retrain")
        if not table:
            continue
        dataset = args["dataset"]
        split = TRAINING_SPLIT[dataset]
        validation = 0 if dataset == "cats_and_dogs" else table.get("validation_size", DEFAULT_VALIDATION)
        images = table.get("train_size") or split - validation
        epochs = epochs_for(rubric.profiles[profile].epochs, table.get("max_epochs"))
        for model in [args.get("model", "model"), *([args["baseline"]] if "baseline" in args else [])]:
            found.setdefault(model, Retraining(rubric.id, profile, model, dataset, images, epochs))
    return list(found.values())


def profile_constants(cells: list[str], profile: str) -> dict[str, Any]:
    """The notebook's top-level assignments that depend on nothing but ``PROFILE`` and literals
    (``IMAGE_SIZE = {...}[PROFILE]``, ``INPUT_SIZE = 32 if PROFILE == "smoke" else 96``), for ``profile``."""
    from autograder.studentcode.notebook import parsed_cells

    found: dict[str, Any] = {}
    for module in parsed_cells(cells):
        for node in module.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                continue
            names = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            if names == {"PROFILE"}:
                found[node.targets[0].id] = eval(compile(ast.Expression(node.value), "<cell>", "eval"),
                                                 {"__builtins__": {}}, {"PROFILE": profile})
    return found


def reference_builders(assignment: str, profile: str, **constants: Any) -> dict[str, Callable[[], Any]]:
    """A function per saved model that builds the reference notebook's architecture for ``profile``
    (``constants``: other values for the notebook's constants, an honest variation)."""
    from autograder.studentcode.lift import student_definitions
    from autograder.studentcode.notebook import code_cells

    notebook = next(REFERENCE_DIR.glob(f"{assignment}_*/{assignment}_*.ipynb"))
    namespace: dict[str, Any] = {"__name__": f"reference_{assignment}"}
    exec(compile(student_definitions(notebook), str(notebook), "exec"), namespace)  # the course's own notebook
    namespace.update(profile_constants(code_cells(notebook), profile), **constants)
    return {model: (lambda expression=expression: eval(expression, namespace))
            for model, expression in BUILDS[assignment].items()}
