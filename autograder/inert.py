"""Inert: student text made harmless for where the instructor reads it.

One helper per destination, used everywhere the grader writes there:

- :func:`terminal_safe`: control characters (ANSI/OSC escapes such as OSC 52, which writes the clipboard, or
  an erase-line that fakes rows) and bidirectional overrides shown as visible escapes;
- :func:`csv_safe`: a spreadsheet cell that would start a formula (``= + - @``, tab, CR) gets a leading ``'``,
  as OWASP's "CSV Injection" page advises;
- :func:`markdown_safe`: text put into a Markdown table cell the grader writes, with no link or markup;
- :func:`strip_dangerous_urls`: the final HTML with no ``javascript:``, ``vbscript:`` or ``data:`` URL left in
  any attribute (images of the grader's own figures, ``data:image/png`` and kin in ``<img src>``, excepted).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

# C0 and C1 controls, DEL, the Unicode formatting characters that reorder or hide text (Trojan Source), and lone
# surrogates (a file name's bytes that are not UTF-8, as Python decodes them), which no UTF-8 stream can write.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: Any, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as ``\\xNN`` (``\\uNNNN``): nothing in it moves the cursor,
    erases, sets a title or writes the clipboard. ``keep_newlines``: newlines stay (multi-line messages)."""
    text = str(text)
    if keep_newlines:
        return "\n".join(_CONTROL.sub(_escape, line) for line in text.split("\n"))
    return _CONTROL.sub(_escape, text)


_SURROGATE = re.compile("[\ud800-\udfff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def csv_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with ``= + - @``, tab or CR gets a leading ``'``.
    Numbers (and text that is exactly a number, such as ``-3600``) are left alone; bytes that were not UTF-8 read
    ``\\xNN``."""
    if not isinstance(value, str):
        return value
    value = _SURROGATE.sub(_escape, value)
    if not value.startswith(_FORMULA_START) or _NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_row(values: Any) -> list[Any]:
    return [csv_safe(v) for v in values]


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+!|~&:-])")


def markdown_safe(text: Any, limit: int = 0) -> str:
    """``text`` for one cell of a Markdown table: every Markdown and HTML metacharacter backslash-escaped, so
    ``[x](javascript:...)`` or ``<script>`` stays text; newlines as spaces, controls escaped."""
    text = terminal_safe(str(text).replace("\r", " ").replace("\n", " "))
    if limit:
        text = text[:limit]
    return _MARKDOWN.sub(r"\\\1", text)


# Attributes whose value a browser follows or loads as a URL.
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background", "data", "codebase",
                  "cite", "longdesc", "lowsrc", "dynsrc", "ping", "manifest", "icon", "srcset", "usemap", "srcdoc"}
_DANGEROUS = ("javascript:", "vbscript:", "data:")
_SAFE_IMAGE = re.compile(r"data:image/(png|jpeg|jpg|gif|webp);base64,[a-z0-9+/=\s]*", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def dangerous_url(value: str, tag: str = "", attribute: str = "") -> bool:
    """Whether an attribute value, as a browser reads it (entities decoded, blanks and controls dropped, any
    case), is a ``javascript:``, ``vbscript:`` or ``data:`` URL (a raster image in ``<img src>`` aside)."""
    plain = _INVISIBLE.sub("", html.unescape(value)).lower()
    if attribute in ("srcset", "ping"):  # lists of URLs
        return any(dangerous_url(part.strip().split(" ")[0], tag, "src") for part in re.split(r"[,\s]\s*", value)
                   if part.strip())
    if not plain.startswith(_DANGEROUS):
        return False
    return not (tag == "img" and attribute == "src" and _SAFE_IMAGE.fullmatch(_INVISIBLE.sub("", value)))


class _UrlStripper(HTMLParser):
    """Finds the start tags that carry a dangerous URL; everything else of the page is kept byte for byte."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.edits: list[tuple[int, int, str, str]] = []  # (line, column, raw start tag, its replacement)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs, "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs, " /")

    def _check(self, tag: str, attrs: list[tuple[str, str | None]], end: str) -> None:
        if not any(name in URL_ATTRIBUTES and value and dangerous_url(value, tag, name) for name, value in attrs):
            return
        kept = "".join(f' {name}="{html.escape(value or "", quote=True)}"' if value is not None else f" {name}"
                       for name, value in attrs
                       if not (name in URL_ATTRIBUTES and value and dangerous_url(value, tag, name)))
        line, column = self.getpos()
        self.edits.append((line, column, self.get_starttag_text() or "", f"<{tag}{kept}{end}>"))


def strip_dangerous_urls(page: str) -> str:
    """``page`` with every ``javascript:``, ``vbscript:`` and ``data:`` URL attribute removed (the rest of the
    tag kept), parsed with the standard library's HTML tokenizer; the rest of the page is unchanged."""
    parser = _UrlStripper()
    parser.feed(page)
    parser.close()
    if not parser.edits:
        return page
    starts = [0] + [m.end() for m in re.finditer("\n", page)]  # the tokenizer counts lines by "\n" alone
    out, last = [], 0
    for line, column, raw, replacement in parser.edits:
        at = starts[line - 1] + column
        if page[at:at + len(raw)] != raw:  # the tokenizer's position must point at the tag it read
            raise ValueError("the HTML tokenizer lost its place; refusing to write the page")
        out += [page[last:at], replacement]
        last = at + len(raw)
    out.append(page[last:])
    return "".join(out)
