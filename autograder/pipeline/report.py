"""Report: every file grading writes.

Per submission: results.json, summary.md (also appended to $GITHUB_STEP_SUMMARY),
junit.xml and an HTML feedback page per notebook; per class: grades.csv.
Statuses are classified by :class:`autograder.results.Status` alone.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any, Mapping, Sequence
from xml.etree import ElementTree as ET

from autograder.grading import NotebookGrade
from autograder.inert import csv_row, markdown_safe, strip_dangerous_urls, terminal_safe
from autograder.pipeline import accessible
from autograder.points import Score, counted, score, shown, total
from autograder.results import CheckResult, Status
from autograder.rubric import Rubric

SYMBOL = {Status.PASS: "✅", Status.FAIL: "❌", Status.ERROR: "💥", Status.TIMEOUT: "⌛",
          Status.KERNEL_DIED: "💀", Status.MISSING: "📭", Status.TAMPERED: "🚧", Status.NOT_JUDGED: "➖"}
# Where emoji cannot be shown (a terminal without UTF-8, a font without them): plain ASCII, one per status.
ASCII_SYMBOL = {Status.PASS: "[ok]", Status.FAIL: "[x]", Status.ERROR: "[!]", Status.TIMEOUT: "[t]",
                Status.KERNEL_DIED: "[k]", Status.MISSING: "[?]", Status.TAMPERED: "[~]", Status.NOT_JUDGED: "[-]"}
# For pages read in any browser: symbols every text font has (emoji fonts are often missing on Linux, where
# the emoji above show as empty boxes); U+FE0E asks for the text form.
TEXT_SYMBOL = {Status.PASS: "✓", Status.FAIL: "✗", Status.ERROR: "‼", Status.TIMEOUT: "⧗",
               Status.KERNEL_DIED: "☠\ufe0e", Status.MISSING: "∅", Status.TAMPERED: "⚠\ufe0e", Status.NOT_JUDGED: "–"}
# What each status means, for the pages a student reads.
MEANING = {Status.PASS: "passed", Status.FAIL: "did not pass", Status.ERROR: "could not be graded: an error",
           Status.TIMEOUT: "stopped at a time limit", Status.KERNEL_DIED: "the notebook's kernel died",
           Status.MISSING: "an artifact the check needs is missing", Status.TAMPERED: "a locked cell was edited",
           Status.NOT_JUDGED: "not judged by the grader (no points here): the full profile judges it, or your "
                              "instructor grades a written answer"}


def symbol(status: Status, ascii_only: bool = False, text: bool = False) -> str:
    """The status's emoji; its plain-text symbol (``text``); or its ASCII fallback (``ascii_only``)."""
    if ascii_only:
        return ASCII_SYMBOL.get(status, "[ ]")
    return (TEXT_SYMBOL if text else SYMBOL).get(status, "")


def _emoji_ok(stream: Any = None) -> bool:
    encoding = getattr(stream or sys.stdout, "encoding", None) or ""
    return encoding.lower().replace("-", "") in ("utf8", "utf16", "utf32")


def scores(results: Sequence[CheckResult], penalties: Mapping[str, float] = {}) -> dict[str, Score]:
    """The score of each assignment of ``results``, with its late penalty (percent, by assignment id)."""
    return {a: score([r for r in results if r.assignment == a], penalties.get(a, 0.0))
            for a in sorted({r.assignment for r in results})}


def totals(results: Sequence[CheckResult], penalties: Mapping[str, float] = {}) -> dict[str, Any]:
    """Final points (after any late penalty), raw points, penalty and points possible: in all and per assignment."""
    by_assignment = scores(results, penalties)
    return {**_score_dict(total(by_assignment.values())),
            "by_assignment": {a: _score_dict(s) for a, s in by_assignment.items()}}


def _score_dict(s: Score) -> dict[str, float]:
    return {"points": s.final, "max_points": s.possible, "raw_points": s.raw, "penalty": s.penalty}


def late_words(s: Score, late: Any) -> str:
    """What a late penalty did to a score, in words a student reads ("" where the notebook was on time)."""
    days = int(getattr(late, "days_late", 0) or 0)
    if not days:
        return ""
    grace = int(getattr(late, "grace_days", 0) or 0)
    text = (f"Submitted {_days(days)} late (a started day counts whole). "
            f"Points before lateness: {shown(s.raw)} / {shown(s.possible)}. ")
    if grace:
        text += f"Grace days used: {grace}. "
    if s.penalty_percent:
        text += (f"Late penalty: {s.penalty_percent:g}% for {_days(days - grace)} not covered by grace days, "
                 f"{counted(s.penalty)} off. ")
    else:
        text += "No penalty. "
    return text + f"Final score: {s.describe()}."


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def write_json(path: Path, results: Sequence[CheckResult], meta: dict[str, Any],
               penalties: Mapping[str, float] = {}) -> None:
    data = {**meta, "totals": totals(results, penalties), "results": [r.to_dict() for r in results]}
    path.write_text(json.dumps(data, indent=1))


def markdown(results: Sequence[CheckResult], titles: dict[str, str], profile: str,
             lateness: Mapping[str, Any] = {}) -> str:
    """summary.md: the total and each assignment's score (after any late penalty, said in words), then every
    check. ``lateness``: by assignment id (a class run's)."""
    by_assignment = scores(results, {a: _percent(late) for a, late in lateness.items()})
    lines = [f"# Autograder results ({profile} profile): {total(by_assignment.values()).describe()}", ""]
    lines += ["| assignment | score |", "|---|---:|"]
    for assignment, s in by_assignment.items():
        lines.append(f"| {assignment} {titles.get(assignment, '')} | {s.describe()} |")
    lines.append("")
    for assignment, s in by_assignment.items():
        lines += [f"## {assignment} {titles.get(assignment, '')}", ""]
        words = late_words(s, lateness.get(assignment))
        lines += [words, ""] if words else []
        lines += ["| check | status | points | message |", "|---|---|---:|---|"]
        for r in results:
            if r.assignment == assignment:
                lines.append(f"| {r.id} | {symbol(r.status)} {r.status} | {_pts(r.points)} / "
                             f"{_pts(r.max_points)} | {markdown_safe(r.message)} |")
        lines.append("")
    return "\n".join(lines)


def table(results: Sequence[CheckResult]) -> str:
    """A plain-text score table for the terminal; no control character of a message reaches it."""
    rows = [("assignment", "check", "status", "points", "message")]
    ascii_only = not _emoji_ok()
    for r in results:
        shown = f"{symbol(r.status, True)} {r.status}" if ascii_only else str(r.status)
        rows.append((terminal_safe(r.assignment), terminal_safe(r.id), shown, f"{_pts(r.points)}/{_pts(r.max_points)}",
                     terminal_safe(r.message)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    out = []
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    by_assignment = scores(results)
    out.append("")
    out += [f"{assignment}: {s.describe()}" for assignment, s in by_assignment.items()]
    out.append(f"total: {total(by_assignment.values()).describe()}")
    return "\n".join(out)


def _percent(late: Any) -> float:
    return float(getattr(late, "penalty_percent", 0.0) or 0.0)


def write_junit(path: Path, results: Sequence[CheckResult]) -> None:
    suites = ET.Element("testsuites")
    for assignment in sorted({r.assignment for r in results}):
        mine = [r for r in results if r.assignment == assignment]
        failures = sum(r.status not in (Status.PASS, Status.NOT_JUDGED) and not r.status.is_error for r in mine)
        errors = sum(r.status.is_error for r in mine)
        skipped = sum(r.status == Status.NOT_JUDGED for r in mine)
        suite = ET.SubElement(suites, "testsuite", name=f"assignment {assignment}", tests=str(len(mine)),
                              failures=str(failures), errors=str(errors), skipped=str(skipped))
        for r in mine:
            case = ET.SubElement(suite, "testcase", classname=f"assignment_{assignment}", name=r.id)
            if r.status == Status.PASS:
                continue
            if r.status == Status.NOT_JUDGED:
                ET.SubElement(case, "skipped", message=r.message)
                continue
            tag = "error" if r.status.is_error else "failure"
            ET.SubElement(case, tag, type=r.status, message=r.message).text = (
                f"{r.status}: {r.message} ({_pts(r.points)}/{_pts(r.max_points)} points)")
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def write_summary(path: Path, text: str) -> None:
    path.write_text(text)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")


def feedback_page(executed: Path, results: Sequence[CheckResult], rubric: Rubric, lateness: Any = None
                  ) -> list[CheckResult]:
    """The executed notebook as HTML beside it, with its results and the grader's figures at the top (learning
    curves, confusion matrices, the layer table); an error row if it cannot be made.

    The page runs none of the student's JavaScript: script outputs and widgets are dropped, HTML sanitized, and
    no ``javascript:``, ``vbscript:`` or ``data:`` URL is left on the final page (:mod:`autograder.inert`).
    """
    import nbformat

    try:
        nb = nbformat.read(executed, as_version=4)
        nb.metadata.pop("widgets", None)  # widget state would load the widget manager and render it
        hide_grader_parameters(nb)
        nb.cells[0:0] = feedback_cells(results, rubric, lateness)
        nb.metadata["title"] = f"Feedback: {rubric.id} {rubric.title}"
        exporter = _exporter()
        _drop_unshown_outputs(nb, _SHOWN_TYPES)
        body, _ = exporter.from_notebook_node(nb)
        body = accessible.finish_page(body, accessible.figure_alts(nb, FIGURE_TAG), FIGURE_TAG)
        # Markdown becomes HTML after the sanitizer ran: its links are checked on the final page.
        executed.with_suffix(".html").write_text(strip_dangerous_urls(body), encoding="utf-8")
    except Exception as exc:  # feedback is a courtesy; the grade stands without it
        return [CheckResult(rubric.id, "feedback", "Feedback page", 0.0, 0.0, Status.ERROR,
                            f"could not render feedback HTML: {exc}")]
    return []


FIGURE_TAG = "autograder-feedback"  # cells the page adds: their (empty) input is not shown


def total_line(student: str, notebooks: Sequence[NotebookGrade]) -> str:
    """``dave: 7.2 / 12 (late penalty: 0.8 points off)``: a student's final total as the commands print it, with
    the notebooks left to retry."""
    s = total(nb.score for nb in notebooks)
    late = f" (late penalty: {counted(s.penalty)} off)" if s.penalty else ""
    pending = " ".join(nb.rubric.name for nb in notebooks if nb.retry)
    return f"{terminal_safe(student)}: {s.describe()}{late}" + (f" (to retry: {pending})" if pending else "")


def late_feedback_page(folder: Path, nb: NotebookGrade, reviewed: bool = False) -> None:
    """Render a late (or ``reviewed``: an answer graded by a person) notebook's feedback page in ``folder`` again,
    where the late policy is known, so that the student reads the raw points, days late, grace days, penalty and
    final points (its grader knew none of them)."""
    executed = folder / nb.rubric.notebook
    if executed.is_file() and not executed.is_symlink() and (late_words(nb.score, nb.lateness) or reviewed):
        feedback_page(executed, nb.results, nb.rubric, nb.lateness)


def feedback_cells(results: Sequence[CheckResult], rubric: Rubric, lateness: Any = None) -> list[Any]:
    """The cells at the top of a feedback page: title and score (after any late penalty, said in words), one row
    per check, then the grader's figures."""
    import nbformat

    mine = score(results, _percent(lateness))
    words = late_words(mine, lateness)
    rows = ["| status | check | points | message |", "|---|---|---:|---|"]
    for r in results:
        shown = f"{symbol(r.status, text=True)}\u00a0{r.status}"  # kept on one line
        rows.append(f"| {shown} | {r.id} | {_pts(r.points)} / {_pts(r.max_points)} | {markdown_safe(r.message)} |")
    seen = sorted({r.status for r in results}, key=list(Status).index)
    legend = "; ".join(f"{symbol(s, text=True)} {s}: {MEANING[s]}" for s in seen)
    title = rubric.title if rubric.title.startswith(rubric.id) else f"{rubric.id} · {rubric.title}"
    cells = [nbformat.v4.new_markdown_cell(
        f"# Feedback: {title}\n\n**Score: {mine.describe()}**\n\n" + (f"{words}\n\n" if words else "")
        + "\n".join(rows)
        + f"\n\n<small>{legend}</small>")]
    figures = figure_cells(results, rubric)
    if figures:
        cells.append(nbformat.v4.new_markdown_cell("## What the grader measured"))
        cells += figures
    cells.append(nbformat.v4.new_markdown_cell("## Your notebook, as the grader ran it"))
    return cells


def figure_cells(results: Sequence[CheckResult], rubric: Rubric) -> list[Any]:
    """Learning curves from the histories the grader read, confusion matrices of its re-evaluations, and the
    annotation table, each as a cell whose output is the figure."""
    import base64

    import nbformat

    from autograder.pipeline import figures

    cells = []

    def output(data: dict[str, str], caption: str, alt: str = "") -> None:
        cell = nbformat.v4.new_code_cell("", metadata={"tags": [FIGURE_TAG]})
        metadata = {"image/png": {accessible.ALT_KEY: alt}} if "image/png" in data else {}
        cell.outputs = [nbformat.v4.new_output("display_data", data=data, metadata=metadata)]
        cells.append(nbformat.v4.new_markdown_cell(f"**{caption}**"))
        cells.append(cell)

    drawn: set[tuple[str, str]] = set()
    for r in results:
        detail = r.detail or {}
        model = str(detail.get("model", "model"))
        if "history" in detail and ("history", model) not in drawn:
            png = figures.learning_curves(detail["history"], f"{model}: learning curves")
            if png:
                drawn.add(("history", model))
                output({"image/png": base64.b64encode(png).decode()},
                       f"Learning curves of {model} (the history the grader read)",
                       accessible.learning_curves_alt(detail["history"], model))
        if "confusion" in detail and ("confusion", model) not in drawn:
            drawn.add(("confusion", model))
            png = figures.confusion_matrix(detail["confusion"], model, str(detail.get("dataset", "")))
            labels = figures.class_labels(len(detail["confusion"]), str(detail.get("dataset", "")))
            output({"image/png": base64.b64encode(png).decode()},
                   f"Confusion matrix of {model}, re-evaluated by the grader ({r.id})",
                   accessible.confusion_alt(detail["confusion"], model, labels))
        if "layers" in detail:
            output({"text/html": figures.layer_table(detail["layers"], bool(detail.get("reveal")))},
                   f"Your annotations, layer by layer: {accessible.annotations_summary(detail['layers'])}")
    return cells


# Parameters a student may see on the page: the grader's paths (DATA_DIR, OUTPUT_DIR) are its own business.
SHOWN_PARAMETERS = ("PROFILE", "EPOCHS", "SEED")


def hide_grader_parameters(nb: Any) -> None:
    """Rewrite papermill's injected-parameters cell to show the profile, epochs and seed, not the grader's paths;
    where an output prints one of those paths, it reads as the parameter's name."""
    import ast

    from autograder.pipeline.stage import INJECTED_TAG  # here: the report alone runs without nbformat

    paths: dict[str, str] = {}
    for cell in nb.cells:
        if INJECTED_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        kept = []
        try:
            for node in ast.parse(cell.source).body:
                if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name)):
                    continue
                if node.targets[0].id in SHOWN_PARAMETERS:
                    kept.append(ast.get_source_segment(cell.source, node))
                elif isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) and node.value.value:
                    paths[node.value.value] = node.targets[0].id
        except SyntaxError:
            pass
        cell.source = "# Parameters set by the grader\n" + "\n".join(k for k in kept if k)
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if "text" in output:
                output["text"] = _replace_all(output["text"], paths)
            for kind in ("text/plain",):
                if kind in output.get("data", {}):
                    output["data"][kind] = _replace_all(output["data"][kind], paths)


def _replace_all(text: Any, replacements: Mapping[str, str]) -> Any:
    if isinstance(text, list):
        text = "".join(text)
    for old in sorted(replacements, key=len, reverse=True):
        text = text.replace(old, replacements[old])
    return text


def write_reports(out: Path, notebooks: Sequence[NotebookGrade], meta: Mapping[str, Any]) -> None:
    """results.json, summary.md and junit.xml for one submission."""
    results = [r for nb in notebooks for r in nb.results]
    titles = {nb.rubric.id: nb.rubric.title for nb in notebooks}
    penalties = {nb.rubric.id: nb.penalty_percent for nb in notebooks if nb.penalty_percent}
    write_json(out / "results.json", results, {**meta, "timings": {nb.rubric.id: nb.timings for nb in notebooks}},
               penalties)
    lateness = {nb.rubric.id: nb.lateness for nb in notebooks if nb.lateness is not None}
    write_summary(out / "summary.md", markdown(results, titles, str(meta.get("profile", "")), lateness))
    write_junit(out / "junit.xml", results)


def write_grades_csv(path: Path, graded: Mapping[str, Sequence[NotebookGrade]]) -> None:
    """One row per student and assignment: final points (after the late penalty), maximum, raw points, the
    penalty, the statuses seen, the lateness where known and the flags. A notebook to retry with no earlier
    result has no points (empty cells, never 0). Replaced atomically; no cell starts a formula."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(csv_row(["student", "assignment", "points", "max_points", "raw_points", "penalty_percent",
                                 "statuses", "submitted", "seconds_late", "days_late", "grace_days", "flags"]))
        for student, notebooks in graded.items():
            for nb in notebooks:
                statuses = sorted({str(r.status) for r in nb.results})
                late = nb.lateness
                known = late is not None and late.seconds_late is not None
                ungraded = bool(nb.retry) and not nb.results  # to retry, nothing stored before: no points at all
                writer.writerow(csv_row([student, nb.rubric.name, *(["", "", ""] if ungraded else [
                                 f"{nb.final_points:g}", f"{nb.points[1]:g}", f"{nb.points[0]:g}"]),
                                 f"{nb.penalty_percent:g}", " ".join(statuses),
                                 late.submitted if late and late.submitted else "",
                                 f"{late.seconds_late:g}" if known else "",
                                 late.days_late if known else "", late.grace_days if known else "",
                                 " ".join(flags(nb))]))
    os.replace(tmp, path)


class Flag(StrEnum):
    """A flag of one notebook (:func:`flags`), by the name grades.csv's ``flags`` column gives it."""

    LATE = "late"
    TAMPERED = "tampered"
    ERROR = "error"
    UNTIMED = "untimed"
    STALE = "stale"
    RETRY = "retry"
    AWAITING_REVIEW = "awaiting-review"

    @classmethod
    def parse(cls, cell: str) -> list["Flag"]:
        """The flags of a ``flags`` cell of grades.csv (names this grader does not write are left out)."""
        known = {f.value: f for f in cls}
        return [known[word] for word in cell.split() if word in known]


def flags(nb: NotebookGrade) -> list[Flag]:
    """What the instructor must see about one notebook besides its points: late, tampered, error, untimed (a due
    date and no submission time the grader can vouch for); for a class run, stale (a stored result that run did
    not regrade and whose key no longer matches) and retry (its grading failed for the grader's reasons)."""
    found = []
    late = nb.lateness
    if late is not None and late.seconds_late:
        found.append(Flag.LATE)
    if any(r.status == Status.TAMPERED for r in nb.results):
        found.append(Flag.TAMPERED)
    if any(r.status.is_error for r in nb.results):
        found.append(Flag.ERROR)
    if late is not None and getattr(late, "untimed", "") and nb.submitted:  # not handed in: missing, not untimed
        found.append(Flag.UNTIMED)
    if nb.stale:
        found.append(Flag.STALE)
    if nb.retry:
        found.append(Flag.RETRY)
    if nb.score.pending:  # a written answer no person has graded yet (autograder.classrun.reviews)
        found.append(Flag.AWAITING_REVIEW)
    return found


_EXPORTER = None
_SHOWN_TYPES: set[str] = set()  # the output types the sanitized page shows (the sanitizer's lists)

# What a feedback page keeps of a student's HTML (outputs, Markdown): text, tables and headings; every other tag
# is shown escaped, as text. JavaScript and widget outputs are dropped (SanitizeHTML's safe_output_keys).
SAFE_TAGS = ("a", "abbr", "acronym", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt",
             "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "small", "span",
             "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul")
SAFE_ATTRIBUTES = {"*": ["class", "title"], "a": ["href", "title"], "td": ["colspan", "rowspan"],
                   "th": ["colspan", "rowspan"]}


def _exporter():
    """One HTML exporter per process (building it loads the templates, slowly), sanitizing what students wrote."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors.sanitize import SanitizeHTML

        from nbconvert.preprocessors import TagRemovePreprocessor

        sanitizer = SanitizeHTML(tags=list(SAFE_TAGS), attributes=SAFE_ATTRIBUTES)
        _EXPORTER = HTMLExporter()
        _EXPORTER.register_preprocessor(TagRemovePreprocessor(remove_input_tags={FIGURE_TAG}), enabled=True)
        _EXPORTER.register_preprocessor(sanitizer, enabled=True)
        _SHOWN_TYPES.update(set(sanitizer.safe_output_keys) | set(sanitizer.sanitized_output_types))
        _SHOWN_TYPES.discard("metadata")
    return _EXPORTER


def _drop_unshown_outputs(nb: Any, shown: set[str]) -> None:
    """Remove the rich outputs (JavaScript, widgets) of which the sanitized page would show nothing."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if o.get("output_type") not in ("display_data", "execute_result")
                            or set(o.get("data", {})) & shown]


def _pts(x: float) -> str:
    return shown(x)
