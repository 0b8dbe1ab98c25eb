"""Watchers of a ticket beyond adding one (``tickets.add_watcher``): the list, removing a
watcher, and finding people to add."""
from __future__ import annotations

from sqlalchemy import or_, select

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..i18n import _l
from ..models import Ticket, User, Watcher
from ..permissions import EXECUTE_TASKS, READ_TASKS, has
from . import audit
from .tickets import get_ticket
from .search import like_escape

SEARCH_LIMIT = 20


def list_watchers(ticket: Ticket) -> list[User]:
    """The people watching ``ticket``, by name."""
    users = db.session.execute(select(User).join(Watcher, Watcher.user_id == User.id)
                               .where(Watcher.ticket_id == ticket.id)).scalars()
    return sorted(users, key=lambda u: (u.display_name.casefold(), u.login))


def can_remove_watcher(actor: User | None, ticket: Ticket, user_id: int) -> bool:
    """Whoever may read the ticket may stop watching it; its requester and staff may remove
    anyone (they add watchers too)."""
    if actor is None or not actor.is_active:
        return False
    return (actor.id == user_id or ticket.requester_id == actor.id
            or has(actor, READ_TASKS) or has(actor, EXECUTE_TASKS))


def remove_watcher(actor: User, ticket_id: int, user_id: int) -> None:
    """Stop ``user_id`` watching the ticket (audited); the caller commits."""
    ticket = get_ticket(actor, ticket_id)
    watcher = db.session.get(Watcher, (ticket.id, user_id))
    if watcher is None:
        raise NotFound(_l("This person does not watch the ticket."))
    if not can_remove_watcher(actor, ticket, user_id):
        raise Forbidden(_l("You may not remove other people's watching."))
    login = watcher.user.login if watcher.user else str(user_id)
    ticket.watchers.remove(watcher)  # delete-orphan: the row goes
    audit.record(ticket, "watcher.removed", actor, data={"login": login})
    db.session.flush()


def find_people(query: str, *, limit: int = SEARCH_LIMIT) -> list[User]:
    """Active users whose login or e-mail starts with ``query`` or whose name contains it."""
    text = " ".join((query or "").split())[:100]
    if not text:
        return []
    limit = max(1, min(limit, SEARCH_LIMIT))
    escaped = like_escape(text)
    condition = or_(User.login.ilike(f"{escaped}%", escape="\\"), User.email.ilike(f"{escaped}%", escape="\\"),
                    User.name.ilike(f"%{escaped}%", escape="\\"))
    return list(db.session.execute(select(User).where(User.active.is_(True), condition)
                                   .order_by(User.login).limit(limit)).scalars())
