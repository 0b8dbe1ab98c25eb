"""Permissions (DESIGN §8) and the ``can_<verb>`` helpers every view and endpoint uses.

Deny by default: a view states which helper guards it; there are no exempt lists.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import exists, select

from .extensions import db
from .i18n import _l

if TYPE_CHECKING:  # pragma: no cover
    from .models import Ticket, User, WorkItem

EXECUTE_TASKS = "execute_tasks"
ADD_TASKS = "add_tasks"
MANAGE_SPRINTS = "manage_sprints"
EVALUATE_EMAIL_TASKS = "evaluate_email_tasks"
VIEW_UNDISTRIBUTED = "view_undistributed"
VIEW_REPORTS = "view_reports"
VIEW_OTHERS_TASKS = "view_others_tasks"
DISTRIBUTE_TASKS = "distribute_tasks"
MANAGE_PROCESSES = "manage_processes"
READ_TASKS = "read_tasks"
#: beyond the ten of the original spec: users, groups, roles and managers (the admin page)
MANAGE_USERS = "manage_users"

PERMISSIONS = {
    EXECUTE_TASKS: _l("Execute tasks"),
    ADD_TASKS: _l("Add tasks"),
    MANAGE_SPRINTS: _l("Add and change sprints"),
    EVALUATE_EMAIL_TASKS: _l("Evaluate tasks from e-mails"),
    VIEW_UNDISTRIBUTED: _l("View undistributed tasks"),
    VIEW_REPORTS: _l("View reports"),
    VIEW_OTHERS_TASKS: _l("View others' tasks"),
    DISTRIBUTE_TASKS: _l("Distribute tasks"),
    MANAGE_PROCESSES: _l("Manage processes and stages"),
    READ_TASKS: _l("Read tasks"),
    MANAGE_USERS: _l("Manage users, groups and roles"),
}

BUILTIN_ROLES: dict[str, tuple[str, ...]] = {
    "admin": tuple(PERMISSIONS),
    "requester": (ADD_TASKS,),
    "operator": (EXECUTE_TASKS, ADD_TASKS, READ_TASKS, VIEW_UNDISTRIBUTED, DISTRIBUTE_TASKS,
                 EVALUATE_EMAIL_TASKS),
    "engineer": (EXECUTE_TASKS, ADD_TASKS, READ_TASKS, VIEW_UNDISTRIBUTED),
    "supervisor": (EXECUTE_TASKS, ADD_TASKS, READ_TASKS, VIEW_UNDISTRIBUTED, VIEW_OTHERS_TASKS,
                   DISTRIBUTE_TASKS, VIEW_REPORTS, MANAGE_SPRINTS),
    "process_admin": (MANAGE_PROCESSES, READ_TASKS, VIEW_REPORTS),
}


def has(user: "User | None", permission: str) -> bool:
    return user is not None and user.is_active and permission in user.permissions


def _is_manager_of(user: "User", other_id: int | None) -> bool:
    """True if ``user`` manages ``other_id`` directly or through the chain of managers."""
    from .models import User

    seen: set[int] = set()
    current = other_id
    while current is not None and current not in seen:
        seen.add(current)
        manager_id = db.session.execute(select(User.manager_id).where(User.id == current)).scalar()
        if manager_id == user.id:
            return True
        current = manager_id
    return False


def can_read_ticket(user: "User | None", ticket: "Ticket") -> bool:
    from .models import Watcher, WorkItem

    if user is None or not user.is_active:
        return False
    if ticket.requester_id == user.id or ticket.created_by_id == user.id:
        return True
    if has(user, VIEW_OTHERS_TASKS):
        return True
    if db.session.execute(select(exists().where(
            Watcher.ticket_id == ticket.id, Watcher.user_id == user.id))).scalar():
        return True
    if has(user, READ_TASKS):
        group_ids = [g.id for g in user.groups]
        cond = WorkItem.assignee_id == user.id
        if group_ids:
            cond = cond | WorkItem.group_id.in_(group_ids)
        if has(user, VIEW_UNDISTRIBUTED):
            cond = cond | ((WorkItem.assignee_id.is_(None)) & (WorkItem.status == "open"))
        if db.session.execute(select(exists().where(WorkItem.ticket_id == ticket.id, cond))).scalar():
            return True
    return _is_manager_of(user, ticket.requester_id) or any(
        _is_manager_of(user, a) for a in db.session.execute(
            select(WorkItem.assignee_id).where(WorkItem.ticket_id == ticket.id,
                                               WorkItem.assignee_id.is_not(None)).distinct()).scalars())


def is_requesters_own(item: "WorkItem") -> bool:
    """A stage the diagram gives to the ticket's requester (confirm, rate): theirs alone."""
    ticket = item.ticket
    return item.assignee_id is not None and ticket is not None and item.assignee_id == ticket.requester_id


def can_execute(user: "User | None", item: "WorkItem") -> bool:
    """May ``user`` complete this stage?  Its assignee may; otherwise staff of its group, and
    supervisors who distribute work — but never a stage that is the requester's own."""
    if user is None or not user.is_active:
        return False
    if item.assignee_id == user.id:
        return True
    if is_requesters_own(item):
        return False  # nobody confirms or rates on the requester's behalf
    if item.assignee_id is None and has(user, EXECUTE_TASKS):
        if item.group_id is None or item.group_id in {g.id for g in user.groups}:
            return True
    return has(user, EXECUTE_TASKS) and has(user, DISTRIBUTE_TASKS) and has(user, VIEW_OTHERS_TASKS)


def can_view_item(user: "User | None", item: "WorkItem") -> bool:
    return can_execute(user, item) or (user is not None and can_read_ticket(user, item.ticket))


def can_create_ticket(user: "User | None") -> bool:
    return has(user, ADD_TASKS)


def can_manage_processes(user: "User | None") -> bool:
    return has(user, MANAGE_PROCESSES)


def can_view_instances(user: "User | None") -> bool:
    return has(user, VIEW_OTHERS_TASKS) or has(user, MANAGE_PROCESSES) or has(user, VIEW_REPORTS)


def can_message_ticket(user: "User | None", ticket: "Ticket", internal: bool) -> bool:
    if not can_read_ticket(user, ticket):
        return False
    if internal:
        return has(user, READ_TASKS)
    return True
