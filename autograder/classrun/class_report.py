"""What the instructor reads at the end of a class run, beside the long ``grades.csv``.

- ``gradebook.csv``: one row per student, a column per assignment (final points, after the late penalty), a total
  and the flags by name (late, tampered, workflow, errors, stale, retry); ``python -m autograder export`` turns
  ``grades.csv`` into an LMS import;
- ``class_report.md`` and ``class_report.html``: the score distribution per assignment (``class_scores.png``),
  the pass rate per check (hardest first), the most common failure messages, and the students whose notebooks
  errored, timed out or killed their kernel, each with a link to the feedback page, the notebooks the grader
  could not grade (to retry) and the stored results a partial run left stale.

A class run passes every notebook of its grading folder, whatever it graded itself (:mod:`.run`).
"""

from __future__ import annotations

import csv
import os
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import quote

from autograder import report_pages
from autograder.grading import NotebookGrade
from autograder.inert import csv_row, markdown_safe
from autograder.pipeline import report
from autograder.pipeline.report import Flag
from autograder.points import is_awaiting, shown, sum_final
from autograder.results import Status

PLOT = "class_scores.png"
COMMON_FAILURES = 10  # how many failure messages the report lists
CELL_CHARS = 300  # the longest message a table cell shows (its last line always kept)


def write_gradebook(path: Path, graded: Mapping[str, Sequence[NotebookGrade]], order: Sequence[str],
                    workflow: Mapping[str, str] = {}) -> None:
    """One row per student: final points per assignment (empty where not graded, or to retry with nothing stored
    before), the total, and the flags by name: late notebooks (with their penalty), tampered ones, a changed
    workflow file, notebooks that errored, stale ones (not regraded since their key changed), those to retry."""
    present = {nb.rubric.name for notebooks in graded.values() for nb in notebooks}
    columns = [name for name in order if name in present]
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(csv_row(["student", *columns, "total", *FLAG_COLUMNS]))
        for student, notebooks in sorted(graded.items()):
            points = {nb.rubric.name: nb.final_points for nb in notebooks if graded_at_all(nb)}
            row = student_flags(notebooks, workflow.get(student, ""))
            writer.writerow(csv_row([student, *(shown(points[c]) if c in points else "" for c in columns),
                             shown(sum_final(points.values())), *(row[c] for c in FLAG_COLUMNS)]))
    os.replace(tmp, path)


FLAG_COLUMNS = ("missing", "late", "tampered", "workflow", "errors", "stale", "retry", "awaiting_review")


def graded_at_all(nb: NotebookGrade) -> bool:
    """Whether ``nb`` holds a grade: not a notebook to retry with no result stored before."""
    return not (nb.retry and not nb.results)


def student_flags(notebooks: Sequence[NotebookGrade], workflow: str = "") -> dict[str, str]:
    """The flag cells of one student: ``missing`` (notebooks not handed in, graded 0), ``late``
    (``03_lenet5 2d -20%``, or ``03_lenet5 untimed``: no submission time to trust), ``tampered``, ``errors``,
    ``stale``, ``retry`` and ``awaiting_review`` (assignment names: a written answer no person has graded yet) and
    ``workflow`` (``changed`` or ``missing`` where collect found the workflow file edited or gone)."""
    missing, late, tampered, errors, stale, retry, awaiting = [], [], [], [], [], [], []
    for nb in notebooks:
        found = report.flags(nb)
        if not nb.submitted:
            missing.append(nb.rubric.name)
        if Flag.LATE in found:
            days = nb.lateness.days_late
            late.append(f"{nb.rubric.name} {days}d" + (f" -{nb.penalty_percent:g}%" if nb.penalty_percent else "")
                        + (f" ({nb.lateness.grace_days} grace)" if nb.lateness.grace_days else ""))
        if Flag.UNTIMED in found:
            late.append(f"{nb.rubric.name} {Flag.UNTIMED}")
        if Flag.TAMPERED in found:
            tampered.append(nb.rubric.name)
        if Flag.ERROR in found:
            errors.append(nb.rubric.name)
        if Flag.STALE in found:
            stale.append(nb.rubric.name)
        if Flag.RETRY in found:
            retry.append(nb.rubric.name)
        if Flag.AWAITING_REVIEW in found:  # a written answer no person has graded yet (autograder.classrun.reviews)
            awaiting.append(nb.rubric.name)
    return {"missing": " ".join(missing), "late": "; ".join(late), "tampered": " ".join(tampered),
            "workflow": workflow if workflow in ("changed", "missing") else "", "errors": " ".join(errors),
            "stale": " ".join(stale), "retry": " ".join(retry), "awaiting_review": " ".join(awaiting)}


def summarize(graded: Mapping[str, Sequence[NotebookGrade]], workflow: Mapping[str, str] = {}) -> dict:
    """The figures of the report: final scores per assignment, pass rates, failure messages, broken notebooks,
    and the students flagged (late, tampered, workflow changed, errors), by name."""
    scores: dict[str, list[float]] = defaultdict(list)  # final points of the notebooks handed in
    missing: dict[str, list[str]] = defaultdict(list)  # students who did not hand the notebook in
    maxima: dict[str, float] = {}
    checks: dict[tuple[str, str], list[bool]] = defaultdict(list)
    failures: Counter = Counter()  # (assignment, status, message) -> notebooks
    failed_checks: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    broken, pending, stale = [], [], []
    for student, notebooks in sorted(graded.items()):
        for nb in notebooks:
            if nb.retry:
                pending.append((student, nb.rubric.name, nb.retry))
            if nb.stale:
                stale.append((student, nb.rubric.name))
            if not graded_at_all(nb):
                continue
            maxima[nb.rubric.name] = nb.score.possible
            if not nb.submitted:
                missing[nb.rubric.name].append(student)
                continue
            scores[nb.rubric.name].append(nb.final_points)
            seen = set()
            for r in nb.results:
                if is_awaiting(r.detail):  # a written answer for a person to grade: listed in its own section
                    continue
                if r.max_points > 0:  # a zero-point row (locked cells, a history) is a flag, not a check to pass
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
    return {"scores": dict(scores), "missing": dict(missing), "maxima": maxima, "rates": rates,
            "failures": [(key, count, sorted(failed_checks[key])) for key, count in failures.most_common(COMMON_FAILURES)],
            "broken": broken, "flagged": flagged(graded, workflow), "pending": pending, "stale": stale}


def flagged(graded: Mapping[str, Sequence[NotebookGrade]], workflow: Mapping[str, str] = {}
            ) -> list[tuple[str, dict[str, str]]]:
    """(student, flag cells) for every student with a flag, by name."""
    rows = [(s, student_flags(nbs, workflow.get(s, ""))) for s, nbs in sorted(graded.items())]
    return [(s, cells) for s, cells in rows if any(cells.values())]


def plot_scores(path: Path, scores: Mapping[str, list[float]], maxima: Mapping[str, float]) -> None:
    """A histogram of the scores per assignment, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = sorted(scores)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.2 * max(1, len(names)), 2.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        top = maxima.get(name) or 1.0
        ax.hist(scores[name], bins=min(20, max(4, int(top) + 1)), range=(0, top), color="#4477aa")
        ax.set_title(f"{name} (n={len(scores[name])})", fontsize=9)
        ax.set_xlabel("points")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole students
    axes[0][0].set_ylabel("students")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(summary: dict) -> str:
    lines = ["# Class report", "", f"![Score distribution per assignment (notebooks handed in)]({PLOT})", "",
             "Mean, median and best are final points (after any late penalty) of the notebooks handed in; a "
             "missing notebook counts 0 in the gradebook and is flagged by name below.", "",
             "| assignment | submitted | missing | mean | median | best | points possible |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in sorted(summary["maxima"]):
        values, absent = summary["scores"].get(name, []), summary["missing"].get(name, [])
        figures = ([f"{statistics.mean(values):.2f}", shown(statistics.median(values)), shown(max(values))]
                   if values else ["–", "–", "–"])
        lines.append(f"| {name} | {len(values)} | {len(absent)} | {' | '.join(figures)} | "
                     f"{shown(summary['maxima'][name])} |")
    lines += ["", "## Students flagged", ""]
    if summary["flagged"]:
        lines += [f"| student | {' | '.join(FLAG_COLUMNS)} |", "|---|" + "---|" * len(FLAG_COLUMNS)]
        lines += [f"| {_cell(s)} | " + " | ".join(_cell(cells[c]) for c in FLAG_COLUMNS) + " |"
                  for s, cells in summary["flagged"]]
    else:
        lines.append("None: no missing, late, tampered or errored notebook and no changed workflow file.")
    if summary.get("pending"):
        lines += ["", "## Notebooks the grader could not grade (retried by the next run)", "",
                  "Its own machinery failed (not the student): no grade was stored; a result stored before is shown "
                  "as it was.", "", "| student | assignment | why |", "|---|---|---|"]
        lines += [f"| {_cell(s)} | {_cell(a)} | {_cell(why)} |" for s, a, why in summary["pending"]]
    if summary.get("stale"):
        lines += ["", "## Stored results not regraded (stale)", "",
                  "Graded with other inputs (a rubric, the grader, the submission or the settings changed since) "
                  "and not regraded by the last run: a full `batch` run regrades them.", "",
                  "; ".join(f"{markdown_safe(s)} {markdown_safe(a)}" for s, a in summary["stale"])]
    lines += summary.get("regrade_lines", [])
    lines += summary.get("review_lines", [])
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


def write_class_report(out: Path, graded: Mapping[str, Sequence[NotebookGrade]],
                       workflow: Mapping[str, str] = {}, regrade_lines: Sequence[str] = (),
                       review_lines: Sequence[str] = ()) -> None:
    """class_report.md, class_report.html and the score plot in ``out``; ``review_lines``: the written answers to
    grade (:func:`autograder.classrun.reviews.report_lines`)."""
    summary = summarize(graded, workflow)
    summary["regrade_lines"] = list(regrade_lines)
    summary["review_lines"] = list(review_lines)
    if summary["scores"]:
        plot_scores(out / PLOT, summary["scores"], summary["maxima"])
    report_pages.write_pages(out, markdown(summary))


def _cell(text: str) -> str:
    return markdown_safe(short(text))


def short(text: str, limit: int = CELL_CHARS) -> str:
    """``text`` within about ``limit`` characters, keeping its last line (where an error says what to do)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    last = text.splitlines()[-1].strip()
    if len(last) > limit - 20:
        last = "…" + last[-(limit - 21):]
    return f"{text[:max(0, limit - len(last) - 3)].rstrip()} … {last}"
