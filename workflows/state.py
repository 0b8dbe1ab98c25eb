"""The runtime state of an instance: what the app stores, without the spec.

An instance's state is the dict SpiffWorkflow's serializer makes of a workflow, minus the
``spec`` and ``subprocess_specs`` (stored once per digest, see ``workflows.serialization``),
plus ``format`` (our layout version, ``STATE_FORMAT``), ``digest`` (of the process it runs)
and ``serializer_version`` (SpiffWorkflow's).  It is JSON-ready: ``json.dumps`` works on it
as is, and it round-trips through ``json.loads``.

It is written and read through our own converter registry, built from the same
configuration as ``workflows.serialization.SERIALIZER`` with three converters replaced:

* the workflow converter leaves the specs out on the way out and takes the (cached,
  already deserialized) specs and the script engine as arguments on the way in, so a step
  never converts a spec;
* the task converter makes task data JSON-ready (SpiffWorkflow's stores task data deltas
  unconverted, so a ``datetime`` in the data would break ``json.dumps``);
* workflows are ``StagedeskWorkflow``/``StagedeskSubWorkflow`` (see below).

The stored typenames stay SpiffWorkflow's, so ``state`` plus the spec dicts is a complete
SpiffWorkflow serialization (handy for debugging and for benchmarks against bare
SpiffWorkflow).

**Timers are fired by the app, never by the engine's clock.**  The database's timer row is
the source of truth (DESIGN §6): ``StagedeskWorkflow`` does not re-check waiting timers
against the wall clock (``refresh_timers`` and the timer part of ``update_waiting_tasks``
are switched off), so a timer fires only through ``ProcessRunner.fire_timer``.  The one
exception is SpiffWorkflow's own check when a timer is *reached*: a timer whose due time has
already passed then fires at once, within the step that reached it.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState

from . import serialization
from .serialization import SPEC_CACHE, STATE_FORMAT
from .types import CompiledProcess, StateInvalid

__all__ = [
    "STATE_FORMAT", "SERIALIZER_VERSION", "StagedeskWorkflow", "StagedeskSubWorkflow",
    "RUNTIME_REGISTRY", "dump_state", "load_state", "new_workflow", "is_timer_wait",
]


def is_timer_wait(task: Task) -> bool:
    """Whether ``task`` is a catching event (or event-based gateway) that waits for a timer."""
    spec = task.task_spec
    if not isinstance(spec, CatchingEvent):
        return False
    definition = spec.event_definition
    if isinstance(definition, TimerEventDefinition):
        return True
    return isinstance(definition, MultipleEventDefinition) and any(
        isinstance(d, TimerEventDefinition) for d in definition.event_definitions)


class _AppClockMixin:
    """Waiting timers are not re-checked against the wall clock (see the module docstring)."""

    def update_waiting_tasks(self) -> None:
        for task in TaskIterator(self.task_tree, state=TaskState.WAITING):
            if not is_timer_wait(task):
                task.task_spec._update(task)


class StagedeskSubWorkflow(_AppClockMixin, BpmnSubWorkflow):
    """A called process (or embedded subprocess) of a ``StagedeskWorkflow``."""


class StagedeskWorkflow(_AppClockMixin, BpmnWorkflow):
    """``BpmnWorkflow`` whose timers fire only when the app says so."""

    def refresh_timers(self) -> None:
        """Switched off: timers fire through ``ProcessRunner.fire_timer``."""

    def create_subprocess(self, my_task, spec_name):
        subprocess = StagedeskSubWorkflow(
            self.subprocess_specs[spec_name], parent_task_id=my_task.id, top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess


# --- converters --------------------------------------------------------------------


class _RuntimeTaskConverter(TaskConverter):
    """SpiffWorkflow's task converter with JSON-ready data (deltas included)."""

    def __init__(self, target_class, registry, typename="Task"):
        super().__init__(target_class, registry, typename)

    def to_dict(self, task):
        dct = super().to_dict(task)
        if task.parent is None:
            dct["data"] = self.registry.convert(task.data)
        else:
            dct["delta"]["updates"] = self.registry.convert(dct["delta"]["updates"])
        return dct


class _RuntimeSubWorkflowConverter(BpmnSubWorkflowConverter):
    def __init__(self, target_class, registry, typename="BpmnSubWorkflow"):
        super().__init__(target_class, registry, typename)


class _RuntimeWorkflowConverter(BpmnWorkflowConverter):
    """Top-level workflows without their specs (and restored with given specs)."""

    def __init__(self, target_class, registry, typename="BpmnWorkflow"):
        super().__init__(target_class, registry, typename)

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None, script_engine=None):
        if spec is None:
            raise StateInvalid("restoring a state needs its process spec")
        workflow = self.target_class(spec, subprocess_specs, script_engine=script_engine,
                                     deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        # subprocesses_from_dict pops what it restores: never touch the caller's dict
        self.subprocesses_from_dict(dict(dct["subprocesses"]), workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _build_registry():
    # Follow the spec serializer's configuration when it exposes one, so custom spec
    # classes (event definitions inside runtime data) are known here too.
    config = dict(getattr(serialization, "SERIALIZER_CONFIG", SPIFF_CONFIG))
    config.pop(BpmnWorkflow, None)
    config.pop(BpmnSubWorkflow, None)
    config[StagedeskWorkflow] = _RuntimeWorkflowConverter
    config[StagedeskSubWorkflow] = _RuntimeSubWorkflowConverter
    config[Task] = _RuntimeTaskConverter
    return BpmnWorkflowSerializer.configure(config)


RUNTIME_REGISTRY = _build_registry()

_OWN_KEYS = ("format", "digest", "serializer_version")


def dump_state(workflow: StagedeskWorkflow, digest: str) -> dict[str, Any]:
    """The JSON-ready runtime state of ``workflow`` (no spec), tagged with ``digest``."""
    state = RUNTIME_REGISTRY.convert(workflow)
    state["format"] = STATE_FORMAT
    state["digest"] = digest
    state["serializer_version"] = SERIALIZER_VERSION
    return state


def check_state(process: CompiledProcess, state: dict[str, Any]) -> None:
    """Raise ``StateInvalid`` unless ``state`` is ours, current, and of ``process``."""
    if not isinstance(state, dict) or state.get("typename") != "BpmnWorkflow":
        raise StateInvalid("not an instance state")
    if state.get("format") != STATE_FORMAT:
        raise StateInvalid(f"state format {state.get('format')!r} is not {STATE_FORMAT}; "
                           "migrate it first")
    if state.get("serializer_version") != SERIALIZER_VERSION:
        raise StateInvalid(f"state written by SpiffWorkflow serializer "
                           f"{state.get('serializer_version')!r}, this one is {SERIALIZER_VERSION}")
    if state.get("digest") != process.digest:
        raise StateInvalid(f"state belongs to process version {str(state.get('digest'))[:12]}…, "
                           f"not to {process.process_id} {process.digest[:12]}…")


def _specs(process: CompiledProcess):
    return SPEC_CACHE.get(process.digest, process.spec)


def _parents_first(tasks: dict[str, Any]) -> dict[str, Any]:
    """The task map with every parent before its children.

    SpiffWorkflow stores task data as deltas against the parent, so restoring needs this
    order; a store may not keep key order (PostgreSQL's JSONB sorts keys)."""
    ordered: dict[str, Any] = {}
    children: dict[Any, list[str]] = {}
    for task_id, task in tasks.items():
        children.setdefault(task.get("parent"), []).append(task_id)
    stack = list(reversed(children.get(None, [])))
    while stack:
        task_id = stack.pop()
        ordered[task_id] = tasks[task_id]
        stack.extend(reversed(children.get(task_id, [])))
    for task_id, task in tasks.items():  # orphans (a damaged state): keep, let restore complain
        ordered.setdefault(task_id, task)
    return ordered


def load_state(process: CompiledProcess, state: dict[str, Any], script_engine) -> StagedeskWorkflow:
    """Rebuild a workflow from ``state`` (never modified) with ``script_engine`` attached."""
    check_state(process, state)
    spec, subprocess_specs = _specs(process)
    dct = {k: v for k, v in state.items() if k not in _OWN_KEYS}
    if isinstance(dct.get("tasks"), dict):
        dct["tasks"] = _parents_first(dct["tasks"])
    if isinstance(dct.get("subprocesses"), dict):
        dct["subprocesses"] = {
            key: {**sub, "tasks": _parents_first(sub["tasks"])} if isinstance(sub, dict)
            and isinstance(sub.get("tasks"), dict) else sub
            for key, sub in dct["subprocesses"].items()}
    try:
        workflow = RUNTIME_REGISTRY.restore(dct, spec=spec, subprocess_specs=subprocess_specs,
                                            script_engine=script_engine)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateInvalid(f"the stored state is damaged ({type(exc).__name__}: {exc})") from exc
    if workflow.task_tree is None:
        raise StateInvalid("the stored state is damaged (no root task)")
    workflow.script_engine = script_engine
    return workflow


def new_workflow(process: CompiledProcess, script_engine) -> StagedeskWorkflow:
    """A fresh, not yet started workflow of ``process``."""
    spec, subprocess_specs = _specs(process)
    return StagedeskWorkflow(spec, subprocess_specs, script_engine=script_engine)
