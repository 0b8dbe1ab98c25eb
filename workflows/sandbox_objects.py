"""What sandboxed code may touch: attribute allow-lists, guarded methods, safe builtins.

Attribute access (``_getattr_``) is an allow-list by exact type: the JSON-like types of task
data, dates and times, and :class:`HelperNamespace` objects.  Functions, generators,
frames, modules and unknown objects expose nothing.  Methods that can allocate a lot in one
C call (``ljust``, ``replace``, ``join``, ``list.extend``, ...) come back wrapped in a size
check; callables passed to C loops (``map``, ``sorted(key=)``, ...) are wrapped so that the
loop still ticks the CPU/memory clock.
"""
from __future__ import annotations

import builtins
from datetime import date, datetime, time, timedelta, timezone
from functools import partial

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from .sandbox_guards import check_length, check_text, refuse, tick
from .sandbox_ops import (guarded_add, guarded_apply, guarded_except, guarded_format,
                          guarded_getitem, guarded_inplacevar, guarded_lshift, guarded_mod,
                          guarded_mul, guarded_pow, guarded_write)
from .sandbox_policy import FORBIDDEN_ATTRIBUTES


class HelperNamespace:
    """A read-only group of helpers, e.g. ``math.floor``; only its members are reachable."""

    __slots__ = ("members",)

    def __init__(self, **members):
        self.members = dict(members)

    def __repr__(self) -> str:
        return f"<helpers {', '.join(sorted(self.members))}>"


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STR = _names("""capitalize casefold center count encode endswith expandtabs find index isalnum
    isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable isspace istitle
    isupper join ljust lower lstrip partition removeprefix removesuffix replace rfind rindex rjust
    rpartition rsplit rstrip split splitlines startswith strip swapcase title upper zfill""")
_BYTES = _names("""center count decode endswith find hex index isalnum isalpha isascii isdigit
    islower isspace isupper join ljust lower lstrip replace rjust rstrip split startswith strip
    upper zfill""")
_INT = _names("as_integer_ratio bit_count bit_length conjugate denominator imag numerator real")
_FLOAT = _names("as_integer_ratio conjugate hex imag is_integer real")
_LIST = _names("append clear copy count extend index insert pop remove reverse sort")
_DICT = _names("clear copy get items keys pop popitem setdefault update values")
_FROZENSET = _names("copy difference intersection isdisjoint issubset issuperset "
                    "symmetric_difference union")
_SET = _FROZENSET | _names("""add clear difference_update discard intersection_update pop
    remove symmetric_difference_update update""")
_DATE = _names("ctime day isocalendar isoformat isoweekday month replace strftime toordinal "
               "weekday year")
_TZINFO = _names("dst tzname utcoffset")
_TIME = _TZINFO | _names("fold hour isoformat microsecond minute replace second strftime tzinfo")
_DATETIME = _DATE | _TIME | _names("astimezone date time timestamp timetz")
_TIMEDELTA = _names("days microseconds seconds total_seconds")

INSTANCE_ATTRIBUTES: dict[type, frozenset[str]] = {
    str: _STR, bytes: _BYTES, int: _INT, bool: _INT, float: _FLOAT, list: _LIST,
    tuple: _names("count index"), dict: _DICT, set: _SET, frozenset: _FROZENSET,
    range: _names("count index start step stop"), type(None): frozenset(),
    type({}.keys()): _names("isdisjoint"), type({}.items()): _names("isdisjoint"),
    type({}.values()): frozenset(), date: _DATE, datetime: _DATETIME, time: _TIME,
    timedelta: _TIMEDELTA, timezone: _TZINFO,
    type(date(2000, 1, 1).isocalendar()): _names("count index week weekday year"),
}
_DATE_CLASS = _names("fromisocalendar fromisoformat fromordinal fromtimestamp max min "
                     "resolution today")
CLASS_ATTRIBUTES: dict[type, frozenset[str]] = {
    str: _STR, bytes: _BYTES, list: _LIST, dict: _DICT | _names("fromkeys"), set: _SET,
    frozenset: _FROZENSET, tuple: _names("count index"), int: _INT | _names("from_bytes"),
    float: _FLOAT | _names("fromhex"), date: _DATE | _DATE_CLASS,
    datetime: _DATETIME | _DATE_CLASS | _names("combine now strptime"),
    time: _TIME | _names("fromisoformat max min resolution"),
    timedelta: _TIMEDELTA | _names("max min resolution"), timezone: _TZINFO | _names("utc"),
}


# -- methods that can allocate a lot in one call --------------------------------------------

def _text_only(s) -> None:
    if not isinstance(s, (str, bytes)):
        raise TypeError(f"expected a string, not {type(s).__name__}")


def _padded(name: str):
    def guard(s, width, *args):
        _text_only(s)
        if isinstance(width, int):
            check_length(max(width, len(s)), "text")
        return getattr(s, name)(width, *args)
    guard.__name__ = guard.__qualname__ = name
    return guard


def _replace(s, old, new, count=-1):
    _text_only(s)
    if isinstance(old, type(s)) and isinstance(new, type(s)) and len(new) > len(old):
        found = s.count(old) if old else len(s) + 1
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        check_length(len(s) + found * (len(new) - len(old)), "text")
    return s.replace(old, new, count)


def _expandtabs(s, tabsize=8):
    _text_only(s)
    if isinstance(tabsize, int):
        check_length(len(s) + s.count("\t" if isinstance(s, str) else b"\t") * max(tabsize, 0), "text")
    return s.expandtabs(tabsize)


def _join(s, iterable):
    _text_only(s)
    items = list(iterable)
    size = len(s) * max(len(items) - 1, 0)
    for item in items:
        size += len(item) if isinstance(item, (str, bytes)) else 0
    check_length(size, "text")
    return s.join(items)


def _extend(lst, iterable):
    if not isinstance(lst, list):
        raise TypeError(f"expected a list, not {type(lst).__name__}")
    if isinstance(iterable, (str, bytes, list, tuple, dict, set, frozenset, range)):
        check_length(len(lst) + len(iterable), "list")
    lst.extend(iterable)


def _ticking(func):
    """Wrap a callable handed to a C loop so that every call ticks the sandbox clock."""
    if func is None:
        return None

    def call(*args):
        tick()
        return func(*args)
    return call


def _sort(lst, *, key=None, reverse=False):
    if not isinstance(lst, list):
        raise TypeError(f"expected a list, not {type(lst).__name__}")
    lst.sort(key=_ticking(key), reverse=reverse)


METHOD_GUARDS: dict[tuple[type, str], object] = {
    (list, "extend"): _extend, (list, "sort"): _sort,
}
for _kind in (str, bytes):
    for _name in ("ljust", "rjust", "center", "zfill"):
        METHOD_GUARDS[(_kind, _name)] = _padded(_name)
    METHOD_GUARDS[(_kind, "replace")] = _replace
    METHOD_GUARDS[(_kind, "expandtabs")] = _expandtabs
    METHOD_GUARDS[(_kind, "join")] = _join


def guarded_getattr(obj, name):
    """``obj.name`` in sandboxed code."""
    if type(name) is not str or name[:1] == "_" or name in FORBIDDEN_ATTRIBUTES:
        refuse(f"Access to attribute '{name}' is not allowed.")
    kind = type(obj)
    allowed = INSTANCE_ATTRIBUTES.get(kind)
    if allowed is not None:
        if name in allowed:
            guard = METHOD_GUARDS.get((kind, name))
            return getattr(obj, name) if guard is None else partial(guard, obj)
        owner = f"a {kind.__name__} value"
    elif isinstance(obj, type):
        cls = CLASS_PROXIES.get(obj, obj)
        allowed = CLASS_ATTRIBUTES.get(cls)
        if allowed is not None and name in allowed:
            guard = METHOD_GUARDS.get((cls, name))
            return getattr(cls, name) if guard is None else guard
        owner = f"the class '{cls.__name__}'"
    elif kind is HelperNamespace:
        if name in obj.members:
            return obj.members[name]
        raise AttributeError(f"there is no helper '{name}' in {obj!r}")
    elif isinstance(obj, Exception) and name == "args":
        return obj.args
    else:
        owner = f"a {kind.__name__} value"
    if allowed is not None and not hasattr(obj, name):
        raise AttributeError(f"'{kind.__name__}' object has no attribute '{name}'")
    refuse(f"Access to attribute '{name}' of {owner} is not allowed in diagram scripts.")


# -- builtins ---------------------------------------------------------------------------

class _StrMeta(type):
    """``str`` as sandboxed code sees it: a checked constructor that still works with
    ``isinstance(x, str)`` and ``str.upper``."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, str)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, str)

    def __call__(cls, *args, **kwargs):
        if len(args) <= 1 and "encoding" not in kwargs and "errors" not in kwargs:
            check_text(args[0] if args else kwargs.get("object", ""))
        return str(*args, **kwargs)


class SafeStr(metaclass=_StrMeta):
    pass


SafeStr.__name__ = SafeStr.__qualname__ = "str"
CLASS_PROXIES: dict[type, type] = {SafeStr: str}


def safe_repr(obj) -> str:
    check_text(obj)
    return repr(obj)


def safe_range(*args) -> range:
    result = range(*args)
    try:
        size = len(result)
    except OverflowError:
        size = abs(result.stop - result.start) // abs(result.step)
    check_length(size, "range")
    return result


def safe_sum(iterable, /, start=0):
    if not isinstance(start, (list, tuple)):
        return sum(iterable, start)
    # concatenating sequences: linear (sum() is quadratic) and size-checked
    items = list(iterable)
    check_length(len(start) + sum(len(i) for i in items if isinstance(i, (list, tuple))),
                 type(start).__name__)
    result = list(start)
    for item in items:
        if type(item) is not type(start):
            raise TypeError(f'can only concatenate {type(start).__name__} (not '
                            f'"{type(item).__name__}") to {type(start).__name__}')
        tick()
        result.extend(item)
    return result if isinstance(start, list) else tuple(result)


def safe_map(func, *iterables):
    for args in zip(*iterables):
        tick()
        yield func(*args)


def safe_zip(*iterables, strict=False):
    for items in zip(*iterables, strict=strict):
        tick()
        yield items


def safe_filter(func, iterable):
    for item in iterable:
        tick()
        if (item if func is None else func(item)):
            yield item


def safe_sorted(iterable, /, *, key=None, reverse=False):
    return sorted(iterable, key=_ticking(key), reverse=reverse)


def safe_min(*args, **kwargs):
    if kwargs.get("key") is not None:
        kwargs["key"] = _ticking(kwargs["key"])
    return min(*args, **kwargs)


def safe_max(*args, **kwargs):
    if kwargs.get("key") is not None:
        kwargs["key"] = _ticking(kwargs["key"])
    return max(*args, **kwargs)


def safe_pow(base, exp, mod=None):
    return guarded_pow(base, exp) if mod is None else pow(base, exp, mod)


for _func, _name in ((safe_repr, "repr"), (safe_range, "range"), (safe_sum, "sum"),
                     (safe_map, "map"), (safe_zip, "zip"), (safe_filter, "filter"),
                     (safe_sorted, "sorted"), (safe_min, "min"), (safe_max, "max"),
                     (safe_pow, "pow")):
    _func.__name__ = _func.__qualname__ = _name

_PLAIN = ("abs all any bool chr dict divmod enumerate float frozenset int isinstance len list "
          "ord reversed round set tuple")
_EXCEPTIONS = ("ArithmeticError AssertionError AttributeError Exception IndexError KeyError "
               "LookupError NameError NotImplementedError OverflowError RecursionError "
               "RuntimeError TypeError ValueError ZeroDivisionError")

#: builtins of sandboxed code (before the date/time helpers of workflows.helpers)
SAFE_BUILTINS: dict[str, object] = {name: getattr(builtins, name)
                                    for name in (_PLAIN + " " + _EXCEPTIONS).split()}
SAFE_BUILTINS.update(str=SafeStr, repr=safe_repr, range=safe_range, sum=safe_sum, map=safe_map,
                     zip=safe_zip, filter=safe_filter, sorted=safe_sorted, min=safe_min, max=safe_max,
                     pow=safe_pow)

#: the names RestrictedPython and our policy make transformed code call
GUARDS: dict[str, object] = {
    "_getattr_": guarded_getattr, "_getitem_": guarded_getitem, "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence, "_write_": guarded_write,
    "_inplacevar_": guarded_inplacevar, "_apply_": guarded_apply, "_tick_": tick,
    "_except_": guarded_except, "_mul_": guarded_mul, "_pow_": guarded_pow,
    "_lshift_": guarded_lshift, "_add_": guarded_add, "_mod_": guarded_mod,
    "_format_": guarded_format,
}
