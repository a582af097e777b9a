"""The class report's pages: ``class_report.md`` and, rendered with raw HTML escaped, ``class_report.html``.

A part of the grader that reports after the class report is written (similarity) sets its own section in it:
the section follows its marker, a line of its own that the HTML page does not show.
"""

from __future__ import annotations

import re
from pathlib import Path

from autograder.inert import strip_dangerous_urls

MARKDOWN = "class_report.md"
HTML = "class_report.html"


def marker(name: str) -> str:
    """The line that opens section ``name`` in ``class_report.md``."""
    return f"<!-- {name} -->"


def write_pages(out: Path, text: str) -> None:
    """``text`` as class_report.md and, rendered with raw HTML escaped, class_report.html."""
    import mistune

    (out / MARKDOWN).write_text(text, errors="backslashreplace")  # a folder name need not be UTF-8
    shown_text = re.sub(r"^<!--[^\n]*-->$", "", text, flags=re.MULTILINE)  # a section marker is not for reading
    body = mistune.create_markdown(escape=True, plugins=["table"])(shown_text)
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Class report</title><style>"
            "body{font-family:sans-serif;max-width:70em;margin:auto} table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>\n" + body + "</body></html>\n")
    (out / HTML).write_text(strip_dangerous_urls(page), errors="backslashreplace")


def set_section(out: Path, opening: str, section: str) -> None:
    """Put ``section`` after its marker ``opening`` at the end of ``out``'s class_report.md (replacing an earlier
    one and all that followed it) and rewrite the HTML; nothing where no class report was written."""
    path = out / MARKDOWN
    if not path.is_file():
        return
    text = path.read_text().split(opening)[0].rstrip("\n")
    write_pages(out, f"{text}\n\n{opening}\n{section}")
