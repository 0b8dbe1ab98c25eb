"""Side effects after the commit (DESIGN §3 step 4, §11).

Services register callables with ``on_commit``; they run once the surrounding transaction
has committed, and are dropped if it rolls back.  A failing callable is logged, never
raised: whatever it was meant to do is picked up again by the sweeper.
"""
from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db

log = logging.getLogger(__name__)
_KEY = "stagedesk_after_commit"
#: per-transaction memos services keep in ``session.info`` (dropped at commit and rollback)
TRANSACTION_MEMOS = ("stagedesk_lane_groups",)


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
