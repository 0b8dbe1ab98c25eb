"""Build process specs with SpiffWorkflow and turn its complaints into ``Problem``s.

``check_process`` parses one process (and its embedded sub-processes and in-bundle call
targets) and converts any SpiffWorkflow exception into a ``Problem`` naming the element, its
line and the process — never a traceback or an exception repr.  ``compile_process`` then
serializes a clean process with everything it calls into a ``CompiledProcess``.
"""
from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity as CallActivityMixin
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask as SubWorkflowMixin
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin

from .lint_messages import make_problem
from .parser import StagedeskParser
from .serialization import spec_digest, specs_to_dict
from .types import CompiledProcess, Problem, StageMeta

_ELEMENT_REPR = re.compile(r"<Element [^>]*>")
_EXCEPTION_REPR = re.compile(r"^\s*[A-Za-z_][\w.]*(Error|Exception|Warning)\(.*\)\s*$", re.S)
MAX_DETAIL = 300


def engine_detail(exc: Exception) -> str:
    """SpiffWorkflow's message, without element reprs, exception reprs or trailing noise."""
    if not isinstance(exc, ValidationException):
        return f"it holds a setting the engine cannot read ({type(exc).__name__})"
    text = str(exc.args[0]) if exc.args else str(exc)
    if _EXCEPTION_REPR.match(text):
        inner = text.strip()
        return f"it holds a setting the engine cannot read ({inner.split('(', 1)[0]})"
    text = _ELEMENT_REPR.sub("an element", text)
    text = " ".join(text.split()).rstrip(" .")
    if len(text) > MAX_DETAIL:
        text = text[:MAX_DETAIL - 3].rstrip() + "..."
    return text or "the element is not valid"


def engine_problem(exc: Exception, filename: str, ids: dict, process) -> Problem:
    """A ``Problem`` for an exception SpiffWorkflow raised while parsing ``process``."""
    if isinstance(exc, ValidationException):
        element = ids.get(getattr(exc, "id", "") or "")
        file = getattr(exc, "file_name", "") or filename
        if element is not None:
            return make_problem("element.engine_rejected", file, element, detail=engine_detail(exc))
        return make_problem("element.engine_rejected", file, process, detail=engine_detail(exc))
    return make_problem("process.engine_error", filename, process,
                        process=process.get("name") or process.get("id") or "",
                        error=type(exc).__name__)


@contextmanager
def _quiet() -> Iterator[None]:
    """SpiffWorkflow warns (DeprecationWarning) about old spiff-arena message payloads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _collect(parser: StagedeskParser, spec, resolve_process: Callable | None,
             skip: frozenset[str] = frozenset()):
    """Specs ``spec`` reaches: (in-bundle and embedded specs, resolved externals, call targets).

    With ``resolve_process=None`` names neither in the bundle nor embedded are skipped, and so
    are the processes in ``skip`` (the linter found problems in them already).
    """
    local: dict[str, object] = {}
    external: dict[str, CompiledProcess] = {}
    calls: set[str] = set()
    queue = [spec]
    while queue:
        current = queue.pop(0)
        for task_spec in current.task_specs.values():
            if not isinstance(task_spec, SubWorkflowMixin):
                continue
            name = task_spec.spec
            if isinstance(task_spec, CallActivityMixin):
                calls.add(name)
            if name in local or name in external or name in skip:
                continue
            process_parser = parser.get_process_parser(name)
            if process_parser is not None and process_parser.process_executable:
                local[name] = process_parser.get_spec()
                queue.append(local[name])
            elif resolve_process is not None:
                resolved = resolve_process(name)
                if resolved is None:
                    raise LookupError(name)  # the linter reports unresolvable calls first
                external[name] = resolved
                calls.update(resolved.calls)
    return local, external, calls


def check_process(parser: StagedeskParser, process_id: str, filename: str, ids: dict,
                  process, skip: frozenset[str] = frozenset()) -> list[Problem]:
    """Let SpiffWorkflow parse one (lint-clean) process; its complaint as a problem.

    Called processes in ``skip`` are not parsed: they have problems already, and SpiffWorkflow
    may even loop forever on some of them.
    """
    try:
        with _quiet():
            _collect(parser, parser.get_spec(process_id), None, skip)
    except Exception as exc:  # noqa: BLE001 - every engine failure becomes a Problem
        return [engine_problem(exc, filename, ids, process)]
    return []


def _stages(process_id: str, spec) -> list[dict]:
    stages, seen = [], set()
    for task_spec in spec.task_specs.values():
        if not isinstance(task_spec, UserTaskMixin) or task_spec.bpmn_id in seen:
            continue
        seen.add(task_spec.bpmn_id)
        props = dict((getattr(task_spec, "extensions", None) or {}).get("properties") or {})
        stages.append({
            "process_id": process_id,
            "element_id": task_spec.bpmn_id,
            "name": task_spec.bpmn_name or task_spec.bpmn_id,
            "lane": task_spec.lane,
            "stage": asdict(StageMeta.from_properties(props)),
            "assignee": props.get("assignee"),
        })
    return stages


def compile_process(parser: StagedeskParser, process_id: str, filename: str,
                    resolve_process: Callable[[str], CompiledProcess | None]) -> CompiledProcess:
    """A ``CompiledProcess`` for a process ``check_process`` found clean."""
    with _quiet():
        spec = parser.get_spec(process_id)
        local, external, calls = _collect(parser, spec, resolve_process)
    spec_dict = specs_to_dict(spec, local)
    subprocess_specs = spec_dict["subprocess_specs"]
    stages = _stages(process_id, spec)
    for name, sub in local.items():
        stages += _stages(name, sub)
    for name, resolved in sorted(external.items()):
        resolved_spec = copy.deepcopy(resolved.spec)
        subprocess_specs.setdefault(name, resolved_spec["spec"])
        for sub_name, sub_spec in resolved_spec.get("subprocess_specs", {}).items():
            subprocess_specs.setdefault(sub_name, sub_spec)
        stages += [dict(s) for s in resolved.stages]
    spec_dict["subprocess_specs"] = dict(sorted(subprocess_specs.items()))
    unique, seen = [], set()
    for stage in stages:
        key = (stage.get("process_id"), stage.get("element_id"))
        if key not in seen:
            seen.add(key)
            unique.append(stage)
    return CompiledProcess(
        process_id=process_id,
        name=spec.description or process_id,
        spec=spec_dict,
        digest=spec_digest(spec_dict),
        source_file=filename,
        calls=tuple(sorted(calls)),
        stages=tuple(unique),
    )
