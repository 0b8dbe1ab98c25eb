"""Firing timers exactly once: a compare-and-set on the timer row in the step's transaction."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from workflows.types import TaskNotReady

from ..errors import WorkflowFailed
from ..extensions import db
from ..models import Ticket, Timer
from ..models.base import utcnow
from . import audit, steps

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def fire_timer(timer_id: int, now: datetime | None = None) -> bool:
    """Fire one due timer.  Returns True if this call fired it; a duplicate wake is a no-op.

    The caller commits.  On a script failure the transaction is rolled back and the failure
    recorded in a fresh one.
    """
    now = now or utcnow()
    claimed = db.session.execute(
        update(Timer).where(Timer.id == timer_id, Timer.status == "armed", Timer.due_at <= now)
        .values(status="fired", fired_at=now, attempts=Timer.attempts + 1)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return False
    timer = db.session.get(Timer, timer_id)
    db.session.refresh(timer)
    ticket = db.session.execute(select(Ticket).where(Ticket.instance_id == timer.instance_id)).scalar()
    instance = ticket.instance
    task_id = timer.engine_task_id
    try:
        steps.run_step(ticket, instance, None, lambda r, p, s: r.fire_timer(p, s, task_id, now), cause="timer")
    except TaskNotReady:
        timer.status = "cancelled"  # the event stopped waiting in the meantime
        return False
    except WorkflowFailed as err:
        db.session.rollback()
        _record_failure(timer_id, str(err.message))
        return False
    audit.record(ticket, "timer.fired", None, element_id=timer.element_id,
                 data={"timer": timer.id, "due_at": timer.due_at.isoformat()})
    return True


def _record_failure(timer_id: int, message: str) -> None:
    timer = db.session.get(Timer, timer_id)
    timer.attempts += 1
    timer.last_error = message
    if timer.attempts >= MAX_ATTEMPTS:
        timer.status = "failed"
        _mark_instance_error(timer.instance_id, message)
    else:
        timer.due_at = utcnow() + timedelta(seconds=2 ** timer.attempts)
    db.session.flush()


def _mark_instance_error(instance_id: int, message: str) -> None:
    from ..models import Instance

    instance = db.session.get(Instance, instance_id)
    instance.status = "error"
    instance.error = message


def due_timers(now: datetime | None = None, limit: int = 1000) -> list[tuple[int, datetime]]:
    now = now or utcnow()
    return list(db.session.execute(select(Timer.id, Timer.due_at).where(
        Timer.status == "armed", Timer.due_at <= now).order_by(Timer.due_at).limit(limit)).all())
