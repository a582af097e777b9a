"""Harnesses that call a student's definitions; run by :mod:`autograder.studentcode.harness` in a fresh process.

``python -m autograder.studentcode.harnesses NAME DEFINITIONS.py ARGS_JSON`` imports the
student's definitions, exercises them, and prints one JSON line of facts.
The harness gathers facts only; the check functions judge them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

HARNESSES: dict[str, Callable[[Any, dict], dict]] = {}


def harness(function: Callable[[Any, dict], dict]) -> Callable[[Any, dict], dict]:
    HARNESSES[function.__name__] = function
    return function


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


@harness
def generator(defs: Any, args: dict) -> dict:
    """First batches of ``defs.<function>(items, batch_size)`` for each case, and its empty-input behaviour."""
    fn = getattr(defs, args["function"], None)
    if fn is None:
        return {"missing": args["function"]}
    facts: dict[str, Any] = {"is_generator_function": inspect.isgeneratorfunction(fn), "cases": []}
    for items, size, count in args["cases"]:
        got: list = []
        try:
            gen = fn(list(items), size)
            while len(got) < count:
                got.append(list(next(gen)))
            facts["cases"].append({"got": got})
        except BaseException as exc:  # noqa: BLE001  (a student's StopIteration counts too)
            facts["cases"].append({"got": got, "error": _error(exc), "stopped": isinstance(exc, StopIteration)})
    try:
        next(iter(fn([], 3)))
        facts["empty"] = "no error"
    except BaseException as exc:  # noqa: BLE001
        facts["empty"] = type(exc).__name__
    return facts


def make_image_tree(root: Path, counts: dict[str, int], seed: int = 0) -> Path:
    """train/ and validation/ with a dark class ``cats`` and a bright class ``dogs``, images of odd sizes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    sizes = [(90, 120), (200, 160), (150, 150), (64, 300)]
    for split, count in counts.items():
        for label, (low, high) in (("cats", (0, 60)), ("dogs", (190, 256))):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                h, w = sizes[i % len(sizes)]
                pixels = rng.integers(low, high, size=(h, w, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{label[:-1]}.{i}.jpg", quality=95)
    return root


def _passes(dataset: Any, passes: int = 2) -> list[dict]:
    import numpy as np

    result = []
    for _ in range(passes):
        batches, labels, brightness, images, digest = [], [], [], [], hashlib.sha256()
        for x, y in dataset:
            x, y = np.asarray(x), np.asarray(y)
            batches.append({"x_shape": list(x.shape), "x_dtype": str(x.dtype), "x_min": float(x.min()),
                            "x_max": float(x.max()), "y_shape": list(y.shape), "y_dtype": str(y.dtype)})
            labels += [float(v) for v in y.reshape(len(y), -1)[:, 0]]
            brightness += [float(v) for v in x.reshape(len(x), -1).mean(axis=1)]
            digest.update(np.ascontiguousarray(x).tobytes())
            images += [hashlib.sha256(np.round(img, 4).tobytes()).hexdigest()[:16] for img in x]
        result.append({"batches": batches, "labels": labels, "brightness": brightness, "digest": digest.hexdigest(),
                       "images": sorted(images)})
    return result


@harness
def pipeline(defs: Any, args: dict) -> dict:
    """What ``make_datasets`` yields on a directory the student never saw (two passes of each split)."""
    import numpy as np

    fn = getattr(defs, args["function"], None)
    if fn is None:
        return {"missing": args["function"]}
    root = make_image_tree(Path("images"), args["counts"])
    kwargs = {"batch_size": args["batch_size"], "image_size": tuple(args["image_size"])}
    facts: dict[str, Any] = {}
    try:
        train, validation = fn(str(root), **kwargs)
        facts["train"], facts["validation"] = _passes(train), _passes(validation)
    except Exception as exc:
        return {"error": _error(exc)}
    if not args.get("augmentation"):
        return facts
    make = getattr(defs, args["augmentation"], None)
    if make is None:
        return {**facts, "missing": args["augmentation"]}
    try:
        augmentation = make()
        facts["augmentation_layers"] = [type(layer).__name__ for layer in getattr(augmentation, "layers", [])]
        x = np.asarray(next(iter(validation))[0])
        out = np.asarray(augmentation(x, training=True))
        facts["augmented"] = {"shape": list(out.shape), "dtype": str(out.dtype), "min": float(out.min()),
                              "max": float(out.max()), "mean_abs_change": float(np.abs(out - x).mean()),
                              "input_shape": list(x.shape)}
        train_aug, validation_aug = fn(str(root), augmentation=augmentation, **kwargs)
        facts["train_augmented"] = _passes(train_aug, 1)
        facts["validation_augmented"] = _passes(validation_aug, 1)
    except Exception as exc:
        facts["augmentation_error"] = _error(exc)
    return facts


def main(argv: list[str]) -> int:
    name, definitions, raw_args = argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    spec = importlib.util.spec_from_file_location("student_definitions", definitions)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:
        print(json.dumps({"error": f"your definitions do not import: {_error(exc)}"}))
        return 0
    print(json.dumps(HARNESSES[name](module, json.loads(raw_args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
