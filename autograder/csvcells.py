"""CSV cells that stay inert in a spreadsheet (to be replaced by the shared ``csv_safe`` helper once on main).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by Excel,
LibreOffice and Google Sheets; OWASP's advice (CSV Injection) is to prefix such a cell with a single quote.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(text: object) -> str:
    """``text`` as a CSV cell no spreadsheet evaluates."""
    cell = str(text)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
