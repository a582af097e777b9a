"""Read a student's output-size and receptive-field annotations without running their code.

A layer is annotated by a comment on the line(s) that build it, or by a block
of comment lines directly above or below it::

    model.add(layers.SeparableConv2D(32, 3, padding="same"))  # out: 32x32x32  RF: 3

    # rin=3, jin=1, k=3, p=1, s=1, jout=1, rout=5, nout=32x32, cout=48
    model.add(layers.SeparableConv2D(48, 3, padding="same"))

Reading is liberal in the notations it accepts (``output 32x32x32``,
``(32, 32, 32)``, ``o/p: 30``, ``32*32*64``, ``RF=3x3``, ``GRF: 3X3``,
``r:3``, ``r_out``, ``n_out``, ``c_out``, a bare ``32,32,32 | 3x3`` read as
size then field, ``30x3x3x32`` read as size x kernel x kernel x channels, any
order, any case) and exact in what it returns: the fields as written, the
fields written blank (``RF:``, ``rf: ?``, ``k=..``), or, when a comment looks
like an annotation but cannot be read without guessing, the reason. It never
guesses. :mod:`autograder.checks.layer_annotations` compares the fields with
the inspector's figures.

A comment block between two layers belongs to the layer it touches (no blank
line between them). A block that touches both is given to the one that has no
annotation of its own, else by the layout of the other blocks (all above their
layer, or all below), else to the one that needs it (BatchNormalization,
Dropout and activations need none); only what remains is ambiguous.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from autograder.errors import AutograderError
from autograder.studentcode.notebook import parsed

Dims = tuple[int, ...]

# --- reading one comment -------------------------------------------------------------------------------------------

# Keys, by the field they name: (pattern, needs ":" or "=" after it). Longest match wins.
_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "out": ((r"out(?:put)?(?:[\s_]*(?:shape|size|dims?))?", False), (r"o/p(?:\s*(?:shape|size))?", False),
            (r"h\s*x\s*w(?:\s*x\s*c)?", False)),
    "nout": ((r"n_?out", False), (r"spatial(?:[\s_]*size)?", False)),
    "cout": ((r"c_?out", False), (r"channels?", False), (r"filters", False)),
    "rf": ((r"g?rf", False), (r"r_?out", False), (r"receptive[\s_-]*field(?:[\s_]*size)?", False), (r"r", True)),
    "jout": ((r"j_?out", False), (r"jump", False), (r"j", True)),
    "in": ((r"input(?:[\s_]*(?:shape|size))?", False), (r"i/p(?:\s*(?:shape|size))?", False), (r"in", True)),
    "nin": ((r"n_?in", False),),
    "cin": ((r"c_?in", False),),
    "rin": ((r"r_?in", False),),
    "jin": ((r"j_?in", False),),
    "k": ((r"kernel(?:[\s_]*size)?", False), (r"k", True)),
    "s": ((r"strides?", False), (r"s", True)),
    "p": ((r"pad(?:ding)?", False), (r"p", True)),
    "d": ((r"dilation(?:[\s_]*rate)?", False), (r"d", True)),
}
# How many numbers each field takes (a size: h x w x c; a figure: one, or height x width).
_ARITY = {"out": (1, 3), "in": (1, 3), "nout": (1, 2), "nin": (1, 2), "cout": (1, 1), "cin": (1, 1)}
_FIGURE_ARITY = (1, 2)
# Words that may carry a number without it being an annotation ("block 2", "32 filters", "params: 896").
_LABEL_WORDS = frozenset({"conv", "convolution", "convolutions", "kernel", "pool", "pooling", "layer", "layers",
                          "block", "blocks", "units", "neurons", "classes", "maps", "params", "parameters",
                          "param", "weights", "flops", "macs", "stage", "step", "epochs"})
_PADDING_WORDS = frozenset({"same", "valid"})

_NUM = r"\d+(?:\.\d+)?"
_END = r"(?:(?=px(?![a-z])|pixels?(?![a-z]))|(?![a-z0-9_]))"  # a number ends here ("5", "5px")
_TOKENS = [
    ("dims", rf"[(\[]\s*(?:none\s*,\s*)?{_NUM}(?:\s*[,x*]\s*{_NUM})*\s*,?\s*[)\]]"),
    ("dims", rf"{_NUM}(?:\s*[x*]\s*{_NUM})+{_END}"),
    ("dims", rf"{_NUM}(?:\s*,\s*{_NUM})+"),
    ("dims", rf"{_NUM}{_END}"),
    ("blank", r"\?+|\.{2,}|…|_{2,}|n/a(?![a-z])|tbd(?![a-z])"),
    ("word", r"[a-z_][a-z0-9_]*|\d+[a-z_][a-z0-9_]*"),
    ("eq", r"(?:[:=]|=>|->)+"),
    ("sep", r"[|#;,/]"),
    ("other", r"\S"),
]
_TOKEN_RE = re.compile("|".join(f"(?P<{kind}{i}>{pattern})" for i, (kind, pattern) in enumerate(_TOKENS)))
_KEY_RES = [(name, re.compile(rf"(?<![a-z0-9_])(?:{pattern})(?![a-z0-9_])" + (r"(?=\s*[:=])" if needs else "")))
            for name, patterns in _KEYS.items() for pattern, needs in patterns]


@dataclass(frozen=True)
class Annotation:
    """What one comment (or a layer's comments together) says about a layer."""

    text: str
    fields: dict[str, Dims]
    missing: frozenset[str] = frozenset()  # fields written with a blank value ("RF:", "rf: ?")
    unreadable: Optional[str] = None  # why the comment cannot be read without guessing (fields then empty)

    @property
    def has_size(self) -> bool:
        return "out" in self.fields or "nout" in self.fields

    @property
    def has_rf(self) -> bool:
        return "rf" in self.fields


@dataclass(frozen=True)
class _Token:
    kind: str  # key, dims, blank, word, eq, sep, other
    text: str
    value: str = ""  # the field, for a key


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        keys = [(m.end(), name) for name, pattern in _KEY_RES if (m := pattern.match(text, pos))]
        if keys:
            end, name = max(keys)
            out.append(_Token("key", text[pos:end], name))
            pos = end
            continue
        m = _TOKEN_RE.match(text, pos)
        assert m is not None and m.lastgroup is not None  # "other" matches any non-space
        out.append(_Token(m.lastgroup.rstrip("0123456789"), m.group(0)))
        pos = m.end()
    return out


def _numbers(dims: str) -> Optional[Dims]:
    """The whole numbers of a size or figure (``(None, 8, 8, 96)`` -> (8, 8, 96)); None if any is a fraction."""
    found = re.findall(_NUM, dims)
    if any("." in n for n in found):
        return None
    return tuple(int(n) for n in found)


class _Unreadable(AutograderError):
    """A comment that looks like an annotation but cannot be read without guessing (never leaves this module)."""


def parse_annotation(text: str) -> Optional[Annotation]:
    """The fields of one comment, or None when it annotates nothing.

    A comment that looks like an annotation but cannot be read without
    guessing comes back with ``unreadable`` set and no fields.
    """
    tokens = _tokens(text.lower().replace("×", "x"))
    if _is_prose(tokens):
        return None
    try:
        fields, missing, positional = _read(tokens)
        _assign_positional(fields, positional)
        for name, value in fields.items():
            low, high = _ARITY.get(name, _FIGURE_ARITY)
            if not low <= len(value) <= high:
                raise _Unreadable(f"{'x'.join(map(str, value))} cannot be a {name}")
    except _Unreadable as why:
        return Annotation(text.strip(), {}, frozenset(), str(why))
    missing -= fields.keys()
    if not fields and not missing:
        return None
    return Annotation(text.strip(), fields, frozenset(missing))


def _is_prose(tokens: list[_Token]) -> bool:
    """Words and no clear sign of an annotation (a labelled value, or a size like 32x32x16)."""
    words = any(t.kind == "word" and t.text not in _LABEL_WORDS for t in tokens)
    labelled = any(t.kind == "key" and n.kind in ("eq", "dims", "blank") for t, n in zip(tokens, tokens[1:]))
    sized = any(t.kind == "dims" and re.search(r"[x*(\[]|,.*,", t.text) for t in tokens)
    return words and not labelled and not sized


def _read(tokens: list[_Token]) -> tuple[dict[str, Dims], set[str], list[Dims]]:
    """Keyed fields, blank fields and bare (positional) values, in the order written."""
    fields: dict[str, Dims] = {}
    missing: set[str] = set()
    positional: list[Dims] = []
    unknown: list[str] = []
    if any(t.kind == "other" and t.text in "+*" for t in tokens) and any(t.kind in ("key", "dims") for t in tokens):
        raise _Unreadable("a calculation: write each value as one number")
    i = 0
    while i < len(tokens):
        if tokens[i].kind == "key":
            i = _read_keyed(tokens, i, fields, missing)
        elif tokens[i].kind == "dims":
            i = _read_bare(tokens, i, fields, positional, unknown)
        else:
            i += 1
    if unknown and (fields or positional or missing):
        raise _Unreadable(f"{unknown[0]} is not a field of the course notation")
    return fields, missing, positional


def _at(tokens: list[_Token], i: int) -> Optional[_Token]:
    return tokens[i] if 0 <= i < len(tokens) else None


def _whole_numbers(text: str) -> Dims:
    numbers = _numbers(text)
    if numbers is None:
        raise _Unreadable(f"{text} is not a whole number")
    return numbers


def _read_keyed(tokens: list[_Token], i: int, fields: dict[str, Dims], missing: set[str]) -> int:
    """Read the key at ``i`` and its value ("rf: 3", "RF 3", "RF: ?", "RF:"); the index after them."""
    key = tokens[i]
    has_eq = (after := _at(tokens, i + 1)) is not None and after.kind == "eq"
    j = i + 2 if has_eq else i + 1
    value = _at(tokens, j)
    if value is not None and value.kind == "dims":
        _put(fields, key.value, _whole_numbers(value.text), key.text)
        return j + 1
    if value is not None and value.kind == "blank":
        missing.add(key.value)
        return j + 1
    if not has_eq:
        return i + 1  # a key word used in prose ("output layer")
    if value is None or value.kind in ("sep", "key"):
        missing.add(key.value)
        return j
    if value.kind == "word" and key.value == "p" and value.text in _PADDING_WORDS:
        return j + 1  # "padding: same" is not compared
    raise _Unreadable(f"{key.text}: {value.text} is not a number")


def _read_bare(tokens: list[_Token], i: int, fields: dict[str, Dims], positional: list[Dims],
               unknown: list[str]) -> int:
    """Read a value with no key before it: a label's number, a suffixed value or a positional one."""
    token, before, after = tokens[i], _at(tokens, i - 1), _at(tokens, i + 1)
    if _is_label_number(tokens, i):
        return i + 1  # a label: "block 2", "conv 1", a heading's "Block-1", "Block #3"
    two_before = _at(tokens, i - 2)
    if before is not None and before.kind == "eq" and two_before is not None and two_before.kind == "word":
        if two_before.text not in _LABEL_WORDS:
            unknown.append(two_before.text)  # "n = 16"
        return i + 1
    after_key = _at(tokens, i + 2)
    if after is not None and after.kind == "key" and (after_key is None or after_key.kind not in ("eq", "dims", "blank")):
        _put(fields, after.value, _whole_numbers(token.text), after.text)  # "32 filters", "5 RF"
        return i + 2
    if after is not None and after.kind == "word" and not after.text.startswith(("px", "pixel")):
        if after.text not in _LABEL_WORDS:
            raise _Unreadable(f"{token.text} {after.text} is not a size or a field")
        return i + 2  # "3x3 conv", "32 filters"
    whole_size = re.fullmatch(rf"{_NUM}\s*[x*]\s*{_NUM}\s*[x*]\s*{_NUM}", token.text) is not None
    if before is not None and before.kind in ("dims", "blank", "other") and not whole_size:
        raise _Unreadable(f"{token.text} follows another value with nothing between them")
    numbers = _whole_numbers(token.text)
    if len(numbers) == 2 and token.text[0].isdigit() and "," in token.text:
        raise _Unreadable(f"{token.text}: a size, or a size and a field? write 30x30 or 30 | RF 5")
    positional.append(numbers)
    return i + 1


def _is_label_number(tokens: list[_Token], i: int) -> bool:
    """The number at ``i`` names what comes before it: ``block 2``, ``Block-1``, ``Block #3``."""
    before, two_before = _at(tokens, i - 1), _at(tokens, i - 2)
    if before is not None and before.kind == "word":
        return True
    joined = before is not None and before.text in ("-", "#") and tokens[i].text.isdigit()
    return joined and two_before is not None and two_before.kind == "word"


def _put(fields: dict[str, Dims], name: str, value: Dims, key: str) -> None:
    if name in fields and fields[name] != value:
        raise _Unreadable(f"{key} is written twice, with different values")
    fields[name] = value


def _assign_positional(fields: dict[str, Dims], positional: list[Dims]) -> None:
    """Bare values, in order, are the size and then the field (``#30 #RF=5``, ``#32,32,32 | 3x3``)."""
    if len(positional) > 2:
        raise _Unreadable(f"{len(positional)} bare values: label them (out: ..., RF: ...)")
    for slot, value in zip(("size", "rf"), positional):
        taken = ("out", "nout") if slot == "size" else ("rf",)
        if any(name in fields for name in taken):
            raise _Unreadable(f"a bare {'x'.join(map(str, value))} besides a labelled {slot}")
        if slot == "rf":
            fields["rf"] = value
        elif len(value) == 4 and value[1] == value[2]:  # n x k x k x c
            _put(fields, "nout", value[:1], "size")
            _put(fields, "k", value[1:2], "kernel")
            _put(fields, "cout", value[3:], "channels")
        else:
            fields["out"] = value


# --- finding the layers and their comments -------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedComment:
    """A comment block that touches two layers, neither of which it can be given to."""

    line: int
    text: str
    layer_lines: tuple[int, int]


@dataclass(frozen=True)
class LayerCall:
    """A layer constructor call in the source, with the annotation next to it."""

    class_name: str
    line: int  # line in the cell, 1-based
    cell: int  # index of the notebook cell (or 0 for a plain source string)
    annotation: Optional[Annotation] = None
    shared: Optional[SharedComment] = None  # an ambiguous comment block beside it


@dataclass
class _Block:
    first: int
    last: int
    text: str
    annotation: Annotation
    candidates: list[int] = field(default_factory=list)  # unit indices, above first
    directions: dict[int, str] = field(default_factory=dict)  # unit -> "above"/"below" (where the unit is)
    owner: Optional[int] = None


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


def layer_calls(source: str, layer_classes: Sequence[str], function: Optional[str] = None, cell: int = 0,
                optional_classes: Iterable[str] = ()) -> list[LayerCall]:
    """Layer constructor calls in ``source`` (inside ``function`` when given), in source order.

    ``optional_classes`` are layers that need no annotation (BatchNormalization, ...):
    a comment block touching one of them and a layer that does need one goes to the latter.
    """
    tree = parsed(source)
    if tree is None:
        return []
    scope: ast.AST = tree
    if function is not None:
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
        if not defs:
            return []
        scope = defs[-1]
    calls = [n for n in ast.walk(scope) if isinstance(n, ast.Call) and _call_name(n) in layer_classes]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    spans = _spans(scope, calls)
    comments = _comments(source)
    lines = source.splitlines()
    own = [_merge([comments[i] for i in range(a, b + 1) if i in comments]) for a, b in spans]
    blocks = _blocks(lines, comments, spans, scope)
    optional = {i for i, call in enumerate(calls) if _call_name(call) in set(optional_classes)}
    _resolve(blocks, {i for i, a in enumerate(own) if a is not None}, optional)
    found = []
    for index, call in enumerate(calls):
        mine = [b for b in blocks if b.owner == index]
        texts = [t for t in (own[index].text if own[index] else None, *(b.text for b in mine)) if t]
        annotation = _merge(texts) if mine else own[index]
        shared = next((SharedComment(b.first, b.text, tuple(spans[u][0] for u in b.candidates))  # type: ignore[arg-type]
                       for b in blocks if b.owner is None and index in b.candidates), None)
        found.append(LayerCall(_call_name(call) or "", call.lineno, cell, annotation, shared))
    return found


def _merge(texts: Sequence[str]) -> Optional[Annotation]:
    """The annotation of several comments of one layer together (a conflict makes it unreadable)."""
    parsed = [a for a in (parse_annotation(t) for t in texts if t) if a is not None]
    if len(parsed) <= 1:
        return parsed[0] if parsed else None
    text = "  # ".join(a.text for a in parsed)
    bad = next((a for a in parsed if a.unreadable), None)
    if bad is not None:
        return bad
    fields: dict[str, Dims] = {}
    for a in parsed:
        for name, value in a.fields.items():
            if fields.setdefault(name, value) != value:
                return Annotation(text, {}, frozenset(), f"{name} is written twice, with different values")
    missing = frozenset().union(*(a.missing for a in parsed)) - fields.keys()
    return Annotation(text, fields, missing)


def _spans(scope: ast.AST, calls: list[ast.Call]) -> list[tuple[int, int]]:
    """The lines each call owns: its whole statement when that builds one layer
    (``model.add(\\n layers.X(...)\\n)  # out: ...``), else its own lines (a Sequential list)."""
    statement_of = _statements(scope, calls)
    per_statement: dict[int, int] = {}
    for call in calls:
        key = id(statement_of[id(call)])
        per_statement[key] = per_statement.get(key, 0) + 1
    spans = []
    for call in calls:
        owner = statement_of[id(call)]
        node = owner if per_statement[id(owner)] == 1 else call
        spans.append((node.lineno, node.end_lineno or node.lineno))  # type: ignore[attr-defined]
    return spans


def _blocks(lines: list[str], comments: dict[int, str], spans: list[tuple[int, int]], scope: ast.AST) -> list[_Block]:
    """Runs of whole-line comments outside any layer's lines, with the layers they touch."""
    unit_of: dict[int, int] = {}
    for index, (a, b) in enumerate(spans):
        for line in range(a, b + 1):
            unit_of.setdefault(line, index)
    first = getattr(scope, "lineno", 1)
    last = getattr(scope, "end_lineno", None) or len(lines)
    blocks: list[_Block] = []
    line = first
    while line <= last:
        if line in unit_of or not lines[line - 1].lstrip().startswith("#"):
            line += 1
            continue
        start = line
        while line + 1 <= last and line + 1 not in unit_of and lines[line].lstrip().startswith("#"):
            line += 1
        text = "  # ".join(comments.get(i, "") for i in range(start, line + 1))
        annotation = _merge([text])
        if annotation is not None:
            block = _Block(start, line, text, annotation)
            for neighbour, where in ((start - 1, "above"), (line + 1, "below")):
                if neighbour in unit_of:
                    block.candidates.append(unit_of[neighbour])
                    block.directions[unit_of[neighbour]] = where
            blocks.append(block)
        line += 1
    return blocks


def _resolve(blocks: list[_Block], annotated: set[int], optional: set[int]) -> None:
    """Give each block to the layer it belongs to (see the module docstring); the rest stay ownerless."""
    for block in blocks:
        if len(block.candidates) == 1:
            block.owner = block.candidates[0]
    taken = annotated | {b.owner for b in blocks if b.owner is not None}

    def eliminate() -> None:
        changed = True
        while changed:
            changed = False
            for block in blocks:
                free = [u for u in block.candidates if u not in taken]
                if block.owner is None and len(block.candidates) == 2 and len(free) == 1:
                    block.owner = free[0]
                    taken.add(free[0])
                    changed = True

    eliminate()
    sides = {b.directions[b.owner] for b in blocks if b.owner is not None}
    if len(sides) == 1:  # every block placed so far sits on the same side of its layer
        side = sides.pop()
        given = {b.owner for b in blocks if b.owner is not None}
        for block in blocks:
            if block.owner is None and len(block.candidates) == 2:
                unit = next(u for u, where in block.directions.items() if where == side)
                if unit not in given:
                    block.owner = unit
                    given.add(unit)
                    taken.add(unit)
        eliminate()
    for block in blocks:
        if block.owner is None and len(block.candidates) == 2:
            needing = [u for u in block.candidates if u not in optional]
            if len(needing) == 1 and needing[0] not in taken:
                block.owner = needing[0]
                taken.add(needing[0])
    eliminate()


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


def notebook_layer_calls(cells: Sequence[str], layer_classes: Sequence[str], function: str,
                         optional_classes: Iterable[str] = ()) -> list[LayerCall]:
    """The calls inside the last definition of ``function`` across a notebook's code cells
    (as :func:`autograder.studentcode.notebook.code_cells` reads them)."""
    result: list[LayerCall] = []
    optional = tuple(optional_classes)
    for index, source in enumerate(cells):
        calls = layer_calls(source, layer_classes, function, index, optional)
        if calls or re.search(rf"^def\s+{re.escape(function)}\s*\(", source, re.M):
            result = calls  # a later definition replaces an earlier one
    return result
