"""The sandboxed script engine every workflow runs with (DESIGN §4).

SpiffWorkflow's default engine runs diagram code with plain ``eval``/``exec``.  This one
compiles it with RestrictedPython and our policy (:mod:`workflows.sandbox_policy`), runs it
against guard functions (:mod:`workflows.sandbox_guards`, :mod:`workflows.sandbox_objects`)
and an allow-list of helpers (:mod:`workflows.helpers`), under CPU-time and memory limits.

Semantics follow SpiffWorkflow's ``TaskDataEnvironment``: an expression sees the task data
(and the workflow's data objects) as names; a script may read, change, add and delete names,
which end up in the task data — except functions, generators and the helpers themselves.
Unlike the default engine a failed script leaves the task data's top-level names unchanged.

Public API::

    from workflows.sandbox import SandboxLimits, SandboxedScriptEngine, check_source
"""
from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .helpers import DEFAULT_HELPERS
from .sandbox_guards import SandboxAbort, SandboxLimits, enter, leave, text_size
from .sandbox_objects import GUARDS
from .sandbox_policy import check_source, compile_sandboxed
from .types import SandboxError

__all__ = ["SandboxLimits", "SandboxedScriptEngine", "SandboxEnvironment", "check_source",
           "SandboxError"]

_GUARD_NAMES = frozenset(GUARDS) | {"__builtins__"}
_NOT_DATA = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.GeneratorType,
             types.ModuleType, type, map, filter, zip, enumerate, reversed)
_MAX_MESSAGE = 500
_SCALARS = frozenset({str, int, float, bool, type(None)})
_MISSING = object()


def build_builtins(helpers: dict[str, Callable] | None = None) -> dict[str, Any]:
    """DEFAULT_HELPERS, then ``helpers``, then the guards (which nothing may replace)."""
    extra = dict(helpers or {})
    for name in extra:
        if not (isinstance(name, str) and name.isidentifier()) or name.startswith("_"):
            raise ValueError(f"helper name {name!r} must be an identifier not starting with '_'")
    return {**DEFAULT_HELPERS, **extra, **GUARDS}


def _problems_error(problems, what: str) -> SandboxError:
    text = " ".join(message for _, message in problems)
    err = SandboxError(f"The {what} was refused: {text}")
    err.line = next((line for line, _ in problems if line is not None), None)
    return err


def _short(value) -> str:
    if isinstance(value, str) and len(value) <= _MAX_MESSAGE:
        return value
    if text_size(value, _MAX_MESSAGE * 4) > _MAX_MESSAGE * 4:
        return f"<a {type(value).__name__} too large to show>"
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """``evaluate``/``execute`` of SpiffWorkflow's environment API, sandboxed."""

    def __init__(self, builtins: dict[str, Any], limits: SandboxLimits):
        super().__init__({})
        self.builtins = builtins
        self.limits = limits

    def _globals(self, context: dict, external_context: dict | None) -> dict:
        scope = {**external_context, **context} if external_context else dict(context)
        if not _GUARD_NAMES.isdisjoint(scope):  # task data must not shadow a guard
            for name in _GUARD_NAMES.intersection(scope):
                del scope[name]
        scope["__builtins__"] = self.builtins
        return scope

    def _run(self, code, scope: dict, what: str, mode: str):
        state, previous = enter(self.limits, what)
        try:
            return eval(code, scope) if mode == "eval" else exec(code, scope)  # noqa: S307
        except SandboxAbort as abort:
            error = SandboxError(state.tripped or f"The {what} was stopped.")
            raise error.with_traceback(abort.__traceback__) from None
        except MemoryError:
            raise SandboxError(f"The {what} ran out of memory and was stopped.") from None
        except Exception as err:  # the code's own error: keep it, but make its message safe
            if err.args and not (len(err.args) == 1 and isinstance(err.args[0], str)
                                 and len(err.args[0]) <= _MAX_MESSAGE):
                err.args = tuple(_short(arg) for arg in err.args)
            raise
        finally:
            leave(previous)

    def evaluate(self, expression, context, external_context=None):
        compiled = compile_sandboxed(expression, "eval")
        if compiled.code is None:
            raise _problems_error(compiled.problems, "expression")
        return self._run(compiled.code, self._globals(context, external_context), "expression",
                         "eval")

    def execute(self, script, context, external_context=None):
        compiled = compile_sandboxed(script, "exec")
        if compiled.code is None:
            raise _problems_error(compiled.problems, "script")
        scope = self._globals(context, external_context)
        self._run(compiled.code, scope, "script", "exec")
        del scope["__builtins__"]
        skip = external_context or {}
        changed, fresh = {}, {}
        for name, value in scope.items():
            if name in skip:
                continue  # like SpiffWorkflow: data objects stay out of task data ...
            if type(value) in _SCALARS:
                changed[name] = value
                if context.get(name, _MISSING) is not value:
                    fresh[name] = value
            elif not (callable(value) or isinstance(value, _NOT_DATA)):  # ... and functions
                changed[name] = fresh[name] = value
        self._check_data(fresh)
        for name in [n for n in context if n not in scope and n not in skip]:
            del context[name]
        context.update(changed)
        return True

    def _check_data(self, data: dict) -> None:
        """Task data must stay plain: no functions inside, and no expanded size (what a
        serializer writes) above the memory limit."""
        limit = self.limits.memory_mb * 1024 * 1024
        try:
            size = text_size(data, limit, reject=_NOT_DATA)
        except TypeError as err:
            raise SandboxError(f"The script stored a {err} in the task data; task data may "
                               f"only hold plain values.") from None
        if size > limit:
            raise SandboxError(f"The script left more than {self.limits.memory_mb} MB of data "
                               f"in the task; store less.")

    def call_service(self, context, **kwargs):
        raise SandboxError("Service tasks are not supported by Stagedesk's script engine.")


class SandboxedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine, sandboxed; pass it to every ``BpmnWorkflow``.

    ``helpers``: extra callables (or values) scripts may use, e.g. ``{"sla_due": ...}``;
    they are merged over ``workflows.helpers.DEFAULT_HELPERS``.
    """

    def __init__(self, helpers: dict[str, Callable] | None = None,
                 limits: SandboxLimits | None = None):
        self.limits = limits or SandboxLimits()
        self.helpers = dict(helpers or {})
        super().__init__(environment=SandboxEnvironment(build_builtins(self.helpers), self.limits))

    def validate(self, expression):
        problems = check_source(expression, "eval")
        if problems:
            raise SyntaxError(problems[0][1])
