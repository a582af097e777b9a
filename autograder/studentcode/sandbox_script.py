"""Call a student's definitions on hidden inputs and write down what they return. Runs inside the sandbox.

``python sandbox_script.py TASK DEFINITIONS.py ARGS.json OUT_DIR`` imports the
lifted definitions, calls them, and writes their raw results into OUT_DIR:
JSON for plain values, ``.npz`` arrays (saved without pickle) for batches.
It judges nothing and computes no fact: the grader reads these files outside
the sandbox (:mod:`autograder.studentcode.hidden_cases`), so nothing the student's
code does to this process can change a fact or a verdict.

This file imports nothing of the grader; it is copied into the sandbox alone.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any, Callable

TASKS: dict[str, Callable[[Any, dict, Path], dict]] = {}


def task(function: Callable[[Any, dict, Path], dict]) -> Callable[[Any, dict, Path], dict]:
    TASKS[function.__name__] = function
    return function


def _error(exc: BaseException) -> str:
    text = str(exc).strip()
    if text:
        return f"{type(exc).__name__}: {text}"[:300]
    if isinstance(exc, NotImplementedError):
        return "NotImplementedError (a '# YOUR CODE HERE' stub is not filled in yet?)"
    return f"{type(exc).__name__} (with no message)"


def _plain(value: Any) -> Any:
    """JSON's own types only; anything else (an always-equal object, ...) becomes its type's name."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (list, tuple):
        return [_plain(v) for v in value]
    return f"<{type(value).__name__}>"


@task
def generator(defs: Any, args: dict, out: Path) -> dict:
    """The first batches of ``defs.<function>(items, batch_size)`` for each case, and its empty-input behaviour."""
    fn = getattr(defs, args["function"], None)
    if fn is None:
        return {"missing": args["function"]}
    result: dict[str, Any] = {"is_generator_function": inspect.isgeneratorfunction(fn), "cases": []}
    for items, size, count in args["cases"]:
        got: list = []
        try:
            gen = fn(list(items), size)
            while len(got) < count:
                got.append(_plain(list(next(gen))))
            result["cases"].append({"got": got})
        except BaseException as exc:  # noqa: BLE001  (a student's StopIteration counts too)
            result["cases"].append({"got": got, "error": _error(exc), "stopped": isinstance(exc, StopIteration)})
    try:
        next(iter(fn([], 3)))
        result["empty"] = "no error"
    except BaseException as exc:  # noqa: BLE001
        result["empty"] = type(exc).__name__
    return result


def _numpy(value: Any) -> Any:
    """An array of any Keras backend (a NumPy array, a TensorFlow or PyTorch tensor) as a NumPy array."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def _dump(dataset: Any, path: Path, limit: int = 1_000) -> None:
    """Every batch of one pass over ``dataset``, as arrays ``x0, y0, x1, y1, ...`` (at most ``limit`` batches).

    A pass is an epoch as ``fit`` runs it: a ``keras.utils.PyDataset`` hears ``on_epoch_begin`` before and
    ``on_epoch_end`` after (where it reshuffles); any other iterable is simply iterated."""
    import numpy as np

    arrays: dict[str, Any] = {}
    begin, end = (getattr(dataset, hook, None) for hook in ("on_epoch_begin", "on_epoch_end"))
    if callable(begin):
        begin()
    for i, (x, y) in enumerate(dataset):
        if i >= limit:
            break
        arrays[f"x{i}"], arrays[f"y{i}"] = _numpy(x), _numpy(y)
    if callable(end):
        end()
    np.savez(path, **arrays)


@task
def pipeline(defs: Any, args: dict, out: Path) -> dict:
    """Two passes over each split that ``make_datasets`` returns for the hidden folder; with an
    augmentation, one augmented batch and one pass over each split built with it."""
    import numpy as np

    fn = getattr(defs, args["function"], None)
    if fn is None:
        return {"missing": args["function"]}
    kwargs = {"batch_size": args["batch_size"], "image_size": tuple(args["image_size"])}
    try:
        train, validation = fn(args["root"], **kwargs)
        for split, dataset in (("train", train), ("validation", validation)):
            for n in range(2):
                _dump(dataset, out / f"{split}-{n}.npz")
    except Exception as exc:
        return {"error": _error(exc)}
    if not args.get("augmentation"):
        return {}
    make = getattr(defs, args["augmentation"], None)
    if make is None:
        return {"missing": args["augmentation"]}
    try:
        augmentation = make()
        layers = [type(layer).__name__ for layer in getattr(augmentation, "layers", [])]
        x = _numpy(next(iter(validation))[0])
        np.savez(out / "augmented.npz", before=x, after=_numpy(augmentation(x, training=True)))
        train_aug, validation_aug = fn(args["root"], augmentation=augmentation, **kwargs)
        _dump(train_aug, out / "train_augmented-0.npz")
        _dump(validation_aug, out / "validation_augmented-0.npz")
    except Exception as exc:
        return {"augmentation_error": _error(exc)}
    return {"augmentation_layers": _plain(layers)}


def main(argv: list[str]) -> int:
    name, definitions, raw_args, out = argv
    spec = importlib.util.spec_from_file_location("student_definitions", definitions)
    module = importlib.util.module_from_spec(spec)
    result_file = Path(out) / "result.json"
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:
        result_file.write_text(json.dumps({"error": f"your definitions do not import: {_error(exc)}"}))
        return 0
    result = TASKS[name](module, json.loads(Path(raw_args).read_text()), Path(out))
    result_file.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
