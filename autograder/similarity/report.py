"""The similarity section of the class report: ranked pairs with their evidence, a histogram per assignment.

Everything a student wrote (code fragments, names) is escaped: the HTML page
is written with :func:`html.escape`, the Markdown goes through the class
report's renderer with raw HTML escaped, and code fences are longer than any
run of backticks inside them.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from autograder import report_pages

if TYPE_CHECKING:
    from autograder.similarity import AssignmentSimilarity

PLOT = "similarity_scores.png"
MARKER = report_pages.marker("similarity")
DISCLAIMER = ("Similarity is evidence for a person to weigh, not a finding: students of one course write alike, "
              "and a short assignment leaves little room to differ. It never changes a grade.")


def write(out: Path, found: Sequence["AssignmentSimilarity"], settings: dict[str, Any]) -> None:
    """similarity.json, similarity.md, similarity.html, the histogram, and the section of the class report."""
    (out / "similarity.json").write_text(json.dumps([a.to_dict() for a in found], indent=1))
    if any(a.scores for a in found):
        plot(out / PLOT, found, settings)
    (out / "similarity.md").write_text(markdown(found, settings, full=True), errors="backslashreplace")  # any name
    (out / "similarity.html").write_text(page(found, settings), errors="backslashreplace")
    report_pages.set_section(out, MARKER, markdown(found, settings, full=False))


def plot(path: Path, found: Sequence["AssignmentSimilarity"], settings: dict[str, Any]) -> None:
    """Pair scores per assignment, side by side, on a log scale of pairs (most pairs sit near 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [a for a in found if a.scores]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown), 2.6), squeeze=False)
    for ax, a in zip(axes[0], shown):
        ax.hist(a.scores, bins=20, range=(0, 1), color="#4477aa", log=True)
        ax.axvline(settings["code"]["threshold"], color="#cc6677", linestyle="--", linewidth=1)
        ax.set_title(f"{a.assignment} ({len(a.scores)} pairs)", fontsize=9)
        ax.set_xlabel("pair score")
        whole_number_axis(ax.yaxis)
    axes[0][0].set_ylabel("pairs")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def whole_number_axis(axis: Any) -> None:
    """Label a log axis of counts in whole numbers (1, 2, 5, 10, ...), never as ``4×10⁰``."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    label = FuncFormatter(lambda v, _: f"{v:.0f}" if v >= 1 and abs(v - round(v)) < 1e-9 else "")
    axis.set_major_locator(LogLocator(base=10))
    axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
    axis.set_major_formatter(label)
    axis.set_minor_formatter(label)


def histogram(scores: Sequence[float], bins: int = 10) -> list[int]:
    """Pair counts per bin of width 1/``bins``; each bin holds its upper edge (1.00 is in the top bin, 0 in the
    first)."""
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, math.ceil(round(s * bins, 9)) - 1))] += 1
    return counts


def bin_label(i: int, bins: int = 10) -> str:
    """``0.9–1.0``: the scores above the lower edge, up to and including the upper one."""
    return f"{i / bins:.1f}–{(i + 1) / bins:.1f}"


def counts_line(a: "AssignmentSimilarity") -> str:
    """How many notebooks were compared (by code, and in all) and the pairs among them, in plain words."""
    n, coded = len(a.compared or a.students), len(a.students)
    pairs = n * (n - 1) // 2
    return (f"{_many(n, 'notebook')} compared ({coded} by their code, the others by saved models and curves "
            f"only), {_many(pairs, 'pair')} among them, {len(a.pairs)} shown." if coded != n else
            f"{_many(n, 'notebook')} compared, {_many(pairs, 'pair')} among them, {len(a.pairs)} shown.")


def _many(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def markdown(found: Sequence["AssignmentSimilarity"], settings: dict[str, Any], full: bool) -> str:
    """The section (``full``: with every shown pair's fragments, as similarity.md)."""
    lines = ["## Similarity between students", "", DISCLAIMER, "",
             f"A pair is shown when its code is at least {settings['code']['threshold']:.0%} alike (winnowed "
             "fingerprints in common, names and comments ignored, released code removed), when a saved model's "
             f"weights are identical or their cosine reaches {settings['models']['threshold']}, or when the "
             "training curves are identical. The same architecture alone is expected and never shown. "
             "Evidence side by side: [similarity.html](similarity.html).", ""]
    if any(a.scores for a in found):
        lines += [f"![Pair scores per assignment]({PLOT})", ""]
    for a in found:
        lines += [f"### {_md(a.assignment)}", "",
                  counts_line(a), "",
                  "Pairs by score (each range holds its upper end): " + (", ".join(
                      f"{bin_label(i)}: {n}" for i, n in enumerate(histogram(a.scores)) if n) or "none"), ""]
        if a.pairs:
            lines += ["| rank | students | score | code | weights (cosine) | why |", "|---:|---|---:|---:|---:|---|"]
            for rank, p in enumerate(a.pairs[: settings["report"]["max_pairs"]], 1):
                cosine = "" if p.cosine is None else f"{p.cosine:.3f}"
                lines.append(f"| {rank} | {_md(p.a)} and {_md(p.b)} | {p.score:.2f} | {p.code:.0%} | {cosine} | "
                             f"{_md('; '.join(p.reasons))} |")
            lines.append("")
        if a.not_compared:
            lines += ["Not compared:", ""] + [f"- {_md(s)}: {_md(why)}" for s, why in sorted(a.not_compared.items())]
            lines.append("")
        if full:
            for rank, p in enumerate(a.pairs[: settings["report"]["max_pairs"]], 1):
                lines += [f"#### {rank}. {_md(p.a)} and {_md(p.b)}", "", f"{_md('; '.join(p.reasons))}", ""]
                for who, parts in ((p.a, p.left), (p.b, p.right)):
                    for part in parts:
                        fence = "`" * max(3, _longest_backticks(part) + 1)
                        lines += [f"{_md(who)}:", "", f"{fence}python", part, fence, ""]
    return "\n".join(lines) + "\n"


def page(found: Sequence["AssignmentSimilarity"], settings: dict[str, Any]) -> str:
    """similarity.html: every shown pair with its fragments side by side; all student text escaped."""
    e = html.escape
    body = [f"<h1>Similarity between students</h1><p><strong>{e(DISCLAIMER)}</strong></p>"]
    if any(a.scores for a in found):
        body.append(f"<img src='{PLOT}' alt='Pair scores per assignment'>")
    for a in found:
        body.append(f"<h2>{e(a.assignment)}</h2><p>{e(counts_line(a))}</p>")
        if a.not_compared:
            body.append("<p>Not compared:</p><ul>" + "".join(
                f"<li>{e(s)}: {e(why)}</li>" for s, why in sorted(a.not_compared.items())) + "</ul>")
        for rank, p in enumerate(a.pairs[: settings["report"]["max_pairs"]], 1):
            models = "".join(
                f"<li>{e(m.model)}: cosine {'n/a' if m.cosine is None else f'{m.cosine:.4f}'}"
                f"{', identical weights' if m.identical else ''}"
                f"{', same architecture' if m.same_architecture else ''}</li>" for m in p.models)
            body.append(f"<h3>{rank}. {e(p.a)} and {e(p.b)}: score {p.score:.2f}</h3>"
                        f"<p>{e('; '.join(p.reasons))}</p><p>{_code_line(p)}</p><ul>{models}</ul>")
            if p.curves:
                body.append(f"<p>identical training curves: {e(', '.join(p.curves))}</p>")
            if p.left or p.right:
                rows = "".join(
                    f"<tr><td><pre>{e(left)}</pre></td><td><pre>{e(right)}</pre></td></tr>"
                    for left, right in _zip_longest(p.left, p.right))
                body.append(f"<table><tr><th>{e(p.a)}</th><th>{e(p.b)}</th></tr>{rows}</table>")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Similarity</title><style>"
            "body{font-family:sans-serif;max-width:90em;margin:auto} table{border-collapse:collapse;width:100%}"
            "td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;width:50%} pre{white-space:pre-wrap}"
            "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _code_line(p: Any) -> str:
    """The code's likeness, unless a reason already says it, and how much of it matched."""
    said = any(r.startswith("code ") for r in p.reasons)
    return ("" if said else f"code {p.code:.0%} alike; ") + f"{p.matched_chars} normalized characters of code matched"


def _zip_longest(left: Sequence[str], right: Sequence[str]) -> list[tuple[str, str]]:
    n = max(len(left), len(right))
    return [(left[i] if i < len(left) else "", right[i] if i < len(right) else "") for i in range(n)]


def _longest_backticks(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def _md(text: str) -> str:
    """Student text for a Markdown table cell or line: no table break, no markup that acts."""
    return re.sub(r"([\\`*_\[\]<>|#!])", r"\\\1", str(text)).replace("\n", " ")[:300]
