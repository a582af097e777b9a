"""What the instructor reads at the end of a class run, beside the long ``grades.csv``.

- ``gradebook.csv``: one row per student, a column per assignment and a total (Canvas and Moodle import it);
- ``class_report.md`` and ``class_report.html``: the score distribution per assignment (``class_scores.png``),
  the pass rate per check (hardest first), the most common failure messages, and the students whose notebooks
  errored, timed out or killed their kernel, each with a link to the feedback page.
"""

from __future__ import annotations

import csv
import os
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import quote

from autograder.grading import NotebookGrade
from autograder.inert import csv_row, markdown_safe, strip_dangerous_urls
from autograder.results import Status

PLOT = "class_scores.png"
COMMON_FAILURES = 10  # how many failure messages the report lists


def write_gradebook(path: Path, graded: Mapping[str, Sequence[NotebookGrade]], order: Sequence[str]) -> None:
    """One row per student: points per assignment (empty where not graded) and the total."""
    present = {nb.rubric.name for notebooks in graded.values() for nb in notebooks}
    columns = [name for name in order if name in present]
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(csv_row(["student", *columns, "total"]))
        for student, notebooks in sorted(graded.items()):
            points = {nb.rubric.name: nb.points[0] for nb in notebooks}
            writer.writerow(csv_row([student, *(f"{points[c]:g}" if c in points else "" for c in columns),
                             f"{round(sum(points.values()), 3):g}"]))
    os.replace(tmp, path)


def summarize(graded: Mapping[str, Sequence[NotebookGrade]]) -> dict:
    """The figures of the report: scores per assignment, pass rates, failure messages, broken notebooks."""
    scores: dict[str, list[float]] = defaultdict(list)
    maxima: dict[str, float] = {}
    checks: dict[tuple[str, str], list[bool]] = defaultdict(list)
    failures: Counter = Counter()  # (assignment, status, message) -> notebooks
    failed_checks: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    broken = []
    for student, notebooks in sorted(graded.items()):
        for nb in notebooks:
            points, maximum = nb.points
            scores[nb.rubric.name].append(points)
            maxima[nb.rubric.name] = maximum
            seen = set()
            for r in nb.results:
                if r.max_points > 0 or r.status != Status.PASS:
                    checks[nb.rubric.name, r.id].append(r.status == Status.PASS)
                if r.status != Status.PASS:
                    seen.add((nb.rubric.name, str(r.status), r.message))
                    failed_checks[nb.rubric.name, str(r.status), r.message].add(r.id)
            failures.update(seen)
            errors = sorted({str(r.status) for r in nb.results if r.status.is_error})
            if errors:
                message = next(r.message for r in nb.results if r.status.is_error)
                page = f"{student}/{Path(nb.rubric.notebook).with_suffix('.html')}"
                broken.append((student, nb.rubric.name, errors, message, page))
    rates = sorted(((sum(v) / len(v), a, c, len(v)) for (a, c), v in checks.items()), key=lambda t: (t[0], t[1], t[2]))
    return {"scores": dict(scores), "maxima": maxima, "rates": rates,
            "failures": [(key, count, sorted(failed_checks[key])) for key, count in failures.most_common(COMMON_FAILURES)],
            "broken": broken}


def plot_scores(path: Path, scores: Mapping[str, list[float]], maxima: Mapping[str, float]) -> None:
    """A histogram of the scores per assignment, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(scores)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.2 * max(1, len(names)), 2.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        top = maxima.get(name) or 1.0
        ax.hist(scores[name], bins=min(20, max(4, int(top) + 1)), range=(0, top), color="#4477aa")
        ax.set_title(f"{name} (n={len(scores[name])})", fontsize=9)
        ax.set_xlabel("points")
    axes[0][0].set_ylabel("students")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(summary: dict) -> str:
    lines = ["# Class report", "", f"![Score distribution per assignment]({PLOT})", "",
             "| assignment | notebooks | mean | median | max |", "|---|---:|---:|---:|---:|"]
    for name, values in sorted(summary["scores"].items()):
        lines.append(f"| {name} | {len(values)} | {statistics.mean(values):.2f} | {statistics.median(values):g} | "
                     f"{summary['maxima'][name]:g} |")
    lines += ["", "## Pass rate per check (hardest first)", "", "| assignment | check | passed | notebooks |",
              "|---|---|---:|---:|"]
    lines += [f"| {a} | {c} | {rate:.0%} | {n} |" for rate, a, c, n in summary["rates"]]
    lines += ["", "## Most common failure messages", "", "| notebooks | assignment | checks | status | message |",
              "|---:|---|---|---|---|"]
    lines += [f"| {count} | {a} | {', '.join(ids)} | {status} | {_cell(message)} |"
              for (a, status, message), count, ids in summary["failures"]]
    lines += ["", "## Notebooks that errored, timed out or killed their kernel", ""]
    if summary["broken"]:
        lines += ["| student | assignment | status | message |", "|---|---|---|---|"]
        lines += [f"| [{markdown_safe(s)}]({quote(page, errors='surrogateescape')}) | {a} | {' '.join(st)} | {_cell(m)} |"
                  for s, a, st, m, page in summary["broken"]]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def write_class_report(out: Path, graded: Mapping[str, Sequence[NotebookGrade]]) -> None:
    """class_report.md, class_report.html and the score plot in ``out``."""
    summary = summarize(graded)
    if summary["scores"]:
        plot_scores(out / PLOT, summary["scores"], summary["maxima"])
    write_pages(out, markdown(summary))


def write_pages(out: Path, text: str) -> None:
    """``text`` as class_report.md and, rendered with raw HTML escaped, class_report.html."""
    import mistune

    (out / "class_report.md").write_text(text)
    body = mistune.create_markdown(escape=True, plugins=["table"])(text)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Class report</title><style>"
            "body{font-family:sans-serif;max-width:70em;margin:auto} table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>\n" + body + "</body></html>\n")
    (out / "class_report.html").write_text(strip_dangerous_urls(page))


def _cell(text: str) -> str:
    return markdown_safe(text, limit=200)
