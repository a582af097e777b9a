"""What the feedback page draws from the grader's own figures: learning curves, confusion matrices, layer tables.

Each function takes the plain JSON ``detail`` a check returned (see :class:`autograder.results.Outcome`) and
returns a PNG (bytes, drawn with matplotlib's Agg canvas, no display needed) or an HTML fragment made only of
the tags the page's sanitizer keeps.
"""

from __future__ import annotations

import html
import io
from typing import Any, Mapping, Optional, Sequence

CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CLASS_NAMES = {"cifar10": CIFAR10, "cats_and_dogs": ("cat", "dog")}


def _png(figure: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def learning_curves(history: Mapping[str, Sequence[Optional[float]]], title: str) -> Optional[bytes]:
    """Loss and accuracy per epoch, training and validation side by side; None when there is nothing to draw."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    panels = [(name, [m for m in (name, f"val_{name}") if history.get(m)]) for name in ("loss", "accuracy")]
    panels = [(name, metrics) for name, metrics in panels if metrics]
    if not panels:
        return None
    figure = Figure(figsize=(4.2 * len(panels), 3.2))
    for i, (name, metrics) in enumerate(panels):
        axis = figure.add_subplot(1, len(panels), i + 1)
        for metric in metrics:
            values = [v for v in history[metric]]
            epochs = [e + 1 for e, v in enumerate(values) if v is not None]
            axis.plot(epochs, [v for v in values if v is not None], marker="o", markersize=3,
                      label="validation" if metric.startswith("val_") else "training")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    return _png(figure)


def class_labels(n: int, dataset: str = "") -> list[str]:
    """The names of a data set's ``n`` classes, or their numbers."""
    names = CLASS_NAMES.get(dataset, ())
    return list(names) if len(names) == n else [str(i) for i in range(n)]


def confusion_matrix(matrix: Sequence[Sequence[int]], title: str, dataset: str = "") -> bytes:
    """The grader's re-evaluation as a confusion matrix: rows the true class, columns the predicted one."""
    import numpy as np
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=int)
    n = len(counts)
    labels = class_labels(n, dataset)
    figure = Figure(figsize=(1.2 + 0.5 * max(n, 4), 1.0 + 0.45 * max(n, 4)))
    axis = figure.add_subplot(1, 1, 1)
    image = axis.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    axis.set_xticks(range(n), labels, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(n), labels, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    top = counts.max() if counts.size else 0
    for (r, c), value in np.ndenumerate(counts):
        axis.text(c, r, str(value), ha="center", va="center", fontsize=7,
                  color="white" if top and value > top / 2 else "black")
    accuracy = np.trace(counts) / counts.sum() if counts.sum() else 0.0
    axis.set_title(f"{title}: accuracy {accuracy:.3f}")
    return _png(figure)


RIGHT, WRONG = "✔ right", "✘ wrong"


def layer_table(rows: Sequence[Mapping[str, Any]], reveal: bool) -> str:
    """The 06 annotations, one row per layer: what was written for the output size and the RF, each marked
    right or wrong, and the computed values only when the rubric reveals them."""
    head = ["line", "layer", "output size written", "output size right?", "RF written", "RF right?"]
    if reveal:
        head += ["output size (grader)", "RF (grader)"]
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for row in rows:
        cells = [str(row.get("line", "")), f"{row.get('layer', '')} <small>({row.get('name', '')})</small>"]
        for field in ("out", "rf"):
            written, ok = row.get(field), row.get(f"{field}_ok")
            if written is None:
                shown = "<em>unreadable</em>" if row.get("unreadable") else ("—" if row.get("needed") else "")
                mark = WRONG if row.get("needed") else ""
            else:
                shown, mark = html.escape(str(written)), RIGHT if ok else WRONG
            cells += [shown, f"<strong>{mark}</strong>" if mark == WRONG else mark]
        if reveal:
            cells += [html.escape(str(row.get("out_true") or "")), html.escape(str(row.get("rf_true") or ""))]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    note = ("" if reveal else "<p><small>The grader's values are not shown for this assignment: work them out "
            "with the recurrences in section 2.</small></p>")
    return "\n".join(out) + note
