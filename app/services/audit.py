"""The audit trail: every change of a ticket, with who and field-level diffs."""
from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import Event, Ticket, User


def record(ticket: Ticket | None, kind: str, actor: User | None, *, element_id: str | None = None,
           data: dict[str, Any] | None = None, instance_id: int | None = None) -> Event:
    event = Event(ticket_id=ticket.id if ticket else None,
                  instance_id=instance_id if instance_id is not None else (ticket.instance_id if ticket else None),
                  actor_id=actor.id if actor else None, kind=kind, element_id=element_id, data=data or {})
    db.session.add(event)
    return event
