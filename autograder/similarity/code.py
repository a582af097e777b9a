"""How alike the students' own code is: copydetect's winnowing over the notebooks' solution code.

A student's own code is every code cell of their notebook that is not locked
(nbgrader's metadata), not the parameters cell and not papermill's injected
one, with the released notebook's code (starter code, stubs, locked cells)
removed as boilerplate. copydetect tokenizes it with Pygments, writes every
name as ``V`` and every string as ``S`` and drops comments and spaces, so
renamed variables and changed comments do not hide a copy; cells are put in a
canonical order (sorted by their normalized text), so reordered cells do not
either. A pair's score is the share of fingerprints (winnowed k-gram hashes)
the two notebooks have in common (Dice); the copied fragments of a pair come
from copydetect's ``compare_files``.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

NOTEBOOK_BYTES = 50_000_000  # a notebook read for its code (sources only are kept)
LOCKED_TAGS = {"parameters", "injected-parameters"}


class CodeUnavailable(Exception):
    """A notebook whose code cannot be read: said in the report, never paired."""


@dataclass
class Code:
    """One notebook's own code, fingerprinted."""

    student: str
    text: str  # the cells in canonical order, as written
    fingerprint: Any = None  # a copydetect.CodeFingerprint
    hashes: frozenset = field(default_factory=frozenset)


def notebook_cells(path: Path, max_bytes: int = NOTEBOOK_BYTES) -> list[dict[str, Any]]:
    """The cells of a notebook file (JSON only, never executed), at most ``max_bytes``; a symlink is refused."""
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CodeUnavailable("no notebook") from None
    except OSError as exc:
        raise CodeUnavailable(f"the notebook cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CodeUnavailable("the notebook is not a regular file")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CodeUnavailable(f"the notebook is larger than {max_bytes:,} bytes")
    try:
        cells = json.loads(data).get("cells")
    except (ValueError, AttributeError, RecursionError):
        raise CodeUnavailable("the notebook is not valid notebook JSON") from None
    if not isinstance(cells, list):
        raise CodeUnavailable("the notebook has no list of cells")
    return [c for c in cells if isinstance(c, dict)]


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def own_cells(cells: Sequence[Mapping[str, Any]]) -> list[str]:
    """The sources of the code cells a student wrote: not locked, not the parameters."""
    own = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
        tags = metadata.get("tags") if isinstance(metadata.get("tags"), list) else []
        if nbgrader.get("locked") and not nbgrader.get("solution"):
            continue
        if LOCKED_TAGS & {t for t in tags if isinstance(t, str)}:
            continue
        if _source(cell).strip():
            own.append(_source(cell).strip())
    return own


def released_cells(path: Path) -> list[str]:
    """Every code cell of the released notebook: what no student wrote."""
    return [_source(c) for c in notebook_cells(path) if c.get("cell_type") == "code"]


def canonical(cells: Sequence[str]) -> str:
    """The cells in an order that does not depend on the notebook's: sorted by their normalized tokens."""
    return "\n\n".join(sorted(cells, key=lambda c: (normalized(c), c)))


def boilerplate(released: str, noise: int) -> Any:
    """Every k-gram hash of the released code (copydetect's boilerplate), to be removed from each notebook."""
    from copydetect import CodeFingerprint

    return CodeFingerprint("released.py", noise, 1, language="python", fp=io.StringIO(released)).hashes


@functools.lru_cache(maxsize=4096)
def normalized(cell: str) -> str:
    """A cell as copydetect compares it: names as V, strings as S, no comments or spaces."""
    from copydetect.utils import filter_code

    return filter_code(cell, "cell.py", "python")[0]


def fingerprint(student: str, cells: Sequence[str], noise: int, guarantee: int, removed: Any,
                released_cells: Sequence[str] = ()) -> Code:
    """``student``'s own code fingerprinted: cells as released (starter code left as it was) and cells too short
    to hold a k-gram dropped, the released code's k-grams removed."""
    import numpy as np
    from copydetect import CodeFingerprint

    as_released = {normalized(c) for c in released_cells}
    text = canonical([c for c in cells if len(normalized(c)) >= noise and normalized(c) not in as_released])
    fp = CodeFingerprint(f"{student}.py", noise, guarantee - noise + 1, boilerplate=np.array(sorted(removed)),
                         language="python", fp=io.StringIO(text))
    return Code(student, text, fp, frozenset(int(h) for h in fp.hashes))


def dice_matrix(codes: Sequence[Code]) -> Any:
    """The share of fingerprints each pair of notebooks has in common: 2|A and B| / (|A| + |B|), all pairs at once."""
    import numpy as np
    from scipy import sparse

    index: dict[int, int] = {}
    rows, cols = [], []
    for row, code in enumerate(codes):
        for h in code.hashes:
            rows.append(row)
            cols.append(index.setdefault(h, len(index)))
    incidence = sparse.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)),
                                  shape=(len(codes), max(1, len(index))))
    shared = (incidence @ incidence.T).toarray()
    sizes = np.diag(shared).copy()
    total = sizes[:, None] + sizes[None, :]
    return np.divide(2 * shared, total, out=np.zeros_like(shared), where=total > 0)


@dataclass(frozen=True)
class Fragments:
    """The copied code of a pair: each side's matched fragments, longest first."""

    matched_chars: int  # normalized characters of the first notebook found in the second
    left: list[str]
    right: list[str]


def fragments(a: Code, b: Code, limit: int = 6, max_chars: int = 1200) -> Fragments:
    """copydetect's copied slices of ``a`` and ``b``, as text."""
    from copydetect import compare_files

    overlap, _, (left, right) = compare_files(a.fingerprint, b.fingerprint)

    def texts(code: Code, slices: Any) -> list[str]:
        if len(slices) == 0 or len(slices[0]) == 0:
            return []
        parts = [whole_lines(code.text, int(s), int(e)) for s, e in zip(slices[0], slices[1])]
        parts.sort(key=len, reverse=True)
        return [cut_at_line(p, max_chars) for p in parts[:limit]]

    return Fragments(int(overlap), texts(a, left), texts(b, right))


def whole_lines(text: str, start: int, end: int) -> str:
    """``text[start:end]`` widened to whole lines (an excerpt never starts or ends mid-word)."""
    start = text.rfind("\n", 0, start) + 1
    stop = text.find("\n", max(start, end - 1))
    return text[start:len(text) if stop < 0 else stop].strip("\n")


def cut_at_line(text: str, max_chars: int) -> str:
    """``text`` within ``max_chars``, cut at the end of a line (a first line longer than that is cut as it is)."""
    if len(text) <= max_chars:
        return text
    end = text.rfind("\n", 0, max_chars + 1)
    return text[:end if end > 0 else max_chars] + "\n..."


def read_code(notebook: Optional[Path]) -> list[str]:
    """A student's own cells from their (executed) notebook; :class:`CodeUnavailable` says why there are none."""
    if notebook is None:
        raise CodeUnavailable("no notebook")
    return own_cells(notebook_cells(notebook))
