"""Operator guards: the policy rewrites ``a * b`` into ``_mul_(a, b)`` and so on.

Each guard estimates the size of the result *before* the operation runs and stops the run
(:func:`workflows.sandbox_guards.refuse`) when it would exceed a :class:`SandboxLimits` limit.
"""
from __future__ import annotations

import math
import operator
import re

from .sandbox_guards import check_bits, check_length, check_text, current, refuse

_TEXT = (str, bytes)


def _kind(obj) -> str:
    return "text" if isinstance(obj, _TEXT) else type(obj).__name__


def check_mul(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int):
        if a and b:
            check_bits(a.bit_length() + b.bit_length())
    elif isinstance(b, int) and isinstance(a, (str, bytes, list, tuple)):
        check_length(len(a) * max(b, 0), _kind(a))
    elif isinstance(a, int) and isinstance(b, (str, bytes, list, tuple)):
        check_length(len(b) * max(a, 0), _kind(b))


def check_pow(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a not in (0, 1, -1):
        check_bits(int(math.log2(abs(a)) * b) + 1)


def check_lshift(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        check_bits(a.bit_length() + b)


def check_add(a, b) -> None:
    if isinstance(a, (str, bytes, list, tuple)) and isinstance(b, (str, bytes, list, tuple)):
        check_length(len(a) + len(b), _kind(a))


_FORMAT_NUMBER = re.compile(r"\d+")


def check_format_spec(spec) -> None:
    """Refuse widths/precisions above ``max_string`` in a format spec or %-format."""
    if not spec:
        return
    state = current()
    limit = state.limits.max_string
    for number in _FORMAT_NUMBER.findall(spec if isinstance(spec, str) else spec.decode("latin-1")):
        if len(number) > 9 or int(number) > limit:
            state.trip(f"The {state.what} asked for a text field {int(number):,} characters "
                       f"wide; the limit is {limit:,}.")


def check_mod(a, b) -> None:
    if not isinstance(a, (str, bytes)):
        return
    check_format_spec(a)
    args = b if isinstance(b, tuple) else (b,)
    star = b"*" if isinstance(a, bytes) else "*"
    if star in a:  # '%*s' takes the width from the arguments
        for arg in args:
            if isinstance(arg, int):
                check_format_spec(str(abs(arg)))
    check_text(b)


def guarded_mul(a, b):
    check_mul(a, b)
    return a * b


def guarded_pow(a, b):
    check_pow(a, b)
    return a ** b


def guarded_lshift(a, b):
    check_lshift(a, b)
    return a << b


def guarded_add(a, b):
    if type(a) in _FAST_ADD and type(b) in _FAST_ADD:
        return a + b
    check_add(a, b)
    return a + b


_FAST_ADD = frozenset({int, float, bool})


def guarded_mod(a, b):
    check_mod(a, b)
    return a % b


def guarded_format(value, conversion: int, spec):
    """``f"{value!conversion:spec}"`` with size checks."""
    if conversion == 114:  # !r
        check_text(value)
        value = repr(value)
    elif conversion == 97:  # !a
        check_text(value)
        value = ascii(value)
    elif conversion == 115:  # !s
        check_text(value)
        value = str(value)
    if spec:
        check_format_spec(spec)
    elif type(value) is str:
        return value
    if not isinstance(value, (str, int, float)):
        check_text(value)
    return format(value, spec or "")


_INPLACE = {
    "+=": (check_add, operator.iadd), "-=": (None, operator.isub), "*=": (check_mul, operator.imul),
    "/=": (None, operator.itruediv), "//=": (None, operator.ifloordiv),
    "%=": (check_mod, operator.imod), "**=": (check_pow, operator.ipow),
    "<<=": (check_lshift, operator.ilshift), ">>=": (None, operator.irshift),
    "|=": (None, operator.ior), "&=": (None, operator.iand), "^=": (None, operator.ixor),
    "@=": (None, operator.imatmul),
}


def guarded_inplacevar(op: str, x, y):
    check, func = _INPLACE[op]
    if check is not None:
        check(x, y)
    return func(x, y)


def guarded_except(_alive, exc_type):
    """The type of an ``except`` clause: only Exception and its subclasses."""
    for kind in (exc_type if isinstance(exc_type, tuple) else (exc_type,)):
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            refuse("Only Exception and its subclasses can be caught in diagram scripts.")
    return exc_type


def guarded_write(obj):
    """Target of ``obj[k] = v`` / ``del obj[k]`` / ``obj.a = v``: only dicts and lists."""
    if type(obj) in (dict, list):
        return obj
    refuse(f"Changing a {type(obj).__name__} value is not allowed; only dicts and lists can be "
           f"modified.")


def guarded_getitem(obj, key):
    return obj[key]


def guarded_apply(func, *args, **kwargs):
    return func(*args, **kwargs)
