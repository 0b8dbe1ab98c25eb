"""Where a form may send a person afterwards."""
from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """A local path only: after a form, never a redirect to another site (``//host``,
    ``https://host``, ``/\\host`` are all refused)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target

