"""Delivering outbox rows once (console channel until the notification issue adds more)."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from ..extensions import db
from ..models import OutboxMessage
from ..models.base import utcnow

log = logging.getLogger("stagedesk.outbox")


def deliver(row_id: int) -> bool:
    """Claim and deliver one pending row; True if this call sent it."""
    claimed = db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row_id, OutboxMessage.status == "pending")
        .values(status="sending", attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return False
    row = db.session.get(OutboxMessage, row_id)
    db.session.refresh(row)
    log.info("notify %s to user %s [%s]: %s", row.kind, row.recipient_id, row.idempotency_key, row.payload)
    row.status = "sent"
    row.sent_at = utcnow()
    return True


def stale_pending(age_seconds: int = 60, limit: int = 1000) -> list[int]:
    """Pending rows whose wake-up was probably lost (Redis down at commit time)."""
    cutoff = utcnow() - timedelta(seconds=age_seconds)
    return list(db.session.execute(select(OutboxMessage.id).where(
        OutboxMessage.status == "pending", OutboxMessage.created_at <= cutoff)
        .order_by(OutboxMessage.id).limit(limit)).scalars())
