"""Applying one engine step to the database (DESIGN §3, step 3).

``run_step`` calls the runner, then writes in the caller's transaction: the new state, the
work items (queues), timer rows, audit events, outbox rows and the ticket's projection.
Jobs to wake are registered with ``on_commit``; nothing here commits.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from flask import current_app
from sqlalchemy import inspect, select

from workflows.runner import ProcessRunner, StepResult
from workflows.sandbox import SandboxLimits
from workflows.types import (DataChanged, InstanceFinished, MessageAwaited, MessageSent, NotWaitingForMessage,
                             ScriptFailed, StageClosed, StageOpened, TimerArmed, TimerDisarmed)

from ..errors import WorkflowFailed
from ..extensions import db
from ..i18n import _l
from ..models import Group, InboxMessage, Instance, Ticket, Timer, User, WorkItem
from ..models.base import utcnow
from . import audit, notify
from .definitions import compiled
from .uow import on_commit

log = logging.getLogger(__name__)

#: ticket columns kept in step with the process data of the same name (a stage such as
#: registration may set them); ``requester`` is a login, ``description`` rich text
SYNCED_FIELDS = ("subject", "description", "priority", "category", "service", "channel", "requester",
                 "rating", "rating_comment")
MAX_INBOX_ROUNDS = 20


def runner() -> ProcessRunner:
    ext = current_app.extensions
    if "stagedesk_runner" not in ext:
        limits = SandboxLimits(cpu_seconds=current_app.config["SCRIPT_CPU_SECONDS"],
                               memory_mb=current_app.config["SCRIPT_MEMORY_MB"])
        ext["stagedesk_runner"] = ProcessRunner(limits=limits)
    return ext["stagedesk_runner"]


def run_step(ticket: Ticket, instance: Instance, actor: User | None,
             call: Callable[[ProcessRunner, Any, dict], StepResult], *, cause: str,
             completed_task: str | None = None) -> StepResult:
    """Run ``call(runner, process, state)`` and apply its effects; ScriptFailed → 422."""
    process = compiled(instance.definition)
    try:
        result = call(runner(), process, instance.state)
    except ScriptFailed as err:
        raise WorkflowFailed(
            _l("The process stopped at %(element)s: %(error)s", element=err.element_name or err.element_id or "?",
               error=str(err)),
            errors=[{"file": instance.definition.source_file, "element_id": err.element_id,
                     "element_name": err.element_name, "line": err.line, "message": str(err)}]) from None
    apply_result(ticket, instance, result, actor, cause=cause, completed_task=completed_task)
    if any(isinstance(e, MessageAwaited) for e in result.effects):
        deliver_pending(ticket, instance, actor)  # a message kept in the inbox may be awaited now
    return result


def apply_result(ticket: Ticket, instance: Instance, result: StepResult, actor: User | None, *,
                 cause: str, completed_task: str | None = None) -> None:
    """Write one step's effects; reads what it needs from the effects, flushes once."""
    with db.session.no_autoflush:
        _apply(ticket, instance, result, actor, cause, completed_task)
    db.session.flush()


def _apply(ticket: Ticket, instance: Instance, result: StepResult, actor: User | None, cause: str,
           completed_task: str | None) -> None:
    instance.state = result.state
    instance.data = result.data
    old_status = ticket.status
    changes: dict[str, tuple[Any, Any]] = {}
    opened: list[WorkItem] = []
    closed: set[str] = set()
    for effect in result.effects:
        if isinstance(effect, StageOpened):
            opened.append(_open_stage(ticket, instance, effect, actor))
        elif isinstance(effect, StageClosed):
            closed.add(effect.task_id)
            _close_stage(ticket, instance, effect, actor, completed_task)
        elif isinstance(effect, TimerArmed):
            _arm_timer(instance, effect)
        elif isinstance(effect, TimerDisarmed):
            _disarm_timer(instance, effect)
        elif isinstance(effect, MessageSent):
            notify.process_message(ticket, effect.name, effect.payload)
        elif isinstance(effect, DataChanged):
            changes.update(effect.changes)
        elif isinstance(effect, InstanceFinished):
            instance.status = effect.status
            ticket.closed = True
            ticket.closed_at = utcnow()
            audit.record(ticket, "instance.finished", actor, data={"status": effect.status})
    field_diff = _sync_ticket_fields(ticket, changes)
    if field_diff:
        audit.record(ticket, "fields.changed", actor, data={"changes": field_diff, "cause": cause})
    ticket.status = _current_status(ticket, instance, opened, closed)
    if ticket.status != old_status:
        audit.record(ticket, "status.changed", actor, data={"changes": {"status": [old_status, ticket.status]}})
        notify.status_changed(ticket, old_status, actor)
    if field_diff or ticket.status != old_status:
        notify.ticket_changed(ticket, actor, {**field_diff, **(
            {"status": [old_status, ticket.status]} if ticket.status != old_status else {})})


def _group_id_for_lane(lane: str | None) -> Any:
    """The support group a lane names, as a subquery the work item's INSERT carries: no
    round trip of its own, and always the group of that name at commit time."""
    if not lane:
        return None
    return select(Group.id).where(Group.name == lane).scalar_subquery()


def _open_stage(ticket: Ticket, instance: Instance, effect: StageOpened, actor: User | None) -> WorkItem:
    assignee = None
    if effect.assignee:
        assignee = db.session.execute(select(User).where(User.login == str(effect.assignee))).scalar()
    item = WorkItem(
        ticket_id=ticket.id, instance_id=instance.id, engine_task_id=effect.task_id,
        element_id=effect.element_id, process_id=effect.process_id, name=effect.name, lane=effect.lane,
        group_id=_group_id_for_lane(effect.lane), assignee_id=assignee.id if assignee else None,
        state=effect.stage.state, color=effect.stage.color, background=effect.stage.background,
        icon=effect.stage.icon, form=effect.stage.form, status="open")
    db.session.add(item)
    audit.record(ticket, "stage.opened", actor, element_id=effect.element_id,
                 data={"task": effect.task_id, "name": effect.name, "lane": effect.lane,
                       "assignee": assignee.login if assignee else None})
    if effect.assignee and assignee is None:
        audit.record(ticket, "stage.assignee_unknown", actor, element_id=effect.element_id,
                     data={"assignee": str(effect.assignee)})
    return item


def _close_stage(ticket: Ticket, instance: Instance, effect: StageClosed, actor: User | None,
                 completed_task: str | None) -> None:
    item = _loaded_open_item(instance.id, effect.task_id) or db.session.execute(select(WorkItem).where(
        WorkItem.instance_id == instance.id, WorkItem.engine_task_id == effect.task_id,
        WorkItem.status == "open")).scalar()
    if item is None:
        return
    item.status = effect.status
    item.completed_at = utcnow()
    if effect.status == "done" and effect.task_id == completed_task and actor is not None:
        item.completed_by_id = actor.id
    audit.record(ticket, "stage.closed", actor if effect.task_id == completed_task else None,
                 element_id=effect.element_id, data={"task": effect.task_id, "status": effect.status})


def _loaded_open_item(instance_id: int, task_id: str) -> WorkItem | None:
    """The open work item if this session already holds it (the stage being completed)."""
    for obj in db.session.identity_map.values():
        if (isinstance(obj, WorkItem) and obj.instance_id == instance_id and obj.engine_task_id == task_id
                and obj.status == "open"):
            return obj
    return None


def _arm_timer(instance: Instance, effect: TimerArmed) -> None:
    timer = Timer(instance_id=instance.id, engine_task_id=effect.task_id, element_id=effect.element_id,
                  name=effect.name or "", due_at=effect.due_at, status="armed")
    db.session.add(timer)
    due_at = effect.due_at

    def _wake() -> None:
        from ..jobs import schedule_timer
        schedule_timer(inspect(timer).identity[0], due_at)

    on_commit(_wake)


def _disarm_timer(instance: Instance, effect: TimerDisarmed) -> None:
    for timer in db.session.execute(select(Timer).where(
            Timer.instance_id == instance.id, Timer.engine_task_id == effect.task_id,
            Timer.status == "armed")).scalars():
        timer.status = "cancelled"


def _sync_ticket_fields(ticket: Ticket, changes: dict[str, tuple[Any, Any]]) -> dict[str, list]:
    """Copy changed process fields onto the ticket's columns; returns the field diff."""
    from .tickets import CHANNELS, sanitize_html

    diff: dict[str, list] = {}
    for name, (old, new) in changes.items():
        if old == new:
            continue
        diff[name] = [old, new]
        if name not in SYNCED_FIELDS:
            continue
        value = None if new is None else str(new)
        if name == "requester":
            user = db.session.execute(select(User).where(User.login == value)).scalar() if value else None
            if user is not None:
                ticket.requester_id = user.id
        elif name == "description":
            ticket.description = sanitize_html(value or "")
        elif name == "channel":
            if value in CHANNELS:
                ticket.channel = value
        elif name == "subject":
            if value:
                ticket.subject = value[:500]
        elif name == "rating":  # the requester's 1-5 from the "rate" stage
            ticket.rating = new if isinstance(new, int) and not isinstance(new, bool) and 1 <= new <= 5 else None
        elif name == "rating_comment":
            ticket.rating_comment = value[:4000] if value else None
        else:
            limit = Ticket.__table__.c[name].type.length
            setattr(ticket, name, value[:limit] if value else value)
    return diff


def _current_status(ticket: Ticket, instance: Instance, opened: list[WorkItem], closed: set[str]) -> str:
    """The state of the newest open stage (stages opened by this step are the newest)."""
    if instance.status == "cancelled":
        return "cancelled"
    if instance.status == "completed":
        return "closed"
    if opened:
        return opened[-1].state or ticket.status
    query = select(WorkItem.state).where(WorkItem.instance_id == instance.id, WorkItem.status == "open")
    if closed:
        query = query.where(WorkItem.engine_task_id.not_in(closed))
    latest = db.session.execute(query.order_by(WorkItem.id.desc()).limit(1)).scalar()
    return latest or ticket.status


def deliver_pending(ticket: Ticket, instance: Instance, actor: User | None) -> None:
    """Deliver kept messages the instance now waits for (oldest first)."""
    for _ in range(MAX_INBOX_ROUNDS):
        if instance.status != "running":
            return
        pending = list(db.session.execute(select(InboxMessage).where(
            InboxMessage.instance_id == instance.id, InboxMessage.consumed.is_(False))
            .order_by(InboxMessage.id)).scalars())
        delivered = False
        for msg in pending:
            process = compiled(instance.definition)
            try:
                result = runner().deliver_message(process, instance.state, msg.name, msg.payload or {})
            except NotWaitingForMessage:
                continue
            except ScriptFailed as err:
                log.warning("message %s for instance %s failed: %s", msg.name, instance.id, err)
                continue
            msg.consumed = True
            msg.consumed_at = utcnow()
            audit.record(ticket, "message.delivered", actor, data={"message": msg.name, "inbox": msg.id})
            apply_result(ticket, instance, result, actor, cause="message")
            delivered = True
            break
        if not delivered:
            return

