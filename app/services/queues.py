"""The work queues staff see: my tasks, my groups' queue, undistributed work."""
from __future__ import annotations

from sqlalchemy import select

from ..errors import BadRequest, Forbidden
from ..extensions import db
from ..i18n import _l
from ..models import User, WorkItem
from ..permissions import READ_TASKS, VIEW_UNDISTRIBUTED, has

SCOPES = ("mine", "group", "unassigned")
MAX_PAGE = 200


def list_tasks(actor: User, scope: str = "mine", *, after: int | None = None,
               limit: int = 50) -> tuple[list[WorkItem], int | None]:
    """Open work items in ``scope``, newest first, keyset-paginated by id."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(WorkItem).where(WorkItem.status == "open")
    if scope == "mine":
        query = query.where(WorkItem.assignee_id == actor.id)
    elif scope == "group":
        if not has(actor, READ_TASKS):
            raise Forbidden(_l("You may not see group queues."))
        group_ids = [g.id for g in actor.groups]
        query = query.where(WorkItem.group_id.in_(group_ids or [-1]))
    elif scope == "unassigned":
        if not has(actor, VIEW_UNDISTRIBUTED):
            raise Forbidden(_l("You may not see undistributed tasks."))
        query = query.where(WorkItem.assignee_id.is_(None))
    else:
        raise BadRequest(_l("Unknown scope %(scope)s; use one of: %(scopes)s.", scope=scope,
                            scopes=", ".join(SCOPES)))
    if after is not None:
        query = query.where(WorkItem.id < after)
    rows = list(db.session.execute(query.order_by(WorkItem.id.desc()).limit(limit + 1)).scalars())
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor
