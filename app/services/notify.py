"""Notifications: written to the outbox in the cause's transaction, delivered after commit.

Templates, channels and preferences are a later issue; here every notification is an
outbox row with a stable kind and payload, delivered by ``app.jobs.deliver_outbox``.
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import inspect

from ..extensions import db
from ..models import OutboxMessage, Ticket, User
from .uow import on_commit


def _enqueue(row: OutboxMessage) -> None:
    db.session.add(row)

    def _wake() -> None:
        from ..jobs import enqueue_outbox
        enqueue_outbox(inspect(row).identity[0])  # the key survives the commit's expiry

    on_commit(_wake)


def queue(kind: str, ticket: Ticket | None, recipient: User | int | None, payload: dict[str, Any],
          channel: str = "console") -> OutboxMessage:
    recipient_id = recipient.id if isinstance(recipient, User) else recipient
    row = OutboxMessage(idempotency_key=f"{kind}:{ticket.id if ticket else '-'}:{uuid.uuid4().hex}",
                        kind=kind, channel=channel, recipient_id=recipient_id,
                        ticket_id=ticket.id if ticket else None, payload=payload)
    _enqueue(row)
    return row


def _ticket_ref(ticket: Ticket) -> dict[str, Any]:
    return {"ticket_id": ticket.id, "number": ticket.number, "subject": ticket.subject}


def status_changed(ticket: Ticket, old: str | None, actor: User | None) -> None:
    if ticket.requester_id is None or (actor is not None and actor.id == ticket.requester_id):
        return
    queue("ticket.status_changed", ticket, ticket.requester_id,
          {**_ticket_ref(ticket), "old": old, "new": ticket.status})


def ticket_changed(ticket: Ticket, actor: User | None, changes: dict[str, list]) -> None:
    for watcher in ticket.watchers:
        if actor is not None and watcher.user_id == actor.id:
            continue
        queue("ticket.changed", ticket, watcher.user_id, {
            **_ticket_ref(ticket), "changes": changes, "by": actor.login if actor else None})


def process_message(ticket: Ticket, name: str, payload: Any) -> None:
    """A message or signal thrown by the diagram (e.g. ``notify_requester``)."""
    recipient = ticket.requester_id if name.endswith("requester") else None
    queue(f"bpmn.{name}", ticket, recipient, {**_ticket_ref(ticket), "payload": payload})
