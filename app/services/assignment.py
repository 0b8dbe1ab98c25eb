"""Taking and distributing work: claim, unclaim, (bulk) assign.

Every change of a stage's assignee is one conditional UPDATE (``… WHERE assignee_id IS
<what I saw>``): two people claiming the same stage at the same moment never both win; the
second gets a Conflict (409) naming who was first.  Each change is audited as
``stage.assigned`` with ``from`` and ``to`` (logins, None for the queue).  Services flush,
the view commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import User, WorkItem
from ..permissions import DISTRIBUTE_TASKS, EXECUTE_TASKS, has, is_requesters_own
from . import audit, notify
from .queues import visible_condition

#: how many stages one "distribute" may change at once
MAX_BULK = 200


def _load(item_id: int) -> WorkItem:
    item = db.session.execute(select(WorkItem).options(joinedload(WorkItem.assignee))
                              .where(WorkItem.id == item_id)).scalar()
    if item is None:
        raise NotFound(_l("Task %(id)s does not exist.", id=item_id))
    return item


def _login(user: User | None) -> str | None:
    return user.login if user else None


def _set_assignee(item: WorkItem, expected_id: int | None, new: User | None) -> bool:
    """Compare-and-set the assignee; False if the stage changed since it was read."""
    result = db.session.execute(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.status == "open",
               WorkItem.assignee_id.is_(None) if expected_id is None else WorkItem.assignee_id == expected_id)
        .values(assignee_id=new.id if new else None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    # the row changed under the ORM's feet: make the loaded object say what the database says
    db.session.expire(item, ["assignee_id", "assignee"])
    return True


def _record(item: WorkItem, actor: User, old: User | None, new: User | None, how: str) -> None:
    audit.record(item.ticket, "stage.assigned", actor, element_id=item.element_id,
                 data={"work_item": item.id, "name": item.name, "from": _login(old), "to": _login(new),
                       "how": how})
    if new is not None and new.id != actor.id:
        notify.queue("stage.assigned", item.ticket, new, {
            "ticket_id": item.ticket_id, "number": item.ticket.number, "subject": item.ticket.subject,
            "work_item": item.id, "stage": item.name, "by": actor.login})


def _conflict(item_id: int) -> Conflict:
    """Why a compare-and-set lost: closed meanwhile, or taken by someone (who)."""
    db.session.expire_all()
    item = db.session.get(WorkItem, item_id)
    if item is None or item.status != "open":
        return Conflict(_l("This task was closed in the meantime; nothing changed."))
    if item.assignee is not None:
        return Conflict(_l("%(who)s has just taken this task; it is no longer in the queue.",
                           who=item.assignee.display_name), assignee=item.assignee.login)
    return Conflict(_l("This task went back to the queue in the meantime; reload and try again."))


def claim(actor: User, item_id: int) -> WorkItem:
    """Take an open, unassigned stage of one of my groups."""
    if not has(actor, EXECUTE_TASKS):
        raise Forbidden(_l("You may not execute tasks."))
    item = _load(item_id)
    if item.status != "open":
        raise Conflict(_l("This task is already closed."))
    if item.assignee_id == actor.id:
        return item  # already mine: taking it again changes nothing
    if item.group_id is not None and item.group_id not in {g.id for g in actor.groups}:
        raise Forbidden(_l("This task belongs to a group you are not in."))
    if item.assignee_id is not None:
        raise _conflict(item.id)
    if not _set_assignee(item, None, actor):
        raise _conflict(item.id)
    _record(item, actor, None, actor, "claim")
    return item


def unclaim(actor: User, item_id: int) -> WorkItem:
    """Give my own open stage back to its group's queue."""
    item = _load(item_id)
    if item.assignee_id != actor.id:
        raise Forbidden(_l("Only the person a task is assigned to can give it back."))
    if is_requesters_own(item):
        raise Forbidden(_l("This stage is the requester's own: it cannot go to a queue."))
    if item.status != "open":
        raise Conflict(_l("This task is already closed."))
    if not _set_assignee(item, actor.id, None):
        raise _conflict(item.id)
    _record(item, actor, actor, None, "unclaim")
    return item


def eligible_assignee(login: str) -> User | None:
    """An active user holding execute_tasks, or None."""
    user = db.session.execute(select(User).where(User.login == login)).scalar()
    return user if user is not None and has(user, EXECUTE_TASKS) else None


def staff_who_can_execute() -> list[User]:
    """The people work can be distributed to: active users whose roles hold execute_tasks."""
    from ..models import Role, user_roles

    role_ids = [r.id for r in db.session.execute(select(Role)).scalars() if EXECUTE_TASKS in (r.permissions or ())]
    if not role_ids:
        return []
    ids = select(user_roles.c.user_id).where(user_roles.c.role_id.in_(role_ids))
    return list(db.session.execute(select(User).where(User.active.is_(True), User.id.in_(ids))
                                   .order_by(User.name, User.login)).scalars())


@dataclass
class AssignResult:
    changed: list[WorkItem] = field(default_factory=list)
    unchanged: list[WorkItem] = field(default_factory=list)  # already had that assignee
    skipped: list[int] = field(default_factory=list)         # closed, changed meanwhile, or not yours to see
    assignee: User | None = None


def assign(actor: User, item_ids: list[int], assignee: str | None) -> AssignResult:
    """Distribute tasks: set the assignee of many open stages at once to ``assignee`` (a
    login), or back to the queue (``assignee=None``)."""
    if not has(actor, DISTRIBUTE_TASKS):
        raise Forbidden(_l("You may not distribute tasks."))
    errors: dict[str, list[str]] = {}
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        errors["item"] = [str(_l("Tick the tasks to distribute."))]
    elif len(ids) > MAX_BULK:
        errors["item"] = [str(_l("Distribute at most %(n)s tasks at once.", n=MAX_BULK))]
    new: User | None = None
    if assignee:
        new = eligible_assignee(assignee)
        if new is None:
            errors["assignee"] = [str(_l("%(login)s is not an active member of staff who may execute tasks.",
                                         login=assignee))]
    if errors:
        raise ValidationFailed(errors=errors)
    result = AssignResult(assignee=new)
    items = {item.id: item for item in db.session.execute(
        select(WorkItem).options(joinedload(WorkItem.assignee))
        .where(WorkItem.id.in_(ids), WorkItem.status == "open", visible_condition(actor))).scalars()}
    for item_id in ids:
        item = items.get(item_id)
        if item is None or is_requesters_own(item):  # the requester's own stages stay theirs
            result.skipped.append(item_id)
            continue
        old = item.assignee
        if (old.id if old else None) == (new.id if new else None):
            result.unchanged.append(item)
        elif _set_assignee(item, old.id if old else None, new):
            _record(item, actor, old, new, "assign")
            result.changed.append(item)
        else:
            result.skipped.append(item_id)
    return result
