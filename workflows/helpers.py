"""The helpers diagram scripts and expressions may call (the sandbox's allow-list).

``DEFAULT_HELPERS`` is what every sandboxed script sees besides its task data: safe builtins
(``len``, ``min``, ``sorted``, ``str``, ``range``, ...; the ones that can allocate or loop are
size- and time-checked versions), a few exception classes, date/time helpers and ``math``.
The application adds its own (e.g. ``sla_due`` bound to a ticket) through
``SandboxedScriptEngine(helpers=...)``.

Timer expressions: SpiffWorkflow 3.2 expects a *string* from a timer expression — an ISO 8601
date-time for a timer date (``iso(add_days(now(), 2))``), an ISO 8601 duration for a timer
duration (``iso_duration(hours=4)``) or a repeating interval for a cycle
(``"R3/" + iso_duration(days=1)``).  A datetime or timedelta object is *not* accepted there,
so ``iso``/``iso_duration`` turn them into the expected text.
"""
from __future__ import annotations

import math as _math
from datetime import date, datetime, time, timedelta, timezone

from .sandbox_objects import SAFE_BUILTINS, HelperNamespace

UTC = timezone.utc


def now() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC."""
    return datetime.now(UTC).date()


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date-time (``2024-05-01T09:30:00+02:00``, ``...Z``, or a bare date) as an
    aware datetime in UTC; a value without a zone is taken as UTC."""
    if isinstance(text, datetime):
        value = text
    elif isinstance(text, date):
        value = datetime.combine(text, time())
    else:
        text = str(text).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(text: str) -> date:
    """An ISO 8601 date (``2024-05-01``) as a date."""
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    return date.fromisoformat(str(text).strip()[:10])


def _moment(value):
    return parse_datetime(value) if isinstance(value, str) else value


def add_days(value, days: float):
    """``value`` (a datetime, date or ISO text) plus ``days`` days."""
    return _moment(value) + timedelta(days=days)


def add_hours(value, hours: float):
    return _moment(value) + timedelta(hours=hours)


def add_minutes(value, minutes: float):
    return _moment(value) + timedelta(minutes=minutes)


def iso(value) -> str:
    """ISO 8601 text of a datetime (naive ones are taken as UTC), a date or a timedelta."""
    if isinstance(value, timedelta):
        return _duration_text(value)
    if isinstance(value, datetime):
        return parse_datetime(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return parse_datetime(value).isoformat()
    raise TypeError(f"iso() needs a datetime, date or timedelta, not {type(value).__name__}")


def iso_duration(value: timedelta | None = None, *, days: float = 0, hours: float = 0,
                 minutes: float = 0, seconds: float = 0) -> str:
    """An ISO 8601 duration such as ``PT4H`` (a timer duration expression accepts it):
    ``iso_duration(hours=4)`` or ``iso_duration(timedelta(days=1))``."""
    total = (value or timedelta()) + timedelta(days=days, hours=hours, minutes=minutes,
                                               seconds=seconds)
    return _duration_text(total)


def _duration_text(delta: timedelta) -> str:
    if delta < timedelta(0):
        raise ValueError("a timer duration cannot be negative")
    seconds = delta.seconds + delta.microseconds / 1_000_000
    text = f"{seconds:.6f}".rstrip("0").rstrip(".") if delta.microseconds else str(delta.seconds)
    if delta.days:
        return f"P{delta.days}DT{text}S"
    return f"PT{text}S"


math = HelperNamespace(
    floor=_math.floor, ceil=_math.ceil, trunc=_math.trunc, sqrt=_math.sqrt, fabs=_math.fabs,
    isclose=_math.isclose, log=_math.log, log10=_math.log10, exp=_math.exp,
    pi=_math.pi, e=_math.e, inf=_math.inf,
)

DATE_HELPERS: dict[str, object] = {
    "now": now, "today": today, "parse_datetime": parse_datetime, "parse_date": parse_date,
    "add_days": add_days, "add_hours": add_hours, "add_minutes": add_minutes, "iso": iso,
    "iso_duration": iso_duration, "datetime": datetime, "date": date, "time": time,
    "timedelta": timedelta, "timezone": timezone, "UTC": UTC,
}

#: every name a sandboxed script sees besides its task data
DEFAULT_HELPERS: dict[str, object] = {**SAFE_BUILTINS, **DATE_HELPERS, "math": math}
