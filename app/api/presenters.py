"""Turning models into the API's documented shapes (DESIGN §9)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import url_for
from sqlalchemy import select

from ..extensions import db
from ..models import Event, Instance, Ticket, TicketMessage, Timer, WorkItem
from ..services import tickets as ticket_service
from ..services.definitions import form_for
from ..services.form_builder import render_hints


def stage(item: WorkItem) -> dict[str, Any]:
    return {
        "task_id": item.id, "element_id": item.element_id, "name": item.name, "status": item.status,
        "state": item.state, "color": item.color, "background": item.background, "icon": item.icon,
        "lane": item.lane, "assignee": item.assignee.login if item.assignee else None,
        "due_at": item.due_at, "completed_by": item.completed_by.login if item.completed_by else None,
        "completed_at": item.completed_at,
    }


def event(ev: Event) -> dict[str, Any]:
    return {"id": ev.id, "kind": ev.kind, "element_id": ev.element_id, "at": ev.created_at.isoformat(),
            "actor": ev.actor.login if ev.actor else None, "data": ev.data}


def ticket(t: Ticket, *, with_history: bool = True) -> dict[str, Any]:
    stages = [stage(i) for i in ticket_service.ticket_stages(t)]
    history = []
    if with_history:
        history = [event(e) for e in db.session.execute(
            select(Event).where(Event.ticket_id == t.id).order_by(Event.id)).scalars()]
    definition = t.instance.definition if t.instance else None
    data = (t.instance.data or {}) if t.instance is not None else {}
    return {
        "id": t.id, "number": t.number, "subject": t.subject, "description": t.description,
        "status": t.status, "priority": t.priority, "category": t.category, "service": t.service,
        "channel": t.channel, "requester": t.requester.login if t.requester else None, "closed": t.closed,
        "created_at": t.created_at, "closed_at": t.closed_at,
        "rating": t.rating, "rating_comment": t.rating_comment, "parent_id": t.parent_id,
        "process": {"key": definition.key, "version": definition.version} if definition else None,
        "stages": stages, "open_stages": [s for s in stages if s["status"] == "open"],
        # SLA clocks arrive with the SLA issue; until then a ticket has none.
        "sla": {"response": None, "resolution": None},
        "watchers": sorted(w.user.login for w in t.watchers),
        "data": data if isinstance(data, dict) else {},
        "history": history,
        "history_url": url_for("tickets.TicketHistory", ticket_id=t.id),
    }


def task(item: WorkItem, *, locale: str = "en", with_form: bool = True) -> dict[str, Any]:
    form = None
    if with_form and item.form:
        spec = form_for(item.ticket.instance.definition_id, item.form)
        if spec is not None:
            form = {"name": item.form, "schema": spec.get("schema"), "ui": spec.get("ui"),
                    "fields_": render_hints(spec, locale)}
    return {
        "id": item.id, "ticket_id": item.ticket_id, "ticket_number": item.ticket.number,
        "subject": item.ticket.subject, "element_id": item.element_id, "name": item.name,
        "status": item.status,
        "stage": {"state": item.state, "color": item.color, "background": item.background, "icon": item.icon},
        "form": form, "lane": item.lane, "group": item.group.name if item.group else None,
        "assignee": item.assignee.login if item.assignee else None, "due_at": item.due_at,
        "data": (item.ticket.instance.data or {}) if with_form else {},
    }


def message(m: TicketMessage) -> dict[str, Any]:
    return {"id": m.id, "author": m.author.login if m.author else None, "body": m.body,
            "internal": m.internal, "from_requester": m.from_requester, "created_at": m.created_at}


def timer(t: Timer) -> dict[str, Any]:
    return {"id": t.id, "element_id": t.element_id, "name": t.name, "due_at": t.due_at.isoformat(),
            "status": t.status, "attempts": t.attempts, "last_error": t.last_error}


def instance(inst: Instance, t: Ticket | None, detail: dict | None = None) -> dict[str, Any]:
    out = {
        "id": inst.id, "status": inst.status, "error": inst.error,
        "process": {"key": inst.definition.key, "version": inst.definition.version},
        "ticket_id": t.id if t else None, "ticket_number": t.number if t else None,
        "created_at": inst.created_at, "updated_at": inst.updated_at,
    }
    if detail is not None:
        engine = _json_safe(detail["engine"] or {})
        out.update({
            "tokens": list(engine.get("active_element_ids", [])), "engine": engine,
            "timers": [timer(x) for x in detail["timers"]],
            "history": [event(e) for e in detail["history"]],
        })
    return out


def _json_safe(value: Any) -> Any:
    """Datetimes as ISO 8601 (Flask's default JSON would write HTTP dates)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value
