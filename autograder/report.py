"""Reports: results.json, summary.md (and $GITHUB_STEP_SUMMARY), junit.xml, HTML feedback."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence
from xml.etree import ElementTree as ET

from autograder.scoring import PASS, CheckResult

SYMBOL = {"pass": "✅", "fail": "❌", "error": "💥", "timeout": "⏱️", "kernel-died": "☠️",
          "missing-artifact": "📭", "tampered": "⚠️"}


def totals(results: Sequence[CheckResult]) -> dict[str, Any]:
    by_assignment: dict[str, dict[str, float]] = defaultdict(lambda: {"points": 0.0, "max_points": 0.0})
    for r in results:
        by_assignment[r.assignment]["points"] += r.points
        by_assignment[r.assignment]["max_points"] += r.max_points
    return {
        "points": round(sum(r.points for r in results), 3),
        "max_points": round(sum(r.max_points for r in results), 3),
        "by_assignment": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in sorted(by_assignment.items())},
    }


def write_json(path: Path, results: Sequence[CheckResult], meta: dict[str, Any]) -> None:
    data = {**meta, "totals": totals(results), "results": [r.to_dict() for r in results]}
    path.write_text(json.dumps(data, indent=1))


def markdown(results: Sequence[CheckResult], titles: dict[str, str], profile: str) -> str:
    t = totals(results)
    lines = [f"# Autograder results ({profile} profile): {_pts(t['points'])} / {_pts(t['max_points'])}", ""]
    lines += ["| assignment | score |", "|---|---:|"]
    for assignment, s in t["by_assignment"].items():
        lines.append(f"| {assignment} {titles.get(assignment, '')} | {_pts(s['points'])} / {_pts(s['max_points'])} |")
    lines.append("")
    for assignment in t["by_assignment"]:
        lines += [f"## {assignment} {titles.get(assignment, '')}", "", "| check | status | points | message |",
                  "|---|---|---:|---|"]
        for r in results:
            if r.assignment == assignment:
                message = r.message.replace("|", "\\|").replace("\n", " ")
                lines.append(f"| {r.id} | {SYMBOL.get(r.status, '')} {r.status} | {_pts(r.points)} / "
                             f"{_pts(r.max_points)} | {message} |")
        lines.append("")
    return "\n".join(lines)


def table(results: Sequence[CheckResult]) -> str:
    """A plain-text score table for the terminal."""
    rows = [("assignment", "check", "status", "points", "message")]
    for r in results:
        rows.append((r.assignment, r.id, r.status, f"{_pts(r.points)}/{_pts(r.max_points)}", r.message))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    out = []
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    t = totals(results)
    out.append("")
    for assignment, s in t["by_assignment"].items():
        out.append(f"{assignment}: {_pts(s['points'])} / {_pts(s['max_points'])}")
    out.append(f"total: {_pts(t['points'])} / {_pts(t['max_points'])}")
    return "\n".join(out)


def write_junit(path: Path, results: Sequence[CheckResult]) -> None:
    suites = ET.Element("testsuites")
    for assignment in sorted({r.assignment for r in results}):
        mine = [r for r in results if r.assignment == assignment]
        failures = sum(r.status != PASS and r.status not in ("error", "timeout", "kernel-died") for r in mine)
        errors = sum(r.status in ("error", "timeout", "kernel-died") for r in mine)
        suite = ET.SubElement(suites, "testsuite", name=f"assignment {assignment}", tests=str(len(mine)),
                              failures=str(failures), errors=str(errors))
        for r in mine:
            case = ET.SubElement(suite, "testcase", classname=f"assignment_{assignment}", name=r.id)
            if r.status == PASS:
                continue
            tag = "error" if r.status in ("error", "timeout", "kernel-died") else "failure"
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


def feedback_html(executed: Path, target: Path, results: Sequence[CheckResult], title: str) -> None:
    """The executed notebook as HTML, with this notebook's results at the top."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    summary = markdown(results, {r.assignment: title for r in results}, "").split("\n", 2)[2]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"# Feedback: {title}\n\n{summary}"))
    body, _ = _exporter().from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")


_EXPORTER = None


def _exporter():
    """One HTML exporter per process: building it loads the templates (slow)."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter

        _EXPORTER = HTMLExporter()
    return _EXPORTER


def _pts(x: float) -> str:
    return f"{x:g}"
