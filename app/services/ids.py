"""Ids as people and browsers send them (query strings, form fields, cursors)."""
from __future__ import annotations


#: ids are INTEGER columns (PostgreSQL: 32-bit); anything larger names nothing
MAX_ID = 2**31 - 1


def parse_id(value: object) -> int | None:
    """An id from a query string or form field: ASCII digits within the column's range, else
    None (``"²"``, ``"1e9"``, ``"9"*30`` name nothing rather than crash)."""
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
