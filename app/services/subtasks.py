"""Child subtasks (issue 3, point 6): split a ticket into child tickets, each running
``subtask.bpmn`` (or another deployed process) with its own instance, linked by
``Ticket.parent_id``.

Who may be given a child (``assignable_people``):

- everyone the actor manages, directly or down the chain of managers, who is active and
  holds ``execute_tasks`` (so that they can work the stage on the desk);
- with ``distribute_tasks`` (supervisors, admins): anyone active with ``execute_tasks``.

The parent cannot close while a child is open (neither closed nor cancelled): see
``refuse_if_parent_would_close``, called by ``services.tickets.complete_stage``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..errors import Conflict, Forbidden, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import Role, Ticket, User, WorkItem, user_roles
from ..permissions import ADD_TASKS, DISTRIBUTE_TASKS, EXECUTE_TASKS, READ_TASKS, has
from . import audit
from .user_admin import subordinate_ids

DEFAULT_PROCESS = "subtask"
MAX_CHILDREN_PER_REQUEST = 20
#: stage states that mean "the ticket is resolved or done" (DESIGN §5)
FINISHING_STATES = ("resolved", "closed")


def _executor_ids() -> set[int]:
    """Active users holding ``execute_tasks`` through any role (two small queries)."""
    role_ids = [rid for rid, perms in db.session.execute(select(Role.id, Role.permissions)).all()
                if EXECUTE_TASKS in (perms or ())]
    if not role_ids:
        return set()
    return set(db.session.execute(select(user_roles.c.user_id).join(User, User.id == user_roles.c.user_id)
                                  .where(user_roles.c.role_id.in_(role_ids), User.active.is_(True))).scalars())


def assignable_people(actor: User) -> list[User]:
    """Whom ``actor`` may give a child ticket (see the module docstring)."""
    if actor is None or not actor.is_active:
        return []
    candidates = _executor_ids()
    if not has(actor, DISTRIBUTE_TASKS):
        candidates &= subordinate_ids(actor)
    if not candidates:
        return []
    return list(db.session.execute(select(User).where(User.id.in_(candidates)).order_by(User.name, User.login)).scalars())


def child_processes() -> list[str]:
    """Process keys a child may run, ``subtask`` first: the deployed processes except those
    only ever called by others (``approval``, ``escalation``: they expect their caller's data)."""
    from ..models import ProcessDefinition

    rows = db.session.execute(select(ProcessDefinition.key, ProcessDefinition.calls)
                              .where(ProcessDefinition.active.is_(True))).all()
    called = {c for _key, calls in rows for c in (calls or ())}
    keys = {key for key, _calls in rows if key not in called or key == DEFAULT_PROCESS}
    return sorted(keys, key=lambda k: (k != DEFAULT_PROCESS, k))


def create_children(actor: User, parent: Ticket, specs: Iterable[dict[str, Any]], *,
                    review_required: bool = False) -> list[Ticket]:
    """Create one child ticket per spec ``{subject, description, assignee (login), process}``.

    Each child starts with the data ``subtask.bpmn`` reads (``assignee``, ``owner`` = the
    actor, ``review_required``) plus ``parent_number``; its requester is the actor (the
    person who asked for the work), so the parent's requester is not disturbed."""
    from .tickets import create_ticket, get_ticket

    parent = get_ticket(actor, parent.id)  # 404 / 403 on the parent first
    if not (has(actor, READ_TASKS) and has(actor, ADD_TASKS)):
        raise Forbidden(_l("You may not split tickets into subtasks."))
    if parent.closed:
        raise Conflict(_l("%(number)s is closed: it cannot get new subtasks.", number=parent.number))
    specs = list(specs)
    if not specs:
        raise ValidationFailed(errors={"subject": [str(_l("Describe at least one subtask."))]})
    if len(specs) > MAX_CHILDREN_PER_REQUEST:
        raise ValidationFailed(errors={"subject": [str(_l(
            "At most %(n)s subtasks at a time.", n=MAX_CHILDREN_PER_REQUEST))]})
    allowed = {u.login: u for u in assignable_people(actor)}
    processes = set(child_processes())
    errors: dict[str, list[str]] = {}
    for spec in specs:
        login = (spec.get("assignee") or "").strip()
        process = (spec.get("process") or DEFAULT_PROCESS).strip()
        if not (spec.get("subject") or "").strip():
            errors.setdefault("subject", []).append(str(_l("Write what the subtask is about.")))
        if login not in allowed:
            errors.setdefault("assignee", []).append(str(_l(
                "%(login)s is not among the people you may give work to (the people you manage).",
                login=login or "?")))
        if process not in processes:
            errors.setdefault("process", []).append(str(_l("No process %(key)s is deployed.", key=process)))
    if errors:
        raise ValidationFailed(errors=errors)

    children = []
    for spec in specs:
        login = spec["assignee"].strip()
        child = create_ticket(
            actor, process=(spec.get("process") or DEFAULT_PROCESS).strip(), subject=spec["subject"],
            description=spec.get("description") or "", priority=parent.priority, channel=parent.channel,
            category=parent.category, service=parent.service,
            data={"parent_number": parent.number, "assignee": login, "owner": actor.login,
                  "review_required": bool(review_required)})
        child.parent_id = parent.id
        audit.record(child, "subtask.linked", actor, data={"parent": parent.number, "assignee": login})
        audit.record(parent, "subtask.created", actor, data={"child": child.number, "assignee": login,
                                                             "subject": child.subject})
        children.append(child)
    db.session.flush()
    return children


@dataclass
class ChildRow:
    ticket: Ticket
    stage: WorkItem | None  # the newest open stage (None when finished)

    @property
    def is_open(self) -> bool:
        return _is_open(self.ticket)


@dataclass
class Children:
    rows: list[ChildRow]

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def done(self) -> int:
        """Children no longer open (finished or cancelled)."""
        return sum(1 for r in self.rows if not r.is_open)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def _is_open(ticket: Ticket) -> bool:
    return not ticket.closed and ticket.status != "cancelled"


def children(parent: Ticket) -> Children:
    """The parent's children with their current stage and its assignee, in three queries."""
    kids = list(db.session.execute(select(Ticket).where(Ticket.parent_id == parent.id).order_by(Ticket.id)).scalars())
    current: dict[int, WorkItem] = {}
    open_ids = [k.id for k in kids if _is_open(k)]
    if open_ids:
        for item in db.session.execute(select(WorkItem).where(
                WorkItem.ticket_id.in_(open_ids), WorkItem.status == "open")
                .options(selectinload(WorkItem.assignee)).order_by(WorkItem.id)).scalars():
            current[item.ticket_id] = item
    return Children([ChildRow(k, current.get(k.id)) for k in kids])


def open_children(parent: Ticket) -> list[Ticket]:
    return list(db.session.execute(select(Ticket).where(
        Ticket.parent_id == parent.id, Ticket.closed.is_(False), Ticket.status != "cancelled")
        .order_by(Ticket.id)).scalars())


def may_close(parent: Ticket) -> bool:
    return not open_children(parent)


def refuse_if_parent_would_close(ticket: Ticket) -> None:
    """Called by ``complete_stage`` after the engine ran the step (nothing committed yet).

    The rule: while a child is open, a completion must not bring the parent to a resolved
    or closed state, nor finish its instance. Checking the step's outcome (rather than the
    stage being completed) is exact for any diagram: in the incident, the engineer cannot
    send the resolution (the confirmation stage, state ``resolved``, would open), while the
    requester may still reopen and the engineer may keep working. The caller rolls back."""
    if not (ticket.closed or ticket.status in FINISHING_STATES):
        return
    blocking = open_children(ticket)
    if blocking:
        raise Conflict(_l(
            "%(number)s cannot be resolved or closed while its subtasks are open: %(children)s. "
            "Finish or cancel them first.", number=ticket.number,
            children=", ".join(f"{c.number} ({c.subject})" for c in blocking)),
            open_children=[c.number for c in blocking])


def cancel_child(actor: User, parent: Ticket, child_id: int, *, reason: str = "") -> Ticket:
    """Cancel an open child: its open stages close as cancelled and it no longer holds the
    parent open. Allowed to whoever created it (the parent's owner) and to people with
    ``distribute_tasks``."""
    from .steps import run_step

    child = db.session.get(Ticket, child_id)
    if child is None or child.parent_id != parent.id:
        from ..errors import NotFound

        raise NotFound(_l("This ticket is not a subtask of %(number)s.", number=parent.number))
    if not (child.created_by_id == actor.id or has(actor, DISTRIBUTE_TASKS)):
        raise Forbidden(_l("Only the person who created a subtask, or a supervisor, may cancel it."))
    if not _is_open(child):
        raise Conflict(_l("%(number)s is finished already.", number=child.number))
    instance = child.instance
    audit.record(child, "subtask.cancelled", actor, data={"parent": parent.number, "reason": reason[:1000]})
    audit.record(parent, "subtask.cancelled", actor, data={"child": child.number, "reason": reason[:1000]})
    run_step(child, instance, actor, lambda r, p, s: r.cancel(p, s), cause="cancel")
    db.session.flush()
    return child
