"""Compile-time half of the sandbox: a RestrictedPython policy and a compile cache.

``check_source`` (re-exported by :mod:`workflows.sandbox`) reports every problem of a script
or expression as ``(line, "Line N: sentence")``.  ``compile_sandboxed`` returns cached code
objects for the runtime half (the guard functions the transformed code calls live in
:mod:`workflows.sandbox_guards`, :mod:`workflows.sandbox_ops` and :mod:`workflows.sandbox_objects`).

Besides RestrictedPython's own rewriting (``a.b`` -> ``_getattr_(a, 'b')`` etc.) the policy:

* inserts ``_tick_()`` at the top of every loop body, function body, lambda and as the first
  filter of every comprehension: the CPU-time and memory checks run there (a ``sys.settrace``
  hook cannot do it: on Python 3.11 ``while True: pass`` emits no ``line`` event);
* routes ``*``, ``**``, ``<<``, ``+`` and ``%`` through size-checking guards and every
  f-string field through ``_format_``;
* makes the sandbox's stop signal impossible to catch: a bare ``except:`` and catching
  ``BaseException`` & co. are refused, the type of every ``except`` clause is evaluated
  through ``_except_(_tick_(), T)`` and every ``finally:`` block starts with ``_tick_()``
  (both re-raise the stop signal once the sandbox tripped);
* refuses imports, classes, ``with``, ``yield``, ``print`` and introspection builtins.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import NamedTuple

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer, copy_locations

#: filename of sandboxed code; SpiffWorkflow looks for it to report script line numbers
FILENAME = "<string>"
#: longest script or expression accepted, in characters
MAX_SOURCE = 100_000

#: names refused wherever they appear: they only exist to introspect or run code
FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "globals", "locals", "vars", "getattr", "setattr", "delattr",
    "breakpoint", "help", "memoryview", "exit", "quit", "super", "print", "printed",
})
#: names refused when called directly (they may legitimately be task-data field names)
FORBIDDEN_CALLS = frozenset({
    "type", "object", "open", "dir", "input", "iter", "next", "hasattr", "bytes", "bytearray",
    "classmethod", "staticmethod", "property", "id", "format", "ascii", "issubclass", "callable",
})
#: attributes refused on every object (besides names starting with '_')
FORBIDDEN_ATTRIBUTES = frozenset(INSPECT_ATTRIBUTES) | {
    "format", "format_map", "mro", "gi_running", "gi_suspended", "cr_running", "cr_suspended",
    "ag_running", "f_lasti", "f_lineno", "f_trace_lines", "f_trace_opcodes", "tb_lasti",
    "tb_lineno", "with_traceback", "translate", "to_bytes",
}
#: exception classes that would catch the sandbox's own stop signal
_UNCATCHABLE = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"})
_BINOP_GUARDS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_",
                 ast.Add: "_add_", ast.Mod: "_mod_"}
_HINTS = {
    "eval": "write the expression directly", "exec": "write the statements directly",
    "getattr": "use 'obj.name' (or obj['key'] for dicts)", "print": "assign the value to a variable instead",
    "type": "use isinstance(value, str) and the like", "open": "files cannot be read from diagrams",
    "format": "use an f-string instead",
}


def _hint(name: str) -> str:
    return f"; {_HINTS[name]}" if name in _HINTS else ""


def _call(name: str, *args: ast.expr, like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])
    copy_locations(node, like)
    copy_locations(node.func, like)
    return node


def _tick_stmt(like: ast.AST) -> ast.Expr:
    stmt = ast.Expr(_call("_tick_", like=like))
    copy_locations(stmt, like)
    return stmt


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer plus the checks and rewrites described above."""

    # -- names --------------------------------------------------------------------------
    def check_name(self, node, name, allow_magic_methods=False):  # noqa: D102 - RP hook
        if name is None:
            return
        if name.startswith("_") and name != "_":
            self.error(node, f"names starting with '_' are not allowed ('{name}'); rename it.")
        elif name in FORBIDDEN_NAMES:
            self.error(node, f"'{name}' is not available in diagram scripts{_hint(name)}.")

    def visit_Name(self, node):
        if node.id in ("print", "printed"):  # skip RestrictedPython's print rewriting
            self.check_name(node, node.id)
            return node
        return super().visit_Name(node)

    def visit_Attribute(self, node):
        attr = node.attr
        if attr.startswith("_") and attr != "_":
            node = self.node_contents_visit(node)
            self.error(node, f"attributes starting with '_' are not allowed ('{attr}').")
        elif attr in FORBIDDEN_ATTRIBUTES or attr.endswith("__roles__"):
            node = self.node_contents_visit(node)
            hint = ("; use an f-string instead" if attr in ("format", "format_map") else "")
            self.error(node, f"Access to attribute '{attr}' is not allowed{hint}.")
        else:
            return super().visit_Attribute(node)
        return node

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            self.error(node, f"'{node.func.id}()' is not available in diagram scripts"
                             f"{_hint(node.func.id)}.")
        needs_wrap = any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords)
        node = self.node_contents_visit(node)
        if needs_wrap:  # f(*a, **k) -> _apply_(f, *a, **k), as RestrictedPython does
            node.args.insert(0, node.func)
            node.func = ast.Name("_apply_", ast.Load())
            copy_locations(node.func, node.args[0])
        return node

    # -- statements that have no place in a diagram --------------------------------------
    def visit_Import(self, node):
        self.error(node, "import statements are not allowed; the helpers (now, today, timedelta, "
                         "datetime, ...) are available without importing anything.")

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node):
        self.error(node, "class definitions are not allowed in diagram scripts; use dicts and "
                         "functions instead.")

    def visit_With(self, node):
        self.error(node, "'with' statements are not allowed in diagram scripts.")

    def visit_Yield(self, node):
        self.error(node, "generator functions ('yield') are not allowed; build and return a list.")

    visit_YieldFrom = visit_Yield

    def visit_AnnAssign(self, node):
        self.error(node, "type annotations are not allowed; write 'x = value' without ': type'.")

    def visit_Match(self, node):
        self.error(node, "match statements are not allowed; use if/elif instead.")

    def visit_AugAssign(self, node):
        if isinstance(node.target, (ast.Attribute, ast.Subscript)):
            self.error(node, "augmented assignment to an item or attribute (like d['k'] += 1) is "
                             "not allowed; write d['k'] = d['k'] + 1.")
            return node
        return super().visit_AugAssign(node)

    # -- exception handling: the stop signal must stay uncatchable -------------------------
    def visit_ExceptHandler(self, node):
        if node.type is None:
            self.error(node, "a bare 'except:' is not allowed; write 'except Exception:'.")
        else:
            for name in ast.walk(node.type):
                if isinstance(name, ast.Name) and name.id in _UNCATCHABLE:
                    self.error(node, f"catching '{name.id}' is not allowed; catch Exception.")
        node = super().visit_ExceptHandler(node)
        if node.type is not None:
            node.type = _call("_except_", _call("_tick_", like=node.type), node.type, like=node.type)
        return node

    def visit_Try(self, node):
        node = self.node_contents_visit(node)
        if node.finalbody:
            node.finalbody.insert(0, _tick_stmt(node.finalbody[0] if node.finalbody else node))
        return node

    # -- CPU ticks ------------------------------------------------------------------------
    def visit_While(self, node):
        node = self.node_contents_visit(node)
        node.body.insert(0, _tick_stmt(node.body[0] if node.body else node))
        return node

    def visit_For(self, node):
        node = super().visit_For(node)
        node.body.insert(0, _tick_stmt(node.body[0] if node.body else node))
        return node

    def visit_comprehension(self, node):
        node = super().visit_comprehension(node)
        node.ifs.insert(0, _call("_tick_", like=node.iter))
        return node

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_stmt(node.body[0] if node.body else node))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        body = ast.BoolOp(op=ast.And(), values=[_call("_tick_", like=node.body), node.body])
        copy_locations(body, node.body)
        node.body = body
        return node

    # -- operations that can allocate a lot in one C call ---------------------------------
    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        return _call(guard, node.left, node.right, like=node)

    def visit_FormattedValue(self, node):
        node = self.node_contents_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant(None)
        conversion = ast.Constant(node.conversion)
        copy_locations(spec, node)
        copy_locations(conversion, node)
        node.value = _call("_format_", node.value, conversion, spec, like=node)
        node.conversion, node.format_spec = -1, None
        return node


class Compiled(NamedTuple):
    code: object | None  # a code object, or None when there are problems
    problems: tuple[tuple[int | None, str], ...]


_LINE = re.compile(r"^Line (\d+|None): (.*)$", re.S)


def _problem(text: str, offset: int) -> tuple[int | None, str]:
    match = _LINE.match(text)
    if not match:
        return None, text
    line = None if match.group(1) == "None" else int(match.group(1)) + offset
    message = match.group(2).strip()
    message = message[:1].upper() + message[1:]
    return line, (f"Line {line}: {message}" if line is not None else message)


@lru_cache(maxsize=4096)
def compile_sandboxed(source: str, mode: str = "exec") -> Compiled:
    """Compile ``source`` with the sandbox policy; cached by ``(source, mode)``."""
    if mode not in ("exec", "eval"):
        raise ValueError(f"mode must be 'exec' or 'eval', not {mode!r}")
    if not isinstance(source, str):
        return Compiled(None, ((None, "The script is not text."),))
    if len(source) > MAX_SOURCE:
        return Compiled(None, ((None, f"The script is too long ({len(source):,} characters; the "
                                      f"limit is {MAX_SOURCE:,})."),))
    offset = 0
    if mode == "eval":  # expressions come from XML attributes and often carry whitespace
        stripped = source.lstrip()
        offset = source[:len(source) - len(stripped)].count("\n")
        source = stripped.rstrip()
        if not source:
            return Compiled(None, ((None, "The expression is empty."),))
    try:
        tree = ast.parse(source, FILENAME, mode)
    except SyntaxError as err:
        line = err.lineno + offset if err.lineno else None
        where = f"Line {line}: " if line else ""
        shown = (err.text or "").strip()
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        text = f" ({shown!r})" if shown else ""
        return Compiled(None, ((line, f"{where}Syntax error: {err.msg}{text}."),))
    except (ValueError, RecursionError, MemoryError) as err:
        return Compiled(None, ((None, f"The script cannot be parsed: {err}."),))
    try:
        compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
        result = compiler(tree, FILENAME, policy=SandboxPolicy)
    except SyntaxError as err:  # e.g. 'return' outside function, found by compile()
        line = err.lineno + offset if err.lineno else None
        where = f"Line {line}: " if line else ""
        return Compiled(None, ((line, f"{where}Syntax error: {err.msg}."),))
    except (RecursionError, MemoryError):
        return Compiled(None, ((None, "The script is nested too deeply to be compiled."),))
    problems = tuple(_problem(e, offset) for e in result.errors)
    if problems or result.code is None:
        return Compiled(None, problems or ((None, "The script cannot be compiled."),))
    return Compiled(result.code, ())


def check_source(source: str, mode: str = "exec") -> list[tuple[int | None, str]]:
    """Every problem of ``source`` as ``(line, "Line N: sentence")``; empty when it is fine.

    ``mode`` is ``"exec"`` for script tasks and ``"eval"`` for expressions (gateway
    conditions, timer expressions, multi-instance conditions, assignee properties).
    """
    return list(compile_sandboxed(source, mode).problems)
