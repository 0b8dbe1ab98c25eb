"""What happened on a ticket, for people: the audit trail as readable entries, and the stages.

``ticket_history`` turns audit ``Event`` rows into translated sentences with field-level diffs
("priority: P3 → P2", by whom, when), newest first, a page at a time (a long-lived ticket
may have thousands of events).  Facts meant for staff (internal notes, process data beyond
the ticket's own fields, timers, assignments) are left out for people without ``read_tasks``.

``stage_timeline`` lists the stages, oldest first, grouped so that the stages of a called
subprocess (a call activity such as ``escalation`` inside ``incident``) sit together under
the subprocess's name.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nh3
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..i18n import _l
from ..models import Event, ProcessDefinition, Ticket, User, WorkItem
from ..permissions import READ_TASKS, has

PAGE_SIZE = 200
MAX_PAGE = 1000
TIMELINE_SIZE = 100
MAX_VALUE_CHARS = 200
#: the ticket's own fields: everyone who may read the ticket sees their changes; other process
#: data (diagnosis, work notes, the engineer picked…) is for staff
PUBLIC_FIELDS = frozenset({"subject", "description", "priority", "category", "service", "channel", "requester",
                           "rating", "rating_comment", "status"})
#: kinds a requester may see (some only in part: internal notes and files are filtered out)
PUBLIC_KINDS = ("ticket.created", "stage.opened", "stage.closed", "stage.completed", "fields.changed",
                "status.changed", "message.posted", "watcher.added", "watcher.removed", "attachments.added",
                "instance.finished")
FIELD_LABELS = {
    "subject": _l("subject"), "description": _l("description"), "priority": _l("priority"),
    "category": _l("category"), "service": _l("service"), "channel": _l("channel"),
    "requester": _l("requester"), "rating": _l("rating"), "rating_comment": _l("rating comment"),
    "status": _l("status"), "sprint": _l("sprint"), "estimate": _l("estimate"),
}
#: ticket statuses are the stage states of DESIGN §5
STATUS_LABELS = {
    "new": _l("New"), "open": _l("Open"), "in_progress": _l("In progress"), "waiting": _l("Waiting"),
    "resolved": _l("Resolved"), "closed": _l("Closed"), "cancelled": _l("Cancelled"),
}
CHANNEL_LABELS = {"portal": _l("Portal"), "email": _l("E-mail"), "phone": _l("Phone"), "chat": _l("Chat"),
                  "walk_in": _l("In person"), "api": _l("API")}
FINISHED_LABELS = {"completed": _l("completed"), "cancelled": _l("cancelled"), "error": _l("failed")}
EMPTY = "—"


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    text: str
    actor: str | None  # a person's name; None: the system (a timer, the process itself)
    at: datetime
    changes: tuple[Change, ...] = ()
    internal: bool = False  # shown to staff only


@dataclass(frozen=True)
class HistoryPage:
    entries: list[Entry]
    older: int | None  # pass as ``before`` for the next (older) page; None: this is the oldest
    newest: bool  # this page starts at the newest event


def ticket_history(actor: User, ticket: Ticket, *, before: int | None = None,
                   limit: int | None = None) -> HistoryPage:
    """One page (``PAGE_SIZE`` by default) of the ticket's history, newest first (keyset
    pagination by event id)."""
    limit = max(1, min(PAGE_SIZE if limit is None else limit, MAX_PAGE))
    staff = has(actor, READ_TASKS)
    query = select(Event).where(Event.ticket_id == ticket.id)
    if not staff:
        query = query.where(Event.kind.in_(PUBLIC_KINDS))
    if before is not None:
        query = query.where(Event.id < before)
    rows = list(db.session.execute(query.order_by(Event.id.desc()).limit(limit + 1)).scalars())
    older = rows[limit - 1].id if len(rows) > limit else None
    rows = rows[:limit]
    names = _stage_names(ticket, rows)
    entries = [e for e in (_entry(ev, names, staff) for ev in rows) if e is not None]
    return HistoryPage(entries, older, before is None)


# --- one event → one entry ---------------------------------------------------------------------

def _entry(event: Event, names: dict[str, str], staff: bool) -> Entry | None:
    data = event.data or {}
    text, changes, internal = _describe(event.kind, data, event.element_id, names, staff)
    if text is None or (internal and not staff):
        return None
    return Entry(id=event.id, kind=event.kind, text=text, at=event.created_at, changes=tuple(changes),
                 actor=event.actor.display_name if event.actor else None, internal=internal)


def _describe(kind: str, data: dict, element_id: str | None, names: dict[str, str],
              staff: bool) -> tuple[str | None, list[Change], bool]:
    """(sentence, field changes, staff only); a None sentence: nothing worth showing."""
    stage = _stage_name(data, element_id, names)
    if kind == "ticket.created":
        channel = data.get("channel")
        return str(_l("Ticket created (channel: %(channel)s)",
                      channel=CHANNEL_LABELS.get(channel, channel or EMPTY))), [], False
    if kind == "stage.opened":
        if staff and data.get("assignee"):
            return str(_l("Stage “%(stage)s” opened for %(who)s", stage=stage, who=data["assignee"])), [], False
        if staff and data.get("lane"):
            return str(_l("Stage “%(stage)s” opened in the queue of %(group)s", stage=stage,
                          group=data["lane"])), [], False
        return str(_l("Stage “%(stage)s” opened", stage=stage)), [], False
    if kind == "stage.completed":
        return str(_l("Stage “%(stage)s” completed", stage=stage)), [], False
    if kind == "stage.closed":
        if data.get("status") == "done":
            return None, [], False  # the completion has its own entry (stage.completed)
        return str(_l("Stage “%(stage)s” cancelled", stage=stage)), [], False
    if kind in ("fields.changed", "status.changed", "sprint.changed"):
        changes = _changes(data.get("changes") or {}, staff or kind == "status.changed")
        if not changes:
            return None, [], False
        text = {"fields.changed": _l("Fields changed"), "status.changed": _l("Status changed"),
                "sprint.changed": _l("Sprint changed")}[kind]
        return str(text), changes, kind == "sprint.changed"
    if kind == "message.posted":
        internal = bool(data.get("internal"))
        return str(_l("Internal note added") if internal else _l("Message posted")), [], internal
    if kind == "attachments.added":
        files = ", ".join(str(f.get("name", "?")) for f in data.get("files") or [] if isinstance(f, dict))
        return str(_l("Files attached: %(files)s", files=files or EMPTY)), [], bool(data.get("internal"))
    if kind == "watcher.added":
        return str(_l("%(who)s now watches the ticket", who=data.get("login") or EMPTY)), [], False
    if kind == "watcher.removed":
        return str(_l("%(who)s no longer watches the ticket", who=data.get("login") or EMPTY)), [], False
    if kind == "instance.finished":
        status = data.get("status")
        label = FINISHED_LABELS.get(status, status or EMPTY)
        return str(_l("The process finished (%(status)s)", status=label)), [], False
    return _describe_internal(kind, data, stage), [], True


def _describe_internal(kind: str, data: dict, stage: str) -> str:
    if kind == "stage.assigned":
        who = data.get("assignee") or data.get("to")
        if who:
            return str(_l("Stage “%(stage)s” assigned to %(who)s", stage=stage, who=who))
        return str(_l("Stage “%(stage)s” given back to the queue", stage=stage))
    if kind == "stage.assignee_unknown":
        return str(_l("Stage “%(stage)s”: no user %(who)s, left in the queue", stage=stage,
                      who=data.get("assignee") or EMPTY))
    if kind == "timer.fired":
        return str(_l("Timer “%(stage)s” fired", stage=stage))
    if kind == "message.delivered":
        return str(_l("The requester's reply reached the process"))
    if kind == "subtask.created":
        return str(_l("Child ticket %(child)s created for %(who)s", child=data.get("child") or EMPTY,
                      who=data.get("assignee") or EMPTY))
    if kind == "subtask.linked":
        return str(_l("Linked as a child of %(parent)s", parent=data.get("parent") or EMPTY))
    return str(_l("Event %(kind)s", kind=kind))


def _changes(raw: Any, show_all: bool) -> list[Change]:
    out = []
    if not isinstance(raw, dict):
        return out
    for name in sorted(raw, key=str):
        pair = raw[name]
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            continue
        if not show_all and name not in PUBLIC_FIELDS:
            continue
        old, new = (_value(name, v) for v in pair)
        if old != new:  # e.g. None → "": nothing a person would call a change
            out.append(Change(field=str(FIELD_LABELS.get(name) or str(name).replace("_", " ")), old=old, new=new))
    return out


def _value(name: str, value: Any) -> str:
    """A value as plain text (the template escapes it): short, one line."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if name == "status" and value in STATUS_LABELS:
        return str(STATUS_LABELS[value])
    if name == "channel" and value in CHANNEL_LABELS:
        return str(CHANNEL_LABELS[value])
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    else:
        text = str(value)
    if name == "description":  # rich text: the words, not the markup
        text = html.unescape(nh3.clean(text, tags=set()))
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _stage_name(data: dict, element_id: str | None, names: dict[str, str]) -> str:
    for key in (f"item:{data.get('work_item')}", f"task:{data.get('task')}", f"element:{element_id}"):
        if key in names:
            return names[key]
    return str(data.get("name") or element_id or EMPTY)


def _stage_names(ticket: Ticket, events: list[Event]) -> dict[str, str]:
    """Names of the stages these events mention, in one query (events store ids, not names)."""
    item_ids = {e.data.get("work_item") for e in events if isinstance((e.data or {}).get("work_item"), int)}
    task_ids = {str(e.data.get("task")) for e in events if (e.data or {}).get("task")}
    elements = {e.element_id for e in events if e.element_id}
    if not (item_ids or task_ids or elements):
        return {}
    rows = db.session.execute(select(WorkItem.id, WorkItem.engine_task_id, WorkItem.element_id, WorkItem.name)
                              .where(WorkItem.ticket_id == ticket.id,
                                     or_(WorkItem.id.in_(item_ids), WorkItem.engine_task_id.in_(task_ids),
                                         WorkItem.element_id.in_(elements)))
                              .order_by(WorkItem.id))
    names: dict[str, str] = {}
    for item_id, task_id, element, name in rows:
        names[f"item:{item_id}"] = name or element
        names[f"task:{task_id}"] = name or element
        names[f"element:{element}"] = name or element
    return names


# --- stages -------------------------------------------------------------------------------------

@dataclass
class Segment:
    """Consecutive stages of one process: the ticket's own (``subprocess`` None) or a called one."""

    subprocess: str | None
    name: str | None
    items: list[WorkItem] = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    segments: list[Segment]
    earlier: int  # older stages not shown


def open_stages(ticket: Ticket) -> list[WorkItem]:
    """The ticket's open stages, oldest first, with their assignees."""
    return list(db.session.execute(
        select(WorkItem).where(WorkItem.ticket_id == ticket.id, WorkItem.status == "open")
        .options(selectinload(WorkItem.assignee)).order_by(WorkItem.id)).scalars())


def stage_timeline(ticket: Ticket, *, limit: int = TIMELINE_SIZE) -> Timeline:
    """The newest ``limit`` stages, oldest first, subprocess stages grouped under its name."""
    total = db.session.execute(select(func.count()).select_from(WorkItem)
                               .where(WorkItem.ticket_id == ticket.id)).scalar() or 0
    items = list(db.session.execute(
        select(WorkItem).where(WorkItem.ticket_id == ticket.id)
        .options(selectinload(WorkItem.completed_by), selectinload(WorkItem.assignee))
        .order_by(WorkItem.id.desc()).limit(limit)).scalars())
    items.reverse()
    names = process_names({i.process_id for i in items if i.process_id != ticket.process_key})
    segments: list[Segment] = []
    for item in items:
        sub = None if item.process_id == ticket.process_key else item.process_id
        if not segments or segments[-1].subprocess != sub:
            segments.append(Segment(sub, names.get(sub, sub) if sub else None))
        segments[-1].items.append(item)
    return Timeline(segments, max(0, total - len(items)))


def process_names(keys: set[str]) -> dict[str, str]:
    """The people-facing name of each process (its newest version's), else its key."""
    if not keys:
        return {}
    names = {k: k for k in keys}
    for key, name in db.session.execute(select(ProcessDefinition.key, ProcessDefinition.name)
                                        .where(ProcessDefinition.key.in_(keys))
                                        .order_by(ProcessDefinition.version)):
        if name:
            names[key] = name
    return names
