"""Tickets: start one, complete its stages, talk with the requester."""
from __future__ import annotations

import json
from typing import Any

import nh3
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from workflows.types import TaskNotReady

from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import InboxMessage, Instance, Ticket, TicketMessage, User, Watcher, WorkItem
from ..permissions import READ_TASKS, can_create_ticket, can_execute, can_message_ticket, can_read_ticket, can_view_item, has
from . import audit, notify, steps, subtasks
from .definitions import active_definition, form_for
from .forms import validate_stage_data
from .users import find_user

NUMBER_PREFIXES = {"incident": "INC", "service_request": "REQ", "subtask": "SUB"}
CHANNELS = ("portal", "email", "phone", "chat", "walk_in", "api")
MAX_DATA_BYTES = 64 * 1024
REQUESTER_REPLY = "requester_reply"


def sanitize_html(text: str) -> str:
    """Rich text from people: keep formatting, drop scripts, handlers and foreign URLs schemes."""
    return nh3.clean(text or "", url_schemes={"http", "https", "mailto"})


def get_ticket(actor: User, ticket_id: int) -> Ticket:
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(_l("Ticket %(id)s does not exist.", id=ticket_id))
    if not can_read_ticket(actor, ticket):
        raise Forbidden(_l("You may not see this ticket."))
    return ticket


def create_ticket(actor: User, *, process: str, subject: str, description: str = "",
                  priority: str | None = None, requester: str | None = None,
                  data: dict[str, Any] | None = None, channel: str = "api",
                  category: str | None = None, service: str | None = None) -> Ticket:
    if not can_create_ticket(actor):
        raise Forbidden(_l("You may not register tickets."))
    errors: dict[str, list[str]] = {}
    subject = (subject or "").strip()
    if not subject:
        errors["subject"] = [str(_l("Write a short subject."))]
    elif len(subject) > 500:
        errors["subject"] = [str(_l("Keep the subject under 500 characters."))]
    if channel not in CHANNELS:
        errors["channel"] = [str(_l("Choose one of: %(choices)s.", choices=", ".join(CHANNELS)))]
    data = dict(data or {})
    if len(json.dumps(data, default=str)) > MAX_DATA_BYTES:
        errors["data"] = [str(_l("Process data is limited to 64 KB."))]
    requester_user = actor
    if requester and requester != actor.login:
        if not has(actor, READ_TASKS):
            errors["requester"] = [str(_l("You may register tickets only for yourself."))]
        else:
            requester_user = find_user(requester)
            if requester_user is None:
                errors["requester"] = [str(_l("There is no user with the login %(login)s.", login=requester))]
    definition = active_definition(process) if process else None
    if definition is None:
        errors["process"] = [str(_l("No process %(key)s is deployed.", key=process or "?"))]
    if errors:
        raise ValidationFailed(errors=errors)

    ticket = Ticket(subject=subject, description=sanitize_html(description), priority=priority,
                    category=category, service=service, channel=channel, process_key=definition.key,
                    requester_id=requester_user.id if requester_user else None, created_by_id=actor.id,
                    status="new")
    db.session.add(ticket)
    db.session.flush()
    ticket.number = f"{NUMBER_PREFIXES.get(definition.key, definition.key[:3].upper())}-{ticket.id}"
    instance = Instance(definition_id=definition.id, state={}, data={}, status="running")
    db.session.add(instance)
    db.session.flush()
    ticket.instance_id = instance.id
    ticket.instance = instance
    start_data = {**data, "subject": subject, "description": ticket.description, "priority": priority,
                  "category": category, "service": service, "channel": channel,
                  "requester": requester_user.login if requester_user else None, "ticket_number": ticket.number}
    audit.record(ticket, "ticket.created", actor, data={"process": definition.key, "version": definition.version,
                                                        "channel": channel})
    steps.run_step(ticket, instance, actor, lambda r, p, s: r.start(p, start_data), cause="start")
    db.session.flush()
    return ticket


def _conflict_for(item_id: int) -> Conflict:
    item = db.session.get(WorkItem, item_id)
    if item is not None and item.status != "open":
        who = item.completed_by.display_name if item.completed_by else None
        when = item.completed_at.isoformat() if item.completed_at else None
        if who:
            message = _l("This stage was already completed by %(who)s at %(when)s.", who=who, when=when)
        else:
            message = _l("This stage is already closed (%(status)s).", status=item.status)
        return Conflict(message, completed_by=item.completed_by.login if item.completed_by else None,
                        completed_at=when, status=item.status)
    return Conflict()


def complete_stage(actor: User, item_id: int, data: dict[str, Any], *, locale: str = "en",
                   tz: str = "UTC") -> WorkItem:
    """Complete the stage ``item_id`` with form ``data``; 409 if someone was first."""
    # the ticket, its state and its watchers (whom the step may notify) in one round trip
    ticket_path = joinedload(WorkItem.ticket)
    item = db.session.get(WorkItem, item_id, options=[
        ticket_path.joinedload(Ticket.instance),
        ticket_path.joinedload(Ticket.watchers).lazyload(Watcher.user)])
    if item is None:
        raise NotFound(_l("Task %(id)s does not exist.", id=item_id))
    if not can_view_item(actor, item):
        raise Forbidden(_l("You may not see this task."))
    if item.status != "open":
        raise _conflict_for(item_id)
    if not can_execute(actor, item):
        raise Forbidden(_l("This task is assigned to someone else or to a group you are not in."))
    ticket = item.ticket
    instance = ticket.instance
    spec = form_for(instance.definition_id, item.form)
    cleaned = validate_stage_data(spec, data if data is not None else {}, locale=locale,
                                  current=instance.data or {}, tz=tz, ticket_id=ticket.id)
    task_id = item.engine_task_id
    try:
        audit.record(ticket, "stage.completed", actor, element_id=item.element_id,
                     data={"work_item": item.id, "data": cleaned})
        steps.run_step(ticket, instance, actor, lambda r, p, s: r.complete_task(p, s, task_id, cleaned),
                       cause="stage", completed_task=task_id)
        # A parent ticket may not be resolved or closed while a child subtask is open (issue 3,
        # point 6). Judged on the step's outcome, so it holds for any diagram: see
        # services.subtasks.refuse_if_parent_would_close. Nothing is committed: roll the step back.
        subtasks.refuse_if_parent_would_close(ticket)
    except Conflict:
        db.session.rollback()
        raise
    except TaskNotReady:
        db.session.rollback()
        raise _conflict_for(item_id) from None
    except StaleDataError:
        db.session.rollback()
        raise _conflict_for(item_id) from None
    except OperationalError as err:  # SQLite: another writer holds the lock past the timeout
        db.session.rollback()
        if "locked" in str(err).lower():
            raise _conflict_for(item_id) from None
        raise
    return item


def post_message(actor: User, ticket_id: int, body: str, *, internal: bool = False) -> TicketMessage:
    ticket = get_ticket(actor, ticket_id)
    if not can_message_ticket(actor, ticket, internal):
        raise Forbidden(_l("You may not write internal notes."))
    clean = sanitize_html(body).strip()
    if not clean:
        raise ValidationFailed(errors={"body": [str(_l("Write a message."))]})
    from_requester = ticket.requester_id == actor.id and not internal
    msg = TicketMessage(ticket_id=ticket.id, author_id=actor.id, body=clean, internal=internal,
                        from_requester=from_requester)
    db.session.add(msg)
    db.session.flush()
    audit.record(ticket, "message.posted", actor, data={"message": msg.id, "internal": internal})
    if from_requester and ticket.instance is not None and ticket.instance.status == "running":
        db.session.add(InboxMessage(instance_id=ticket.instance_id, name=REQUESTER_REPLY,
                                    payload={"message": clean, "message_id": msg.id}))
        db.session.flush()
        steps.deliver_pending(ticket, ticket.instance, actor)
    elif not internal and ticket.requester_id and ticket.requester_id != actor.id:
        notify.queue("ticket.message", ticket, ticket.requester_id,
                     {"ticket_id": ticket.id, "number": ticket.number, "message_id": msg.id})
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict() from None
    return msg


def add_watcher(actor: User, ticket_id: int, login: str) -> Watcher:
    ticket = get_ticket(actor, ticket_id)
    user = find_user(login)
    if user is None:
        raise ValidationFailed(errors={"login": [str(_l("There is no user with the login %(login)s.", login=login))]})
    existing = db.session.get(Watcher, (ticket.id, user.id))
    if existing:
        return existing
    watcher = Watcher(ticket_id=ticket.id, user_id=user.id)
    ticket.watchers.append(watcher)
    audit.record(ticket, "watcher.added", actor, data={"login": login})
    db.session.flush()
    return watcher


def ticket_stages(ticket: Ticket) -> list[WorkItem]:
    return list(db.session.execute(select(WorkItem).where(WorkItem.ticket_id == ticket.id)
                                   .order_by(WorkItem.id)).scalars())


def ticket_messages(actor: User, ticket: Ticket) -> list[TicketMessage]:
    query = select(TicketMessage).where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.id)
    if not has(actor, READ_TASKS):
        query = query.where(TicketMessage.internal.is_(False))
    return list(db.session.execute(query).scalars())
