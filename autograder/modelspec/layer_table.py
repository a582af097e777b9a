"""``python -m autograder inspect``: load a model and print its layer table."""

from __future__ import annotations

import json
import runpy
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder.errors import ModelLoadError
from autograder.modelspec import ModelDescription, describe
from autograder.modelspec.receptive_field import fmt

COLUMNS = ("layer", "kind", "output", "params", "RF", "jump", "padding")


def load_model(path: Path) -> tuple[Any, Optional[Sequence[int]]]:
    """A model from a ``.keras`` file, or from ``build_model()`` in a Python file.

    A Python file may also define ``INPUT_SHAPE`` (needed for a PyTorch module).
    A ``.keras`` file is loaded with ``safe_mode=True``: no Lambda code runs.
    """
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file")
    if path.suffix == ".keras":
        import keras

        try:
            return keras.saving.load_model(path, compile=False, safe_mode=True), None
        except Exception as exc:
            raise ModelLoadError(f"{path}: not a loadable .keras model ({exc})") from exc
    if path.suffix == ".py":
        try:
            namespace = runpy.run_path(str(path), run_name="__inspect__")
            build = namespace.get("build_model")
            if not callable(build):
                raise ModelLoadError(f"{path}: defines no build_model() function")
            return build(), namespace.get("INPUT_SHAPE")
        except ModelLoadError:
            raise
        except Exception as exc:  # the file's own code failed: say where, without our traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ModelLoadError(f"{path}: building the model failed: {type(exc).__name__}: {first}") from exc
    raise ModelLoadError(f"{path}: expected a .keras file or a .py file defining build_model()")


def run(path: str, input_shape: Optional[Sequence[int]] = None, as_json: bool = False) -> str:
    model, default_shape = load_model(Path(path))
    description = describe(model, input_shape or default_shape)
    if as_json:
        return json.dumps(description.to_records(), indent=1)
    return format_table(description)


def format_table(description: ModelDescription) -> str:
    rows = [
        (
            info.qualname,
            info.kind,
            "x".join("?" if d is None else str(d) for d in info.output_shape),
            f"{info.params:,}",
            _fmt_pair(info.rf),
            _fmt_pair(info.jump),
            _fmt_pair(info.padding),
        )
        for info in description
    ]
    widths = [max(len(str(r[i])) for r in (COLUMNS, *rows)) for i in range(len(COLUMNS))]
    right = {3, 4, 5, 6}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(COLUMNS), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    out.append("")
    out.append(f"Total params: {description.params:,}")
    out.append(f"Trainable params: {description.trainable_params:,}")
    out.append(f"Non-trainable params: {description.non_trainable_params:,}")
    framework_counted = [i.qualname for i in description if i.params_source == "framework"]
    if framework_counted:
        out.append(f"Counted by the framework (kind unknown to the inspector): {', '.join(framework_counted)}")
    return "\n".join(out)


def _fmt_pair(pair: Optional[tuple[Fraction, Fraction]]) -> str:
    if pair is None:
        return "-"
    return fmt(pair[0]) if pair[0] == pair[1] else f"{fmt(pair[0])}x{fmt(pair[1])}"
