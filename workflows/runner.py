"""Run process instances: a pure engine that returns effects (DESIGN §3, §4, §11).

Every call takes a ``CompiledProcess`` and the instance's stored state, never changes the
state it was given, and returns a ``StepResult``: the new state to store, the effects the
app applies in its transaction, the open stages and the process data.  On any script or
expression failure it raises ``ScriptFailed`` and the caller simply does not save.

    runner = ProcessRunner(helpers={"sla_due": ...})
    result = runner.start(process, {"subject": "VPN down"})
    result = runner.complete_task(process, result.state, task_id, {"answer": "..."})

Scripts and expressions run in ``workflows.sandbox.SandboxedScriptEngine``, built for each
call (``helpers`` may be bound to the ticket).  Timers fire only through ``fire_timer``
(see ``workflows.state``); after each step the finished history is pruned
(``workflows.pruning``).  What ``data`` and ``DataChanged`` mean: ``workflows.effects_diff``.

Effects, in this order: ``StageClosed`` (done | cancelled), ``TimerDisarmed``,
``DataChanged``, ``MessageSent``, ``StageOpened``, ``TimerArmed``, ``MessageAwaited``,
``InstanceFinished``.  ``start`` reports ``DataChanged`` against the data it was given, so
only fields the diagram's scripts set show up.  A stage's ``assignee`` property is a
sandboxed expression evaluated once, when the stage opens; if it fails the stage opens
unassigned (``assignee=None``, its lane's queue) and ``StageOpened.assignee_error`` says
why, so a typo in a diagram never blocks a ticket.
"""
from __future__ import annotations

import copy
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

from .effects_diff import (
    Snapshot,
    all_workflows,
    diff,
    error_text,
    in_chain,
    message_element_of,
    message_names,
    process_data,
    stage_view,
    timer_view,
)
from .pruning import _find_task, prune
from .state import dump_state, is_timer_wait, load_state, new_workflow
from .types import (
    CompiledProcess,
    Effect,
    NotWaitingForMessage,
    SandboxError,
    ScriptFailed,
    StageOpened,
    StateInvalid,
    TaskNotReady,
)

__all__ = ["ProcessRunner", "StepResult"]

_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_LINE_PREFIX = re.compile(r"\bLine (\d+):")


@dataclass
class StepResult:
    state: dict[str, Any]          # JSON-ready runtime state, without the spec (workflows.state)
    effects: list[Effect]          # in the order of the module docstring
    open_tasks: list[StageOpened]  # every READY user task now, subprocesses included
    finished: bool
    data: dict[str, Any]           # process data after the step (workflows.effects_diff)


def _sandbox_engine_class():
    # imported lazily: the runner's module loads without the sandbox (DESIGN §4: no
    # unsandboxed engine, ever)
    from .sandbox import SandboxedScriptEngine
    return SandboxedScriptEngine


def _script_failed(exc: Exception) -> ScriptFailed:
    task = getattr(exc, "task", None)
    spec = task.task_spec if task is not None else getattr(exc, "task_spec", None)
    element_id = getattr(spec, "bpmn_id", None)
    element_name = getattr(spec, "bpmn_name", None) if element_id else None
    line = getattr(exc, "line_number", None) or None
    message = error_text(exc)
    sandbox = in_chain(exc, SandboxError)
    if sandbox is not None and line is None:
        line = getattr(sandbox, "line", None) or getattr(sandbox, "lineno", None)
        if line is None and (match := _LINE_PREFIX.search(message)):
            line = int(match.group(1))
    return ScriptFailed(message, element_id, element_name, line)


@contextmanager
def _engine_errors():
    """Turn whatever a diagram's scripts, expressions or events break into ``ScriptFailed``."""
    try:
        yield
    except (ScriptFailed, TaskNotReady, NotWaitingForMessage, StateInvalid):
        raise
    except Exception as exc:
        raise _script_failed(exc) from exc


class ProcessRunner:
    """Starts and advances instances; see the module docstring.

    ``helpers``: default sandbox helpers (each call may pass its own, e.g. bound to the
    ticket); ``limits``: the sandbox's limits; ``max_history``: finished tasks kept above
    each live one after pruning (1 = only what the engine needs; ``None`` = never prune).
    """

    def __init__(self, *, helpers: dict | None = None, limits=None, max_history: int | None = 1):
        if max_history is not None and max_history < 1:
            raise ValueError("max_history must be at least 1 (or None: never prune)")
        self.helpers = dict(helpers or {})
        self.limits = limits
        self.max_history = max_history

    # --- plumbing ------------------------------------------------------------------

    def _engine(self, helpers: dict | None):
        return _sandbox_engine_class()(helpers=self.helpers if helpers is None else helpers,
                                       limits=self.limits)

    def _load(self, process: CompiledProcess, state: dict, helpers: dict | None):
        engine = self._engine(helpers)
        return engine, load_state(process, state, engine)

    def _finish(self, process: CompiledProcess, workflow, before: Snapshot, engine,
                fired_timer=None) -> StepResult:
        events = workflow.get_events()
        after = Snapshot.take(workflow)
        with _engine_errors():
            views = {task_id: stage_view(task, engine) for task_id, task in after.ready.items()}
        effects = diff(before, after, events, views, workflow, fired_timer)
        if self.max_history is not None:
            prune(workflow, self.max_history)
        return StepResult(
            state=dump_state(workflow, process.digest),
            effects=effects,
            open_tasks=list(views.values()),
            finished=bool(workflow.completed),
            data=after.data,
        )

    # --- the public steps ----------------------------------------------------------

    def start(self, process: CompiledProcess, data: dict | None = None, *,
              helpers: dict | None = None) -> StepResult:
        """Start an instance with ``data``; runs until it waits (stages, timers, messages).

        Called processes travel inside ``process`` (``CompiledProcess.spec`` holds their
        specs), so no separate argument is needed for them.
        """
        engine = self._engine(helpers)
        initial = copy.deepcopy(dict(data or {}))
        workflow = new_workflow(process, engine)
        before = Snapshot(data={**workflow.data, **initial})
        with _engine_errors():
            workflow.task_tree.data.update(initial)
            workflow.do_engine_steps()
        return self._finish(process, workflow, before, engine)

    def complete_task(self, process: CompiledProcess, state: dict, task_id: str, data: dict,
                      *, helpers: dict | None = None) -> StepResult:
        """Complete the READY user task ``task_id`` with ``data`` (merged into its data)."""
        engine, workflow = self._load(process, state, helpers)
        task = self._task(workflow, task_id)
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReady(self._not_ready(task_id, task, "an open stage"))
        before = Snapshot.take(workflow)
        with _engine_errors():
            task.data.update(copy.deepcopy(dict(data or {})))
            task.run()
            workflow.do_engine_steps()
        return self._finish(process, workflow, before, engine)

    def deliver_message(self, process: CompiledProcess, state: dict, name: str, payload: Any,
                        *, helpers: dict | None = None) -> StepResult:
        """Deliver the BPMN message ``name``; ``NotWaitingForMessage`` if nothing waits for it
        (keep it in the inbox and retry after later steps)."""
        engine, workflow = self._load(process, state, helpers)
        before = Snapshot.take(workflow)
        definition = None
        for task, names in before.messages.values():
            if name in names:
                definition = self._message_definition(task.task_spec.event_definition, name)
                break
        if definition is None:
            raise NotWaitingForMessage(f"the instance does not wait for message {name!r}")
        with _engine_errors():
            payload = copy.deepcopy(payload)
            correlations = {}
            if getattr(definition, "correlation_properties", None):
                correlations = definition.calculate_correlations(
                    engine, definition.correlation_properties, payload)
            try:
                workflow.send_event(BpmnEvent(definition, payload=payload, correlations=correlations))
            except WorkflowException as exc:
                raise NotWaitingForMessage(str(exc)) from exc
            workflow.do_engine_steps()
        return self._finish(process, workflow, before, engine)

    def fire_timer(self, process: CompiledProcess, state: dict, task_id: str, now: datetime,
                   *, helpers: dict | None = None) -> StepResult:
        """Fire the waiting timer event ``task_id`` now, whatever the engine's clock says
        (the app's timer row is the truth).  ``TaskNotReady`` if it no longer waits."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        engine, workflow = self._load(process, state, helpers)
        task = self._task(workflow, task_id)
        if task is None or task.state != TaskState.WAITING or not is_timer_wait(task):
            raise TaskNotReady(self._not_ready(task_id, task, "a waiting timer"))
        before = Snapshot.take(workflow)
        with _engine_errors():
            self._fire(task, now)
            workflow.do_engine_steps()
        return self._finish(process, workflow, before, engine, fired_timer=task.id)

    def cancel(self, process: CompiledProcess, state: dict, *,
               helpers: dict | None = None) -> StepResult:
        """Cancel the instance: open stages close as cancelled, timers disarm.  Cancelling a
        finished instance changes nothing."""
        engine, workflow = self._load(process, state, helpers)
        before = Snapshot.take(workflow)
        if not workflow.completed:
            with _engine_errors():
                workflow.cancel()
        return self._finish(process, workflow, before, engine)

    def describe(self, process: CompiledProcess, state: dict, *,
                 helpers: dict | None = None) -> dict[str, Any]:
        """Where the instance stands, for monitoring (plain data; ``due_at`` are aware UTC
        datetimes): ``status`` (running | completed | cancelled), ``finished``, ``tokens``
        (active tasks with an element id), ``active_element_ids``, ``open_tasks`` (stages as
        dicts), ``timers`` (waiting, with ``due_at``), ``messages`` (awaited)."""
        engine, workflow = self._load(process, state, helpers)
        snap = Snapshot.take(workflow)
        tokens = []
        for wf in all_workflows(workflow):
            for task in wf.tasks.values():
                element_id = getattr(task.task_spec, "bpmn_id", None)
                if task._state & _ACTIVE and element_id:
                    tokens.append({
                        "task_id": str(task.id),
                        "element_id": element_id,
                        "name": task.task_spec.bpmn_name or element_id,
                        "process_id": wf.spec.name,
                        "state": TaskState.get_name(task.state).lower(),
                        "type": type(task.task_spec).__name__,
                    })
        status = "running"
        if workflow.completed:
            status = "completed" if workflow.success else "cancelled"
        with _engine_errors():
            open_tasks = [asdict(stage_view(t, engine, cache=False)) for t in snap.ready.values()]
        return {
            "status": status,
            "finished": bool(workflow.completed),
            "tokens": tokens,
            "active_element_ids": sorted({t["element_id"] for t in tokens}),
            "open_tasks": open_tasks,
            "timers": [timer_view(task) for task, _due in snap.timers.values()],
            "messages": [{"task_id": str(task.id), "element_id": message_element_of(task, name),
                          "name": name,
                          "process_id": task.workflow.spec.name}
                         for task, names in snap.messages.values() for name in names],
            "data": process_data(workflow),
        }

    # --- helpers -------------------------------------------------------------------

    @staticmethod
    def _task(workflow, task_id):
        try:
            uid = task_id if isinstance(task_id, UUID) else UUID(str(task_id))
        except ValueError:
            return None
        return _find_task(workflow, uid)

    @staticmethod
    def _not_ready(task_id, task, what: str) -> str:
        if task is None:
            return f"task {task_id} does not exist (any more)"
        return f"task {task_id} is not {what}: it is {TaskState.get_name(task.state).lower()}"

    @staticmethod
    def _message_definition(definition, name: str):
        if isinstance(definition, MultipleEventDefinition):
            for sub in definition.event_definitions:
                if message_names(sub) == (name,):
                    return sub
            return None
        return definition

    @staticmethod
    def _fire(task, now: datetime) -> None:
        definition = task.task_spec.event_definition
        if isinstance(definition, MultipleEventDefinition):
            definition = next(d for d in definition.event_definitions
                              if isinstance(d, TimerEventDefinition))
        value = task.internal_data.get("event_value")
        if isinstance(definition, CycleTimerEventDefinition) and isinstance(value, dict) \
                and value.get("cycles") != 0:
            ProcessRunner._fire_cycle(task, definition, value, now)
            return
        task.task_spec.catch(task, BpmnEvent(definition))
        task.task_spec._update(task)

    @staticmethod
    def _fire_cycle(task, definition, value: dict, now: datetime) -> None:
        """One occurrence of a repeating timer: start its outgoing path (as SpiffWorkflow's
        ``CycleTimerEventDefinition.update_task`` does, minus a new waiting boundary join per
        occurrence) and move on to the next occurrence after ``now`` (missed occurrences are
        skipped, not replayed); after the last one the timer event completes."""
        step = timedelta(seconds=value["duration"])
        following = datetime.fromisoformat(value["next"]) + step
        while step > timedelta(0) and following <= now:
            following += step
        value = dict(value, next=following.isoformat())
        if value["cycles"] > 0:
            value["cycles"] -= 1
        task._set_internal_data(event_value=value)
        waiting = {c.task_spec for c in task.children if c.state & TaskState.NOT_FINISHED_MASK}
        for output in task.task_spec.outputs:
            if isinstance(output, Join) and output in waiting:
                continue  # one waiting boundary join is enough (SpiffWorkflow adds one per cycle)
            child = task._add_child(output, TaskState.FUTURE)
            child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
            child.task_spec._update(child)
        if value["cycles"] == 0:  # that was the last one: the timer event is over
            task.internal_data.pop("event_value", None)
            task.task_spec.catch(task, BpmnEvent(definition))
            task.task_spec._update(task)
