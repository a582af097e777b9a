"""``coursework.submit(...)``: what a notebook's last locked cell calls.

It writes the artifacts the grader scores, all in formats that load without
running code: models as ``.keras`` files, histories, answers and metadata as
JSON. The grader recomputes everything from these; nothing here is trusted.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Optional

IMPORTED_AT = time.time()

HISTORIES = "histories.json"
ANSWERS = "answers.json"
METADATA = "metadata.json"


def submit(
    output_dir: os.PathLike | str,
    *,
    model: Any = None,
    history: Any = None,
    models: Optional[Mapping[str, Any]] = None,
    histories: Optional[Mapping[str, Any]] = None,
    answers: Optional[Mapping[str, Any]] = None,
    seed: Optional[int] = None,
    **metadata: Any,
) -> Path:
    """Save models, training histories, answers and metadata into ``output_dir``.

    ``model``/``history`` are shorthands for ``models={"model": ...}`` and
    ``histories={"model": ...}``. A history is a Keras ``History`` or a dict of
    per-epoch lists. Returns the output directory.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = {**({"model": model} if model is not None else {}), **(models or {})}
    histories = {**({"model": history} if history is not None else {}), **(histories or {})}
    for name, m in models.items():
        _check_name(name)
        _save_model(m, out / f"{name}.keras")
    clean_histories = {name: _history_dict(h) for name, h in histories.items()}
    _write_json(out / HISTORIES, clean_histories)
    _write_json(out / ANSWERS, dict(answers or {}))
    env = _environment()
    _write_json(
        out / METADATA,
        {
            **env,
            "seed": seed,
            "models": sorted(models),
            "epochs_run": {name: max((len(v) for v in h.values()), default=0) for name, h in clean_histories.items()},
            "wall_time_s": round(time.time() - IMPORTED_AT, 2),
            "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **metadata,
        },
    )
    names = ", ".join(sorted(models)) or "no model"
    print(f"Submitted {names} to {out} (Keras {env.get('keras')}, {env.get('backend')} backend, {env.get('device')})")
    return out


def _check_name(name: str) -> None:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"model name {name!r}: use letters, digits and underscores")


def _save_model(model: Any, path: Path) -> None:
    if not hasattr(model, "save") or "keras" not in type(model).__module__.split(".")[0]:
        raise TypeError(f"submit a Keras model, not {type(model).__name__}")
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _history_dict(history: Any) -> dict[str, list[Optional[float]]]:
    raw = getattr(history, "history", history)
    if not isinstance(raw, Mapping):
        raise TypeError(f"a history must be a Keras History or a dict of lists, not {type(history).__name__}")
    return {str(k): [_number(v) for v in values] for k, values in raw.items()}


def _number(value: Any) -> Optional[float]:
    x = float(value)
    return x if math.isfinite(x) else None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _environment() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "platform": sys.platform, "framework": "keras"}
    try:
        import keras

        info["keras"] = keras.__version__
        info["backend"] = keras.backend.backend()
        info["device"] = _device(info["backend"])
    except ImportError:
        pass
    return info


def _device(backend: str) -> str:
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if not gpus:
                return "CPU"
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
        if backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            return gpus[0].device_kind if gpus else "CPU"
    except Exception:
        pass
    return "unknown"
