"""What makes the feedback page readable without sight or colour: text alternatives for the grader's figures
and a stylesheet that gives the page's code and prompts enough contrast (WCAG AA, 4.5:1) and underlines its
links (a notebook's links must be told from its text without colour).

The figures' alt texts are written where the figures are drawn (:func:`learning_curves_alt`,
:func:`confusion_alt`), kept in each figure output's metadata, and set on the page's ``<img>`` after nbconvert
has rendered it (nbconvert itself writes "No description has been provided for this image").
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

ALT_KEY = "alt"  # in a figure output's metadata["image/png"]

# nbconvert's JupyterLab light theme below 4.5:1 on its code background (#f5f5f5) or page (#fff), as axe-core
# measures it: the same hues, darker.
CONTRAST_CSS = """
:root {
  --jp-mirror-editor-comment-color: #2f6b6b;
  --jp-mirror-editor-number-color: #006600;
  --jp-mirror-editor-operator-color: #7a1fbf;
  --jp-mirror-editor-meta-color: #7a1fbf;
  --jp-mirror-editor-atom-color: #3f3fd9;
  --jp-mirror-editor-variable-3-color: #00663f;
  --jp-mirror-editor-bracket-color: #5c5c33;
  --jp-mirror-editor-error-color: #c00000;
  --jp-mirror-editor-hr-color: #595959;
  --jp-cell-inprompt-font-color: #1f5f99;
  --jp-cell-outprompt-font-color: #a0462d;
  --jp-cell-prompt-not-active-font-color: #595959;
  --jp-cell-prompt-not-active-opacity: 1;
}
main a, body a { text-decoration: underline !important; }  /* links told from text without colour */
"""


def _final(values: Sequence[Optional[float]]) -> Optional[float]:
    return next((v for v in reversed(values) if v is not None), None)


def learning_curves_alt(history: Mapping[str, Sequence[Optional[float]]], model: str) -> str:
    """"Learning curves of model over 3 epochs; final values: training loss 1.200, validation loss 1.400, ..."."""
    finals = []
    for metric in ("loss", "val_loss", "accuracy", "val_accuracy"):
        value = _final(history.get(metric) or [])
        if value is not None:
            kind = "validation" if metric.startswith("val_") else "training"
            finals.append(f"{kind} {metric.removeprefix('val_')} {value:.3f}")
    epochs = max((len(v) for v in history.values() if v), default=0)
    return f"Learning curves of {model} over {epochs} epochs; final values: {', '.join(finals)}."


def confusion_alt(matrix: Sequence[Sequence[int]], model: str, labels: Sequence[str]) -> str:
    """The accuracy, and the worst class: how many of its images were right, and what it was most taken for."""
    total = sum(sum(row) for row in matrix)
    right = sum(matrix[i][i] for i in range(len(matrix)))
    text = (f"Confusion matrix of {model} on {total:,} images (rows: true class, columns: predicted class); "
            f"accuracy {right / total if total else 0:.3f}.")
    recalls = [(row[i] / sum(row), i) for i, row in enumerate(matrix) if sum(row)]
    if not recalls:
        return text
    recall, worst = min(recalls)
    row = matrix[worst]
    confused = max((n, j) for j, n in enumerate(row) if j != worst) if len(row) > 1 else (0, worst)
    text += f" Worst class: {labels[worst]}, {row[worst]:,} of {sum(row):,} right ({recall:.3f})"
    if confused[0]:
        text += f", most often predicted as {labels[confused[1]]} ({confused[0]:,} images)"
    return text + "."


def annotations_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """"3 right, 2 wrong, of 5 layers that need an annotation": the 06 table's verdicts in words."""
    needed = [r for r in rows if r.get("needed")]
    right = sum(1 for r in needed if r.get("out_ok") and r.get("rf_ok"))
    return f"{right} right, {len(needed) - right} wrong, of {len(needed)} layers that need an annotation"


def figure_alts(nb: Any, tag: str) -> list[str]:
    """The alt text of every image output of the cells tagged ``tag``, in page order."""
    return [output.get("metadata", {}).get("image/png", {}).get(ALT_KEY, "")
            for cell in nb.cells if tag in cell.get("metadata", {}).get("tags", [])
            for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]


def finish_page(page: str, alts: Sequence[str], tag: str) -> str:
    """The rendered page with each figure's alt text on its ``<img>`` (cells tagged ``tag``, in order) and the
    contrast stylesheet last in ``<head>``."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, features="html.parser")
    images = soup.select(f".celltag_{tag} img[src^='data:image/png']")
    for image, alt in zip(images, alts):  # the same cells and outputs, in the same order
        image["alt"] = alt
    style = soup.new_tag("style")
    style.string = CONTRAST_CSS
    (soup.head or soup).append(style)
    return str(soup)
