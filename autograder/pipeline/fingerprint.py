"""A notebook's saved models and training curves, reduced to what a class's similarity report compares.

At scoring time (in the scoring process, through the same capped readers and
``safe_mode=True`` loading as the checks) each saved ``.keras`` model becomes a
small fingerprint: the digest of every weight array, a strided sample of each
array (the same positions for the same shape, for cosine similarity), the
architecture as a digest of its layer kinds and weight shapes, and the training
curves from ``histories.json``. It is stored beside the results
(``grading/STUDENT/NN_name.fingerprint.json``), so a class can be compared after
its artifacts are gone (``autograder.similarity``). Nothing is unpickled.
"""

from __future__ import annotations

import base64
import hashlib
import math
from typing import Any

FINGERPRINT_VERSION = 1
FINGERPRINT_SUFFIX = ".fingerprint.json"
SAMPLE_PER_ARRAY = 512  # values sampled from each weight array
MAX_MODELS = 8  # saved models fingerprinted per notebook (the course saves at most two)
EMPTY = {"version": FINGERPRINT_VERSION, "models": {}, "histories": {}, "errors": []}


def fingerprint(context: Any, sample_per_array: int = SAMPLE_PER_ARRAY) -> dict[str, Any]:
    """The fingerprint of a notebook's artifacts, read through ``context`` (a ScoringContext). Never raises:
    what cannot be read is named under ``errors``."""
    from autograder.errors import AutograderError

    result: dict[str, Any] = {**EMPTY, "models": {}, "histories": {}, "errors": []}
    artifacts = context.artifacts
    names = []
    if artifacts.is_dir() and not artifacts.is_symlink():
        names = sorted(p.name[: -len(".keras")] for p in artifacts.iterdir()
                       if p.name.endswith(".keras") and not p.name.endswith(".tmp.keras"))
    for name in names[:MAX_MODELS]:
        try:
            result["models"][name] = model_fingerprint(context.model(name), sample_per_array)
        except AutograderError as exc:
            result["errors"].append(str(exc))
        except Exception as exc:  # an odd model costs its fingerprint, not the notebook's grade
            result["errors"].append(f"{name}.keras: {type(exc).__name__}: {exc}")
    try:
        histories = context.json("histories.json")
        if isinstance(histories, dict):
            for name in list(histories)[:MAX_MODELS]:
                try:
                    result["histories"][str(name)] = context.history(name)
                except AutograderError as exc:
                    result["errors"].append(str(exc))
    except AutograderError:
        pass  # no history written: nothing to compare
    return result


def model_fingerprint(model: Any, sample_per_array: int = SAMPLE_PER_ARRAY) -> dict[str, Any]:
    """Digests, samples and architecture of one loaded Keras model."""
    import keras
    import numpy as np

    arrays = []
    whole = hashlib.sha256()
    for variable in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
        digest = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode() + value.tobytes()).hexdigest()
        whole.update(digest.encode())
        flat = value.reshape(-1).astype("float32")
        arrays.append({"shape": list(value.shape), "digest": digest,
                       "constant": bool(flat.size == 0 or np.all(flat == flat[0])),
                       "sample": base64.b64encode(flat[sample_positions(flat.size, sample_per_array)].tobytes())
                       .decode()})
    layers = [type(layer).__name__ for layer in _layers(model) if type(layer).__name__ != "InputLayer"]
    shapes = [a["shape"] for a in arrays]
    architecture = hashlib.sha256(repr((layers, shapes)).encode()).hexdigest()
    return {"architecture": architecture, "layers": layers, "digest": whole.hexdigest(), "arrays": arrays,
            "parameters": int(sum(math.prod(s) for s in shapes))}


def _layers(model: Any) -> list[Any]:
    """Every layer, nested models flattened, in the model's order."""
    found = []
    for layer in getattr(model, "layers", []):
        found.extend(_layers(layer) if getattr(layer, "layers", None) else [layer])
    return found


def sample_positions(size: int, count: int) -> Any:
    """``count`` evenly spaced positions of an array of ``size`` values: the same for the same shape."""
    import numpy as np

    return np.unique(np.linspace(0, size - 1, num=min(size, count)).astype(np.int64)) if size else np.zeros(0, int)
