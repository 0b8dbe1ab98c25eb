"""What a step changed, as ``workflows.types`` effects.

``Snapshot.take`` records what matters of a workflow (open stages, waiting timers with their
due times, awaited messages, process data) before and after a step; ``diff`` turns the two
into effects.  The task views (``stage_view``, ``timer_view``, ``message_names``) are shared
with ``ProcessRunner.describe``.

Process data (``Snapshot.data``, ``StepResult.data``): the top-level workflow's data
(data objects; everything once the instance has finished) overlaid with the data of the
top-level workflow's ``last_task``, the task that completed last.  So it is what the main
process sees: fields set inside a call activity show up when the call activity returns,
fields set in one parallel branch when that branch's task completes.  ``DataChanged``
compares the top-level fields of that dict; a field that disappeared is reported as
``(old, None)``.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    LOCALTZ,
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .state import is_timer_wait
from .types import (
    DataChanged,
    Effect,
    InstanceFinished,
    MessageAwaited,
    MessageSent,
    SandboxError,
    StageClosed,
    StageMeta,
    StageOpened,
    TimerArmed,
    TimerDisarmed,
)

__all__ = ["Snapshot", "diff", "stage_view", "timer_view", "message_names", "all_workflows",
           "process_data", "due_at", "element_of", "message_element_of", "error_text", "in_chain",
           "ASSIGNEE_KEY"]

#: where a stage's evaluated ``assignee`` is kept (in the user task's internal data), so it
#: is evaluated once, when the stage opens, like Camunda's assignee expressions
ASSIGNEE_KEY = "stagedesk.assignee"


def all_workflows(workflow) -> list:
    """The top-level workflow and its subworkflows, parents first."""
    return [workflow, *workflow.subprocesses.values()]


def process_data(workflow) -> dict[str, Any]:
    """A deep copy of the process data as the top-level process sees it (module docstring)."""
    source = workflow.last_task if workflow.last_task is not None else workflow.task_tree
    data = dict(workflow.data)
    data.update(source.data)
    return copy.deepcopy(data)


# --- task views ---------------------------------------------------------------------


def _timer_definitions(definition) -> list:
    if isinstance(definition, MultipleEventDefinition):
        return [d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)]
    return [definition] if isinstance(definition, TimerEventDefinition) else []


def message_names(definition) -> tuple[str, ...]:
    """Names of the messages an event definition catches."""
    if isinstance(definition, MultipleEventDefinition):
        return tuple(d.name for d in definition.event_definitions
                     if isinstance(d, MessageEventDefinition))
    if isinstance(definition, MessageEventDefinition):
        return (definition.name,)
    return ()


def _as_utc(value) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = TimerEventDefinition.parse_time_or_duration(value)
        except Exception:  # a malformed value: SpiffWorkflow itself would have failed
            return None
        if not isinstance(moment, datetime):
            return None
    else:
        return None
    if moment.tzinfo is None:  # SpiffWorkflow reads naive times as the server's local time
        moment = moment.replace(tzinfo=LOCALTZ)
    return moment.astimezone(timezone.utc)


def due_at(task: Task) -> datetime | None:
    """When a waiting timer task is due (aware UTC), from SpiffWorkflow's internal data."""
    value = task.internal_data.get("event_value")
    for definition in _timer_definitions(task.task_spec.event_definition):
        if isinstance(definition, CycleTimerEventDefinition):
            if isinstance(value, dict) and value.get("cycles") != 0 and value.get("next"):
                return _as_utc(datetime.fromisoformat(value["next"]))
            return None
        return _as_utc(value)
    return None


def element_of(task: Task) -> tuple[str, str]:
    """(element id, name) of a task; internal tasks get their spec name."""
    spec = task.task_spec
    element_id = getattr(spec, "bpmn_id", None) or spec.name
    return element_id, getattr(spec, "bpmn_name", None) or element_id


def event_element_of(task: Task, wanted) -> tuple[str, str]:
    """(element id, name) of the catch event behind ``task``: an event-based gateway waits
    for the events of the catch events that follow it, so name that catch event."""
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        outputs = task.task_spec.outputs
        for index, sub in enumerate(definition.event_definitions):
            if wanted(sub) and index < len(outputs) and getattr(outputs[index], "bpmn_id", None):
                return outputs[index].bpmn_id, outputs[index].bpmn_name or outputs[index].bpmn_id
    return element_of(task)


def message_element_of(task: Task, name: str) -> str:
    """Element id of the catch event (or boundary event, receive task) awaiting ``name``."""
    return event_element_of(task, lambda d: message_names(d) == (name,))[0]


def _is_timer(definition) -> bool:
    return isinstance(definition, TimerEventDefinition)


def _attached_to(task: Task) -> str | None:
    if not isinstance(task.task_spec, BoundaryEvent):
        return None
    for split in task.task_spec.inputs:
        for output in split.outputs:
            if not isinstance(output, BoundaryEvent) and getattr(output, "bpmn_id", None):
                return output.bpmn_id
    return None


def timer_view(task: Task) -> dict[str, Any]:
    element_id, name = event_element_of(task, _is_timer)
    spec = task.task_spec
    return {
        "task_id": str(task.id),
        "element_id": element_id,
        "name": name,
        "process_id": task.workflow.spec.name,
        "due_at": due_at(task),
        "interrupting": bool(getattr(spec, "cancel_activity", True)),
        "attached_to": _attached_to(task),
    }


def in_chain(exc: BaseException | None, kind: type) -> BaseException | None:
    """``exc`` or the first exception it was raised from (or while handling) of ``kind``."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def error_text(exc: BaseException) -> str:
    """One readable sentence about a failed script or expression, for admins."""
    sandbox = in_chain(exc, SandboxError)
    if sandbox is not None:
        return str(sandbox)
    if not isinstance(exc, SpiffWorkflowException):
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    base = re.sub(r"^(\w+):(?=\S)", r"\1: ", str(exc.args[0]) if exc.args else "").strip()
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not isinstance(cause, SpiffWorkflowException) \
            and type(cause).__name__ not in base:
        base = f"{base.rstrip('.')}: {type(cause).__name__}: {cause}"
    parts = [p.strip() for p in [base, *getattr(exc, "notes", [])] if p and p.strip()]
    return " ".join(p if p[-1] in ".?!" else p + "." for p in parts) or type(exc).__name__


def _evaluate_assignee(task: Task, expression: str, engine) -> tuple[str | None, str | None]:
    try:
        value = engine.evaluate(task, expression)
    except Exception as exc:  # a bad expression must not block the instance
        return None, error_text(exc)
    if value is None or value == "":
        return None, None
    return str(value), None


def stage_view(task: Task, engine, *, cache: bool = True) -> StageOpened:
    """The stage a READY user task stands for; evaluates ``assignee`` once (and caches it)."""
    spec = task.task_spec
    properties = dict((getattr(spec, "extensions", None) or {}).get("properties") or {})
    element_id, name = element_of(task)
    cached = task.internal_data.get(ASSIGNEE_KEY)
    if cached is None:
        expression = (properties.get("assignee") or "").strip()
        assignee, error = _evaluate_assignee(task, expression, engine) if expression else (None, None)
        if cache:
            task.internal_data[ASSIGNEE_KEY] = {"assignee": assignee, "error": error}
    else:
        assignee, error = cached.get("assignee"), cached.get("error")
    return StageOpened(
        task_id=str(task.id),
        element_id=element_id,
        name=name,
        process_id=task.workflow.spec.name,
        lane=getattr(spec, "lane", None),
        stage=StageMeta.from_properties(properties),
        assignee=assignee,
        properties=properties,
        assignee_error=error,
    )


# --- snapshots and their difference -------------------------------------------------


@dataclass
class Snapshot:
    ready: dict[UUID, Task] = field(default_factory=dict)       # READY user/manual tasks
    timers: dict[UUID, tuple[Task, datetime | None]] = field(default_factory=dict)
    messages: dict[UUID, tuple[Task, tuple[str, ...]]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    finished: bool = False

    @classmethod
    def take(cls, workflow) -> "Snapshot":
        snap = cls(data=process_data(workflow), finished=bool(workflow.completed))
        for wf in all_workflows(workflow):
            for task in wf.tasks.values():
                state = task._state
                if state == TaskState.READY and task.task_spec.manual:
                    snap.ready[task.id] = task
                elif state == TaskState.WAITING and isinstance(task.task_spec, CatchingEvent):
                    if is_timer_wait(task):
                        snap.timers[task.id] = (task, due_at(task))
                    names = message_names(task.task_spec.event_definition)
                    if names:
                        snap.messages[task.id] = (task, names)
        return snap


def diff(before: Snapshot, after: Snapshot, events: list, views: dict[UUID, StageOpened],
         workflow, fired_timer: UUID | None = None) -> list[Effect]:
    """Effects, in order: stages closed, timers disarmed, data changed, messages sent,
    stages opened, timers armed, messages awaited, instance finished.

    Timers fire only through ``fire_timer`` (``workflows.state``), so a timer that stopped
    waiting and is not ``fired_timer`` was disarmed, even when its task completed (an
    event-based gateway that got its message instead)."""
    effects: list[Effect] = []
    for task_id, task in before.ready.items():
        if task_id not in after.ready:
            done = task.state == TaskState.COMPLETED
            effects.append(StageClosed(str(task_id), element_of(task)[0], "done" if done else "cancelled"))
    for task_id, (task, _due) in before.timers.items():
        if task_id not in after.timers and task_id != fired_timer:
            effects.append(TimerDisarmed(str(task_id), event_element_of(task, _is_timer)[0]))
    # a field that appears as None (or goes away while None) changes nothing a person can see
    changes = {key: (before.data.get(key), after.data.get(key))
               for key in {**before.data, **after.data}
               if before.data.get(key) != after.data.get(key)}
    if changes:
        effects.append(DataChanged(dict(sorted(changes.items()))))
    for event in events:
        effects.append(MessageSent(event.event_definition.name, event.payload))
    for task_id in after.ready:
        if task_id not in before.ready:
            effects.append(views[task_id])
    for task_id, (task, due) in after.timers.items():
        previous = before.timers.get(task_id)
        if due is not None and (previous is None or previous[1] != due):
            view = timer_view(task)
            effects.append(TimerArmed(view["task_id"], view["element_id"], view["name"], due,
                                      view["interrupting"], view["attached_to"]))
    for task_id, (task, names) in after.messages.items():
        if task_id not in before.messages:
            effects.extend(MessageAwaited(name, str(task_id), message_element_of(task, name))
                           for name in names)
    if after.finished and not before.finished:
        effects.append(InstanceFinished("completed" if workflow.success else "cancelled"))
    return effects
