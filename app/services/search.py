"""Searching text typed by people: their ``%`` and ``_`` are letters, not LIKE wildcards."""
from __future__ import annotations

#: the ESCAPE character of every pattern made here
ESCAPE = "\\"


def like_escape(text: str) -> str:
    """``text`` with LIKE's wildcards and the escape character escaped (use ``escape=ESCAPE``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
