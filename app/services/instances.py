"""Monitoring running process instances."""
from __future__ import annotations

from sqlalchemy import select

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..i18n import _l
from ..models import Event, Instance, ProcessDefinition, Ticket, Timer, User, WorkItem
from ..models.base import utcnow
from ..permissions import can_view_instances
from .definitions import compiled
from .steps import runner

STATUSES = ("running", "completed", "cancelled", "error")


def _check(actor: User) -> None:
    if not can_view_instances(actor):
        raise Forbidden(_l("You may not monitor process instances."))


def list_instances(actor: User, *, status: str | None = None, process: str | None = None,
                   overdue: bool = False, after: int | None = None,
                   limit: int = 50) -> tuple[list[tuple[Instance, Ticket]], int | None]:
    _check(actor)
    limit = max(1, min(limit, 200))
    query = (select(Instance, Ticket).join(Ticket, Ticket.instance_id == Instance.id)
             .join(ProcessDefinition, ProcessDefinition.id == Instance.definition_id))
    if status:
        query = query.where(Instance.status == status)
    if process:
        query = query.where(ProcessDefinition.key == process)
    if overdue:
        query = query.where(Instance.id.in_(select(WorkItem.instance_id).where(
            WorkItem.status == "open", WorkItem.due_at < utcnow())))
    if after is not None:
        query = query.where(Instance.id < after)
    rows = list(db.session.execute(query.order_by(Instance.id.desc()).limit(limit + 1)).all())
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return [(r[0], r[1]) for r in rows[:limit]], next_cursor


def describe_instance(actor: User, instance_id: int) -> dict:
    _check(actor)
    instance = db.session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(_l("Instance %(id)s does not exist.", id=instance_id))
    ticket = db.session.execute(select(Ticket).where(Ticket.instance_id == instance.id)).scalar()
    engine_view = runner().describe(compiled(instance.definition), instance.state) if instance.state else {}
    timers = list(db.session.execute(select(Timer).where(Timer.instance_id == instance.id)
                                     .order_by(Timer.id)).scalars())
    history = list(db.session.execute(select(Event).where(Event.instance_id == instance.id)
                                      .order_by(Event.id)).scalars())
    return {"instance": instance, "ticket": ticket, "engine": engine_view, "timers": timers, "history": history}
