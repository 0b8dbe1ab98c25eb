"""Side effects after the commit (DESIGN §3 step 4, §11), and how a request's transaction ends.

Services register callables with ``on_commit``; they run once the surrounding transaction
has committed, and are dropped if it rolls back.  A failing callable is logged, never
raised: whatever it was meant to do is picked up again by the sweeper.

A transaction that only read is ended with COMMIT rather than ROLLBACK
(``end_read_only_transaction``): psycopg forgets every prepared statement of a connection
at each ROLLBACK, so read-only requests rolling back would make PostgreSQL parse and plan
every statement of every request again.  Anything written and not committed still rolls back.
"""
from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db

log = logging.getLogger(__name__)
_KEY = "stagedesk_after_commit"
_WROTE = "stagedesk_wrote"
#: per-transaction memos kept in ``session.info`` (dropped at commit and rollback)
TRANSACTION_MEMOS: tuple[str, ...] = (_WROTE,)


def on_commit(fn: Callable[[], None]) -> None:
    db.session.info.setdefault(_KEY, []).append(fn)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for memo in TRANSACTION_MEMOS:
        session.info.pop(memo, None)
    pending = session.info.pop(_KEY, [])
    for fn in pending:
        try:
            fn()
        except Exception:  # noqa: BLE001 - the sweeper repairs what a hook could not do
            log.exception("after-commit action %r failed", fn)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    for key in (_KEY, *TRANSACTION_MEMOS):
        session.info.pop(key, None)


@event.listens_for(Session, "after_flush")
def _mark_flushed(session: Session, _context) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _mark_dml(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


def end_read_only_transaction(exc: BaseException | None) -> None:
    """Teardown: commit the session's transaction if it wrote nothing (see the module doc);
    anything else is left to the session's close, which rolls back."""
    if exc is not None or not db.session.registry.has():
        return
    session = db.session()
    if (not session.in_transaction() or session.info.get(_WROTE)
            or session.new or session.dirty or session.deleted):
        return
    try:
        session.commit()
    except Exception:  # noqa: BLE001 - the close that follows rolls back; nothing was written
        log.exception("ending a read-only transaction failed")
