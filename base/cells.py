"""Text cells a spreadsheet would run: the one rule our CSV/XLSX writers and readers share.

Excel and LibreOffice run a cell as a formula when its text starts with ``= + - @``, also after
leading spaces, tabs, line breaks or other control characters some importers skip; a cell
starting with a tab or carriage return is neutralised as well (OWASP's CSV-injection rule).
Writers prefix such text with ``'``; readers take that one ``'`` off again, so our own exports
read back exactly. Text that already starts with ``'`` before such a start gets one more
(``'=x`` is written ``''=x``), so a user's own leading quote survives the round trip too.
"""

from __future__ import annotations

import re

# Skipped before the formula sign: any Unicode whitespace, C0/C1 controls, zero-width and BOM.
_LEAD = r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2060\ufeff]*"
_FORMULA = rf"(?:[\t\r]|{_LEAD}[=+\-@])"
_NEEDS_QUOTE = re.compile(rf"'*{_FORMULA}")
NEUTRALISED = rf"'+{_FORMULA}"
"""Regex (anchored at the start by ``re.match``) of a cell our writers neutralised."""


def formula_like(text: str) -> bool:
    """Whether ``text`` must be written with a leading ``'`` (see the module docstring)."""
    return _NEEDS_QUOTE.match(text) is not None


def neutralise(value: object) -> object:
    """``value`` with a leading ``'`` when it is formula-like text; anything else unchanged."""
    return "'" + value if isinstance(value, str) and formula_like(value) else value
