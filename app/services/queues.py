"""The work queues staff see: the desk inbox's tabs, filters, sorting and keyset pages.

Tabs (each behind its permission, DESIGN §8): ``mine`` (assigned to me), ``group`` (open work
of my groups), ``undistributed`` (open and unassigned), ``subordinates`` (assigned to people I
manage, down the chain) and ``others`` (all open work).  Pages are keyset-paginated for every
sort (never OFFSET): the cursor carries the last row's sort key and id, so a page costs the
same at the start of a 100,000-item queue as deep inside it.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import and_, false, func, or_, select, true, tuple_
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.sql.elements import ColumnElement

from ..errors import BadRequest, Forbidden
from ..extensions import db
from ..i18n import _l
from ..models import Group, ProcessDefinition, Ticket, User, WorkItem
from ..models.base import utcnow
from ..permissions import (EXECUTE_TASKS, READ_TASKS, VIEW_OTHERS_TASKS, VIEW_UNDISTRIBUTED, has)
from .ids import MAX_ID, parse_id
from .templates import PRIORITIES

TABS = ("mine", "group", "undistributed", "subordinates", "others")
SORTS = ("newest", "oldest", "priority", "due")
STATES = ("new", "open", "in_progress", "waiting", "resolved", "closed", "cancelled")
SCOPES = ("mine", "group", "unassigned")  # the REST API's names (DESIGN §9)
PAGE_SIZE = 50
MAX_PAGE = 200
MAX_TEXT = 100


# --- who sees which tab ------------------------------------------------------------------

def subordinates_cte(actor: User):
    """Ids of everyone ``actor`` manages, directly or down the chain (UNION stops cycles)."""
    cte = select(User.id).where(User.manager_id == actor.id).cte("subordinates", recursive=True)
    return cte.union(select(User.id).where(User.manager_id == cte.c.id))


def manages_anyone(actor: User) -> bool:
    return db.session.execute(select(User.id).where(User.manager_id == actor.id).limit(1)).first() is not None


def _group_ids(actor: User) -> list[int]:
    return [g.id for g in actor.groups]


def tab_allowed(actor: User, tab: str, *, manager: bool | None = None) -> bool:
    if tab == "mine":
        return has(actor, EXECUTE_TASKS) or has(actor, READ_TASKS)
    if tab == "group":
        return has(actor, READ_TASKS)
    if tab == "undistributed":
        return has(actor, VIEW_UNDISTRIBUTED)
    if tab == "subordinates":
        return actor.is_active and (manages_anyone(actor) if manager is None else manager)
    if tab == "others":
        return has(actor, VIEW_OTHERS_TASKS)
    return False


def available_tabs(actor: User) -> list[str]:
    manager = manages_anyone(actor)
    return [tab for tab in TABS if tab_allowed(actor, tab, manager=manager)]


def tab_condition(actor: User, tab: str) -> ColumnElement[bool]:
    """The WHERE clause of a tab (without the permission check: see ``tab_allowed``)."""
    if tab == "mine":
        return WorkItem.assignee_id == actor.id
    if tab == "group":
        ids = _group_ids(actor)
        return WorkItem.group_id.in_(ids) if ids else false()
    if tab == "undistributed":
        return WorkItem.assignee_id.is_(None)
    if tab == "subordinates":
        return WorkItem.assignee_id.in_(select(subordinates_cte(actor).c.id))
    if tab == "others":
        return true()
    raise BadRequest(_l("Unknown tab %(tab)s; use one of: %(tabs)s.", tab=tab, tabs=", ".join(TABS)))


def visible_condition(actor: User) -> ColumnElement[bool]:
    """Work items ``actor`` may see on the desk: the union of the tabs they may open."""
    if has(actor, VIEW_OTHERS_TASKS):
        return true()
    conds = [WorkItem.assignee_id == actor.id]
    if has(actor, READ_TASKS):
        conds.append(tab_condition(actor, "group"))
    if has(actor, VIEW_UNDISTRIBUTED):
        conds.append(WorkItem.assignee_id.is_(None))
    conds.append(tab_condition(actor, "subordinates"))
    return or_(*conds)


# --- filters -----------------------------------------------------------------------------

def _clean(value: Any, limit: int = 255) -> str | None:
    text = (value or "").strip() if isinstance(value, str) else None
    return text[:limit] if text else None


@dataclass(frozen=True)
class InboxFilters:
    """The inbox's filters, as GET parameters (kept in every link of the page)."""

    process: str | None = None
    stage: str | None = None      # element id of the stage
    state: str | None = None      # stage state (DESIGN §5)
    priority: str | None = None
    group: int | None = None
    assignee: str | None = None   # login
    overdue: bool = False
    text: str | None = None       # ticket number or words of the subject

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> "InboxFilters":
        """Lenient: a value that cannot mean anything (a group that is not a number) is dropped."""
        group = _clean(args.get("group"), 12)
        return cls(process=_clean(args.get("process")), stage=_clean(args.get("stage")),
                   state=_clean(args.get("state"), 16), priority=_clean(args.get("priority"), 16),
                   group=parse_id(group),
                   assignee=_clean(args.get("assignee"), 128),
                   overdue=(args.get("overdue") or "") in ("1", "on", "true", "yes"),
                   text=_clean(args.get("text"), MAX_TEXT))

    def as_args(self) -> dict[str, str]:
        """The filters in effect as GET parameters (for links that keep them)."""
        out = {k: str(v) for k, v in asdict(self).items() if v not in (None, False, "")}
        if self.overdue:
            out["overdue"] = "1"
        return out

    @property
    def active(self) -> bool:
        return bool(self.as_args())

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.process:
            conds.append(Ticket.process_key == self.process)
        if self.stage:
            conds.append(WorkItem.element_id == self.stage)
        if self.state:
            conds.append(WorkItem.state == self.state)
        if self.priority:
            conds.append(Ticket.priority == self.priority)
        if self.group is not None:
            conds.append(WorkItem.group_id == self.group)
        if self.assignee:
            conds.append(WorkItem.assignee_id == select(User.id).where(User.login == self.assignee).scalar_subquery())
        if self.overdue:
            conds.append(WorkItem.due_at < now)
        if self.text:
            conds.append(_text_condition(self.text))
        return conds


def _text_condition(text: str) -> ColumnElement[bool]:
    """A ticket number (``INC-42`` or just ``42``) or words of the subject, any case."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    conds = [Ticket.number == text.upper(), Ticket.subject.ilike(f"%{escaped}%", escape="\\")]
    if parse_id(text) is not None:
        conds.append(Ticket.id == parse_id(text))
    return or_(*conds)


# --- sorting and keyset cursors ----------------------------------------------------------

def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> list[Any]:
    bad = BadRequest(_l("This page link is out of date; start again from the first page."))
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != CURSOR_LENGTHS.get(sort) or values[0] != sort:
        raise bad
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID
               for v in values[2 if sort in ("priority", "due") else 1:]):
        raise bad  # ids only: a forged huge number must not reach the database
    if sort == "due" and values[1] is not None:
        try:
            values[1] = datetime.fromisoformat(values[1]).astimezone(timezone.utc)
        except (TypeError, ValueError):
            raise bad from None
    elif sort == "priority" and values[1] is not None and not isinstance(values[1], str):
        raise bad
    return values


def _nullable_after(column, value, rest: ColumnElement[bool]) -> ColumnElement[bool]:
    """Rows after (value, rest…) in ``column ASC NULLS LAST, rest… ASC`` order."""
    if value is None:
        return and_(column.is_(None), rest)
    return or_(column > value, and_(column == value, rest), column.is_(None))


#: sort → ORDER BY; every order ends with the work item's id, so equal keys page stably
ORDERS = {
    # ids come from one sequence: the order in which stages arrived in the database
    "newest": lambda: [WorkItem.id.desc()],
    "oldest": lambda: [WorkItem.id.asc()],
    # the ticket's id before the stage's: PostgreSQL walks tickets' (priority, id) index and
    # stops after one page instead of sorting the whole queue
    "priority": lambda: [Ticket.priority.asc().nulls_last(), WorkItem.ticket_id.asc(), WorkItem.id.asc()],
    "due": lambda: [WorkItem.due_at.asc().nulls_last(), WorkItem.id.asc()],
}
CURSOR_LENGTHS = {"newest": 2, "oldest": 2, "priority": 4, "due": 3}


def _after(sort: str, values: list[Any]) -> ColumnElement[bool]:
    if sort == "newest":
        return WorkItem.id < values[1]
    if sort == "oldest":
        return WorkItem.id > values[1]
    if sort == "priority":
        return _nullable_after(Ticket.priority, values[1],
                               tuple_(WorkItem.ticket_id, WorkItem.id) > tuple_(values[2], values[3]))
    return _nullable_after(WorkItem.due_at, values[1], WorkItem.id > values[2])


def _cursor_of(sort: str, item: WorkItem) -> str:
    if sort in ("newest", "oldest"):
        return _encode([sort, item.id])
    if sort == "priority":
        return _encode([sort, item.ticket.priority, item.ticket_id, item.id])
    return _encode([sort, item.due_at.isoformat() if item.due_at else None, item.id])


# --- the page ----------------------------------------------------------------------------

@dataclass
class InboxPage:
    tab: str
    sort: str
    filters: InboxFilters
    items: list[WorkItem] = field(default_factory=list)
    next_cursor: str | None = None
    first: bool = True  # no cursor was given


def check_tab(actor: User, tab: str) -> None:
    if tab not in TABS:
        raise BadRequest(_l("Unknown tab %(tab)s; use one of: %(tabs)s.", tab=tab, tabs=", ".join(TABS)))
    if not tab_allowed(actor, tab):
        raise Forbidden(_l("You may not see this queue."))


def inbox_page(actor: User, tab: str = "mine", filters: InboxFilters | None = None, *, sort: str = "newest",
               cursor: str | None = None, limit: int = PAGE_SIZE, now: datetime | None = None) -> InboxPage:
    """One page of a tab: the work items with their ticket, requester, group and assignee
    loaded in the same statement (the page costs the same number of queries for any size)."""
    check_tab(actor, tab)
    if sort not in SORTS:
        raise BadRequest(_l("Unknown sort %(sort)s; use one of: %(sorts)s.", sort=sort, sorts=", ".join(SORTS)))
    filters = filters or InboxFilters()
    limit = max(1, min(limit, MAX_PAGE))
    query = (select(WorkItem).join(WorkItem.ticket)
             .options(contains_eager(WorkItem.ticket).joinedload(Ticket.requester),
                      joinedload(WorkItem.assignee), joinedload(WorkItem.group))
             .where(WorkItem.status == "open", tab_condition(actor, tab), *filters.conditions(now or utcnow())))
    if cursor:
        query = query.where(_after(sort, _decode(cursor, sort)))
    rows = list(db.session.execute(query.order_by(*ORDERS[sort]()).limit(limit + 1)).unique().scalars())
    next_cursor = _cursor_of(sort, rows[limit - 1]) if len(rows) > limit else None
    return InboxPage(tab=tab, sort=sort, filters=filters, items=rows[:limit], next_cursor=next_cursor,
                     first=not cursor)


# --- new work for me: the nav counter and the "next task" shortcut ------------------------

def _new_work_condition(actor: User) -> ColumnElement[bool]:
    """Assigned to me, or waiting unassigned in one of my groups (if I may take it)."""
    cond = WorkItem.assignee_id == actor.id
    ids = _group_ids(actor)
    if ids and has(actor, EXECUTE_TASKS):
        cond = or_(cond, and_(WorkItem.assignee_id.is_(None), WorkItem.group_id.in_(ids)))
    return cond


def count_new_work(actor: User) -> int:
    """Two disjoint counts rather than one with OR: each is an index-only scan."""
    def count(cond) -> int:
        return db.session.execute(select(func.count()).select_from(WorkItem).where(
            WorkItem.status == "open", cond)).scalar_one()

    total = count(WorkItem.assignee_id == actor.id)
    ids = _group_ids(actor)
    if ids and has(actor, EXECUTE_TASKS):
        total += count(and_(WorkItem.group_id.in_(ids), WorkItem.assignee_id.is_(None)))
    return total


def next_task(actor: User, now: datetime | None = None) -> WorkItem | None:
    """My most urgent open task: overdue and soonest due first, then by priority, then the
    oldest; my own tasks before the unassigned work of my groups."""
    order = [WorkItem.due_at.asc().nulls_last(), Ticket.priority.asc().nulls_last(), WorkItem.id.asc()]
    for cond in (WorkItem.assignee_id == actor.id, and_(_new_work_condition(actor), WorkItem.assignee_id.is_(None))):
        item = db.session.execute(select(WorkItem).join(WorkItem.ticket).options(contains_eager(WorkItem.ticket))
                                  .where(WorkItem.status == "open", cond).order_by(*order).limit(1)).scalar()
        if item is not None:
            return item
    return None


# --- what the filters offer --------------------------------------------------------------

@dataclass
class FilterChoices:
    processes: list[tuple[str, str]]
    stages: list[tuple[str, str]]
    states: tuple[str, ...]
    priorities: tuple[str, ...]
    groups: list[tuple[int, str]]


def filter_choices() -> FilterChoices:
    """Processes and their stages from the deployed diagrams (a few rows, never the queue)."""
    processes: dict[str, str] = {}
    stages: dict[str, str] = {}
    rows = db.session.execute(select(ProcessDefinition.key, ProcessDefinition.name, ProcessDefinition.stages)
                              .where(ProcessDefinition.active.is_(True))
                              .order_by(ProcessDefinition.key, ProcessDefinition.version.desc()))
    for key, name, defined in rows:
        processes.setdefault(key, name or key)
        for stage in defined or ():
            if isinstance(stage, dict) and stage.get("element_id"):
                stages.setdefault(stage["element_id"], stage.get("name") or stage["element_id"])
    groups = [(g.id, g.name) for g in db.session.execute(select(Group).order_by(Group.name)).scalars()]
    return FilterChoices(processes=sorted(processes.items(), key=lambda kv: kv[1].lower()),
                         stages=sorted(stages.items(), key=lambda kv: kv[1].lower()),
                         states=STATES, priorities=PRIORITIES, groups=groups)


# --- the REST API's view of the queues (GET /api/v1/tasks) -------------------------------

def list_tasks(actor: User, scope: str = "mine", *, after: int | None = None,
               limit: int = 50) -> tuple[list[WorkItem], int | None]:
    """Open work items in ``scope``, newest first, keyset-paginated by id."""
    limit = max(1, min(limit, MAX_PAGE))
    if scope == "mine":
        cond = tab_condition(actor, "mine")
    elif scope == "group":
        if not has(actor, READ_TASKS):
            raise Forbidden(_l("You may not see group queues."))
        cond = tab_condition(actor, "group")
    elif scope == "unassigned":
        if not has(actor, VIEW_UNDISTRIBUTED):
            raise Forbidden(_l("You may not see undistributed tasks."))
        cond = tab_condition(actor, "undistributed")
    else:
        raise BadRequest(_l("Unknown scope %(scope)s; use one of: %(scopes)s.", scope=scope,
                            scopes=", ".join(SCOPES)))
    query = select(WorkItem).where(WorkItem.status == "open", cond)
    if after is not None:
        query = query.where(WorkItem.id < after)
    rows = list(db.session.execute(query.order_by(WorkItem.id.desc()).limit(limit + 1)).scalars())
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor
