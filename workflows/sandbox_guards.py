"""Run-time half of the sandbox: limits, the per-run state and the operator guards.

Sandboxed code is compiled by :mod:`workflows.sandbox_policy`, which makes it call the guards
defined here (``_tick_``, ``_mul_``, ``_format_``, ...).  The state of the run in progress
lives in a thread-local, so one set of guard functions serves every engine and thread.

A breach raises :class:`SandboxAbort`, a ``BaseException``: ``except Exception`` in
sandboxed code cannot catch it, catching anything broader is refused at compile time, and
once a run has tripped every ``_tick_()`` (which the policy puts in front of each ``except``
clause and ``finally`` block) raises it again.  The environment converts it into
:class:`workflows.types.SandboxError` at the boundary.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime

from .types import SandboxError


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one script or expression run.

    ``cpu_seconds``: CPU time of the running thread (``time.thread_time``), checked every
    few loop iterations / function calls.  ``memory_mb``: growth of the process's resident
    memory while the code runs (and the largest single allocation the guards allow).
    ``max_sequence``: items of a list/tuple/range built by ``*``, ``+``, ``range()`` or
    ``sum()``.  ``max_string``: characters of a string built by ``*``, ``+``, ``%``,
    f-strings, ``str()``, ``join`` and the padding methods.  ``max_int_bits``: size of an
    integer built by ``*``, ``**`` or ``<<``.
    """

    cpu_seconds: float = 1.0
    memory_mb: int = 64
    max_sequence: int = 100_000
    max_string: int = 1_000_000
    max_int_bits: int = 100_000


class SandboxAbort(BaseException):
    """Internal stop signal; never reachable from sandboxed code."""


#: check the CPU clock every N ticks, the memory every N * MEMORY_EVERY ticks
CHECK_EVERY = 16
MEMORY_EVERY = 4
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_statm: list = [None, None]  # [pid, fd]


def _rss() -> int | None:
    """Resident set size of this process in bytes (Linux), else None."""
    pid = os.getpid()
    if _statm[0] != pid:  # (re)open after a fork: /proc/self is resolved at open time
        try:
            _statm[1] = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            _statm[1] = None
        _statm[0] = pid
    if _statm[1] is None:
        return None
    try:
        return int(os.pread(_statm[1], 64, 0).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class RunState:
    """Counters of the run in progress on this thread.

    The stop path makes no calls (``tripped`` is set and a pre-built ``abort`` raised), and
    the tick budget is only refilled after a complete check: code running right at the
    recursion limit, where the check itself fails with RecursionError, cannot make progress
    without the next tick checking again.
    """

    __slots__ = ("limits", "what", "budget", "checks", "deadline", "rss_base", "accounted",
                 "pending", "tripped", "memory_bytes", "abort", "cpu_message")

    def __init__(self, limits: SandboxLimits, what: str):
        self.limits = limits
        self.what = what  # "script" or "expression", for messages
        self.budget = CHECK_EVERY
        self.checks = 0
        self.deadline: float | None = None  # set at the first check
        self.rss_base: int | None = None
        self.accounted = 0  # bytes estimated by guards before the RSS baseline was taken
        self.pending = 0
        self.tripped: str | None = None  # the message, once the run was stopped
        self.memory_bytes = limits.memory_mb * 1024 * 1024
        self.abort = SandboxAbort()
        self.cpu_message = ""
        if what == "script":  # expressions (the hot path) take their baseline lazily
            self.rss_base = _rss()

    def trip(self, message: str):
        self.tripped = message
        raise self.abort

    def check(self) -> None:
        now = time.thread_time()
        if self.deadline is None:
            self.cpu_message = (f"The {self.what} ran longer than {self.limits.cpu_seconds:g} s "
                                f"of CPU time and was stopped.")
            self.deadline = now + self.limits.cpu_seconds
        elif now > self.deadline:
            self.tripped = self.cpu_message
            raise self.abort
        if self.checks % MEMORY_EVERY == 0:
            self.check_memory()
        self.checks += 1
        self.budget = CHECK_EVERY

    def check_memory(self) -> None:
        rss = _rss()
        if rss is None:
            return
        if self.rss_base is None:
            self.rss_base = rss - self.accounted
        if rss - self.rss_base > self.memory_bytes:
            self.trip(f"The {self.what} used more than {self.limits.memory_mb} MB of memory "
                      f"and was stopped.")

    def account(self, nbytes: int) -> None:
        """Note an allocation the guards are about to allow; check RSS every memory_mb / 8."""
        if self.rss_base is None:
            self.accounted += nbytes
        self.pending += nbytes
        if self.pending > self.memory_bytes >> 3:
            self.pending = 0
            self.check_memory()


class _Local(threading.local):
    state: RunState | None = None


_local = _Local()
_OUTSIDE = "Sandboxed code can only run inside the sandbox."


def current() -> RunState:
    state = _local.state
    if state is None:
        raise SandboxError(_OUTSIDE)
    if state.tripped:
        raise state.abort
    return state


def enter(limits: SandboxLimits, what: str) -> tuple[RunState, RunState | None]:
    previous = _local.state
    state = RunState(limits, what)
    _local.state = state
    return state, previous


def leave(previous: RunState | None) -> None:
    _local.state = previous


def refuse(message: str):
    """Stop the run with ``message`` (uncatchable inside the sandbox)."""
    current().trip(message)


def tick() -> bool:
    """Called by every loop iteration, function call and comprehension step."""
    state = _local.state
    if state is None:
        raise SandboxError(_OUTSIDE)
    if state.tripped:
        raise state.abort
    state.budget -= 1
    if state.budget <= 0:
        state.check()
    return True


# -- size estimates ----------------------------------------------------------------------

_SEQUENCE_TYPES = frozenset({list, tuple, set, frozenset})
_SHORT_TYPES = frozenset({bool, float, type(None), date, datetime, dtime, timedelta})


def text_size(obj, budget: int, reject: tuple = ()) -> int:
    """Roughly how many characters ``str(obj)`` (or a JSON dump) produces; stops counting
    above ``budget`` (a cyclic structure therefore counts as too large).  Raises TypeError
    naming the first object of a ``reject`` type found."""
    total, stack = 0, [obj]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            total += len(item) + 2
        elif kind is int:
            total += item.bit_length() // 3 + 2
        elif kind is dict:
            total += 2 + 4 * len(item)
            extend(item)
            extend(item.values())
        elif kind in _SEQUENCE_TYPES:
            total += 2 + 2 * len(item)
            extend(item)
        elif kind in _SHORT_TYPES:
            total += 32
        elif kind is bytes:
            total += 4 * len(item) + 3
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            extend(item)
            extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            extend(item)
        elif reject and isinstance(item, reject):
            raise TypeError(kind.__name__)
        else:
            total += 80
        if total > budget:
            break
    return total


def check_text(obj) -> None:
    """Refuse to turn ``obj`` into a string longer than ``max_string``."""
    if type(obj) is str:
        return
    state = current()
    limit = state.limits.max_string
    size = text_size(obj, limit)
    if size > limit:
        state.trip(f"The {state.what} tried to turn a value into a text longer than the "
                   f"limit of {limit:,} characters.")
    state.account(size)


def check_length(size: int, kind: str) -> None:
    """Refuse a str/bytes (``kind`` 'text') or list/tuple/range of ``size`` items."""
    state = current()
    if kind == "text":
        limit, noun, unit = state.limits.max_string, "string", "characters"
    else:
        limit, noun, unit = state.limits.max_sequence, kind, "items"
    if size > limit:
        state.trip(f"The {state.what} tried to build a {noun} of {size:,} {unit}; the limit "
                   f"is {limit:,}.")
    state.account(size if kind == "text" else 8 * size)


def check_bits(bits: int) -> None:
    state = current()
    limit = state.limits.max_int_bits
    if bits > limit:
        state.trip(f"The {state.what} tried to compute a number of about {bits:,} bits; the "
                   f"limit is {limit:,} bits.")
