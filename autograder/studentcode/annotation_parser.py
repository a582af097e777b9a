"""Read a student's output-size and receptive-field annotations without running their code.

A layer is annotated by a comment on the line(s) that build it, or by the
comment lines directly above it::

    model.add(layers.SeparableConv2D(32, 3, padding="same"))  # out: 32x32x32  RF: 3

    # rin=3, jin=1, k=3, p=1, s=1, jout=1, rout=5, nout=32x32, cout=48
    model.add(layers.SeparableConv2D(48, 3, padding="same"))

Parsing is liberal (``output 32x32x32``, ``(32, 32, 32)``, ``RF=3x3``,
``rf: 3``, ``r_out``, ``n_out``, ``c_out``, any order, any case); the fields
found are returned exactly as written, for :mod:`autograder.checks.layer_annotations`
to compare with the inspector's figures.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Optional, Sequence

Dims = tuple[int, ...]

_NUM = r"\d+"
_DIMS = rf"\(?\s*{_NUM}(?:\s*[x×*,]\s*{_NUM}){{0,2}}\s*,?\s*\)?"
_KEY = r"(?<![a-z_])"
_PATTERNS = {
    # field: (regex, kind): kind "dims" for sizes, "int" for one number, "pair" for a possibly non-square figure
    "out": (rf"{_KEY}out(?:put)?(?:\s*(?:shape|size))?\s*[:=]?\s*({_DIMS})", "dims"),
    "nout": (rf"{_KEY}n_?out\s*[:=]\s*({_DIMS})", "dims"),
    "cout": (rf"{_KEY}c_?out\s*[:=]\s*({_NUM})", "int"),
    "rf": (rf"{_KEY}(?:rf|r_?out|receptive\s+field)\s*[:=]?\s*({_NUM}(?:\s*[x×]\s*{_NUM})?)", "pair"),
    "jout": (rf"{_KEY}(?:j_?out|jump)\s*[:=]\s*({_NUM})", "int"),
    "rin": (rf"{_KEY}r_?in\s*[:=]\s*({_NUM})", "int"),
    "jin": (rf"{_KEY}j_?in\s*[:=]\s*({_NUM})", "int"),
    "k": (rf"{_KEY}k\s*[:=]\s*({_NUM})", "int"),
    "p": (rf"{_KEY}p\s*[:=]\s*({_NUM})", "int"),
    "s": (rf"{_KEY}s\s*[:=]\s*({_NUM})", "int"),
}
_BARE_DIMS = re.compile(rf"\(\s*{_NUM}\s*,\s*{_NUM}(?:\s*,\s*{_NUM})?\s*\)|{_NUM}\s*[x×]\s*{_NUM}\s*[x×]\s*{_NUM}")


@dataclass(frozen=True)
class Annotation:
    text: str
    fields: dict[str, Dims]


@dataclass(frozen=True)
class LayerCall:
    """A layer constructor call in the source, with the annotation next to it."""

    class_name: str
    line: int  # line in the cell, 1-based
    cell: int  # index of the notebook cell (or 0 for a plain source string)
    annotation: Optional[Annotation] = None


def parse_annotation(text: str) -> Optional[Annotation]:
    """The fields of one comment, or None when it annotates nothing."""
    lowered = text.lower()
    fields: dict[str, Dims] = {}
    for name, (pattern, _kind) in _PATTERNS.items():
        found = re.search(pattern, lowered)
        if found:
            fields[name] = tuple(int(n) for n in re.findall(_NUM, found.group(1)))
    if "out" not in fields and "nout" not in fields:
        bare = _BARE_DIMS.search(lowered)
        if bare:
            fields["out"] = tuple(int(n) for n in re.findall(_NUM, bare.group(0)))
    return Annotation(text.strip(), fields) if fields else None


def _comments(source: str) -> dict[int, str]:
    """Comment text by line number (1-based)."""
    out: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                out[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _call_name(call: ast.Call) -> Optional[str]:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def layer_calls(source: str, layer_classes: Sequence[str], function: Optional[str] = None, cell: int = 0) -> list[LayerCall]:
    """Layer constructor calls in ``source`` (inside ``function`` when given), in source order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    scope: ast.AST = tree
    if function is not None:
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
        if not defs:
            return []
        scope = defs[-1]
    comments = _comments(source)
    lines = source.splitlines()
    calls = [n for n in ast.walk(scope) if isinstance(n, ast.Call) and _call_name(n) in layer_classes]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    statement_of = _statements(scope, calls)
    per_statement: dict[int, int] = {}
    for call in calls:
        per_statement[id(statement_of[id(call)])] = per_statement.get(id(statement_of[id(call)]), 0) + 1
    found = []
    for call in calls:
        # A statement that builds one layer owns all its lines (model.add(\n layers.X(...)\n)  # out: ...);
        # in a statement that builds several (a Sequential list) each call owns its own lines.
        owner = statement_of[id(call)]
        span = owner if per_statement[id(owner)] == 1 else call
        texts = [comments[i] for i in range(span.lineno, (span.end_lineno or span.lineno) + 1) if i in comments]
        above = span.lineno - 1
        block: list[str] = []
        while above >= 1 and lines[above - 1].lstrip().startswith("#"):
            block.insert(0, comments.get(above, ""))
            above -= 1
        annotation = None
        for text in [*texts, " ".join(block)]:
            annotation = parse_annotation(text) if text else None
            if annotation:
                break
        found.append(LayerCall(_call_name(call) or "", call.lineno, cell, annotation))
    return found


def _statements(scope: ast.AST, calls: list[ast.Call]) -> dict[int, ast.AST]:
    """The innermost statement around each call."""
    wanted = {id(c) for c in calls}
    owner: dict[int, ast.AST] = {}

    def visit(node: ast.AST, statement: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.stmt) else statement
            if id(child) in wanted:
                owner[id(child)] = inner if not isinstance(child, ast.stmt) else child
            visit(child, inner)

    visit(scope, scope)
    return owner


def notebook_layer_calls(cells: Sequence[str], layer_classes: Sequence[str], function: str) -> list[LayerCall]:
    """The calls inside the last definition of ``function`` across a notebook's code cells
    (as :func:`autograder.studentcode.notebook.code_cells` reads them)."""
    result: list[LayerCall] = []
    for index, source in enumerate(cells):
        calls = layer_calls(source, layer_classes, function, index)
        if calls or re.search(rf"^def\s+{re.escape(function)}\s*\(", source, re.M):
            result = calls  # a later definition replaces an earlier one
    return result
