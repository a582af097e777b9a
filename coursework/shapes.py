"""A model's layers and their output shapes, without parameter counts: what a notebook prints where
``model.summary()`` would give away the counts a student is asked to make by hand."""

from __future__ import annotations

__all__ = ["layer_shapes", "print_shapes"]


def _shape(shape) -> str:
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"


def layer_shapes(model) -> list[tuple[str, str, str]]:
    """Each layer's name, type and output shape (the batch size written as ``batch``), in order."""
    rows = []
    for layer in model.layers:
        output = getattr(layer, "output", None)
        shape = _shape(output.shape) if output is not None and hasattr(output, "shape") else "?"
        rows.append((layer.name, type(layer).__name__, shape))
    return rows


def print_shapes(model) -> None:
    """Print the table of :func:`layer_shapes` under the model's name."""
    rows = [("layer", "type", "output shape"), *layer_shapes(model)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"Model {model.name!r}: {len(rows) - 1} layers")
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
