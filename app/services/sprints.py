"""Sprints (issue 3, point 7): time boxes with a goal and a capacity in hours; tickets join
a sprint with an effort estimate; the board groups them by their current stage.

Who: changing sprints and their tickets needs ``manage_sprints``; viewing the list and the
boards needs ``manage_sprints`` or ``read_tasks`` (a board is the team's shared view: it
shows every card of the sprint; opening a card is checked by the ticket page).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import Sprint, Ticket, User, WorkItem
from ..permissions import MANAGE_SPRINTS, READ_TASKS, can_read_ticket, has
from .ids import parse_id
from . import audit

MAX_HOURS = 100_000
DONE_KEY = "done"


def _check_view(actor: User) -> None:
    if not (has(actor, MANAGE_SPRINTS) or has(actor, READ_TASKS)):
        raise Forbidden(_l("You may not see sprints."))


def _check_manage(actor: User) -> None:
    if not has(actor, MANAGE_SPRINTS):
        raise Forbidden(_l("You may not add or change sprints."))


@dataclass
class SprintRow:
    sprint: Sprint
    tickets: int
    estimate: int

    @property
    def percent(self) -> int:
        return percent_of(self.estimate, self.sprint.capacity)


def percent_of(part: int, whole: int) -> int:
    if whole <= 0:
        return 100 if part > 0 else 0
    return round(100 * part / whole)


def list_sprints(actor: User) -> list[SprintRow]:
    """All sprints, the newest first, with their ticket counts and estimate totals (two queries)."""
    _check_view(actor)
    sprints = list(db.session.execute(select(Sprint).order_by(Sprint.starts_on.desc(), Sprint.id.desc())).scalars())
    totals = {row[0]: (row[1], row[2] or 0) for row in db.session.execute(
        select(Ticket.sprint_id, func.count(), func.sum(Ticket.estimate))
        .where(Ticket.sprint_id.is_not(None)).group_by(Ticket.sprint_id)).all()}
    return [SprintRow(s, *totals.get(s.id, (0, 0))) for s in sprints]


def get_sprint(actor: User, sprint_id: int) -> Sprint:
    _check_view(actor)
    sprint = db.session.get(Sprint, sprint_id)
    if sprint is None:
        raise NotFound(_l("Sprint %(id)s does not exist.", id=sprint_id))
    return sprint


def _hours(value, field_name: str, errors: dict, *, required: bool) -> int | None:
    """A whole number of hours, 0…MAX_HOURS, from a form string or a number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[field_name] = [str(_l("Write a number of hours (0 or more)."))]
        return None
    try:
        hours = int(str(value).strip())
    except ValueError:
        errors[field_name] = [str(_l("Write a whole number of hours, such as 40."))]
        return None
    if hours < 0 or hours > MAX_HOURS:
        errors[field_name] = [str(_l("Write a number of hours from 0 to %(max)s.", max=MAX_HOURS))]
        return None
    return hours


def _date(value, field_name: str, errors: dict) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors[field_name] = [str(_l("Write a date such as 2025-03-31."))]
        return None


def save_sprint(actor: User, sprint: Sprint | None, *, name: str, starts_on, ends_on, goal: str = "",
                capacity=0) -> Sprint:
    """Create (``sprint`` None) or edit a sprint; every problem at once, by field."""
    _check_manage(actor)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 255:
        errors["name"] = [str(_l("Write a name of 1–255 characters."))]
    start = _date(starts_on, "starts_on", errors)
    end = _date(ends_on, "ends_on", errors)
    if start and end and start > end:
        errors["ends_on"] = [str(_l("The sprint cannot end before it starts."))]
    hours = _hours(capacity, "capacity", errors, required=True)
    if errors:
        raise ValidationFailed(errors=errors)
    created = sprint is None
    if created:
        sprint = Sprint(created_by_id=actor.id)
        db.session.add(sprint)
    sprint.name = name
    sprint.starts_on = start
    sprint.ends_on = end
    sprint.goal = (goal or "").strip()
    sprint.capacity = hours
    db.session.flush()
    audit.record(None, "sprint.created" if created else "sprint.updated", actor,
                 data={"sprint": sprint.id, "name": name, "starts_on": start.isoformat(),
                       "ends_on": end.isoformat(), "capacity": hours})
    return sprint


def find_ticket(reference: str) -> Ticket | None:
    """A ticket by its number (``INC-12``, case-insensitive) or its id."""
    text = (reference or "").strip()
    if not text:
        return None
    if parse_id(text) is not None:
        return db.session.get(Ticket, parse_id(text))
    return db.session.execute(select(Ticket).where(func.upper(Ticket.number) == text.upper())).scalar()


def add_ticket(actor: User, sprint: Sprint, reference: str, estimate) -> Ticket:
    """Put a ticket (by number or id) in ``sprint`` with an effort estimate in hours; a ticket
    already in another sprint moves. Audited on the ticket (``sprint.changed``)."""
    _check_manage(actor)
    errors: dict[str, list[str]] = {}
    hours = _hours(estimate, "estimate", errors, required=True)
    ticket = find_ticket(reference)
    if ticket is None or not can_read_ticket(actor, ticket):
        errors["ticket"] = [str(_l("There is no ticket %(ref)s that you may see.", ref=(reference or "").strip() or "?"))]
    if errors:
        raise ValidationFailed(errors=errors)
    _move(actor, ticket, sprint, hours)
    return ticket


def remove_ticket(actor: User, sprint: Sprint, ticket_id: int) -> Ticket:
    _check_manage(actor)
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.sprint_id != sprint.id:
        raise NotFound(_l("This ticket is not in the sprint."))
    _move(actor, ticket, None, ticket.estimate)
    return ticket


def _move(actor: User, ticket: Ticket, sprint: Sprint | None, estimate: int | None) -> None:
    old_sprint = ticket.sprint
    old = {"sprint": old_sprint.name if old_sprint else None, "estimate": ticket.estimate}
    new = {"sprint": sprint.name if sprint else None, "estimate": estimate}
    if old == new and (old_sprint.id if old_sprint else None) == (sprint.id if sprint else None):
        raise Conflict(_l("%(number)s is in this sprint already with this estimate.", number=ticket.number))
    ticket.sprint_id = sprint.id if sprint else None
    ticket.sprint = sprint
    ticket.estimate = estimate
    changes = {k: [old[k], new[k]] for k in old if old[k] != new[k]}
    audit.record(ticket, "sprint.changed", actor,
                 data={"changes": changes, "sprint_id": [old_sprint.id if old_sprint else None,
                                                          sprint.id if sprint else None]})
    db.session.flush()


# --- the board ---------------------------------------------------------------------------

@dataclass
class Card:
    ticket: Ticket
    stage: WorkItem | None  # the newest open stage; None when closed (or not started)


@dataclass
class Column:
    key: str
    title: str
    stage: WorkItem | None  # a sample stage, for the column's paint
    cards: list[Card] = field(default_factory=list)

    @property
    def estimate(self) -> int:
        return sum(c.ticket.estimate or 0 for c in self.cards)


@dataclass
class Board:
    sprint: Sprint
    columns: list[Column]

    @property
    def estimate(self) -> int:
        return sum(c.estimate for c in self.columns)

    @property
    def percent(self) -> int:
        return percent_of(self.estimate, self.sprint.capacity)

    @property
    def over_capacity(self) -> bool:
        return self.estimate > self.sprint.capacity

    @property
    def done_estimate(self) -> int:
        return sum(c.estimate for c in self.columns if c.key == DONE_KEY)


#: the order of columns on the board by the state of their stage; "Done" is last
STATE_ORDER = {"new": 0, "open": 1, "in_progress": 2, "waiting": 3, "resolved": 4, "closed": 5}


def board(actor: User, sprint: Sprint) -> Board:
    """The sprint's tickets by their current stage, in two queries (tickets; open stages)."""
    _check_view(actor)
    tickets = list(db.session.execute(select(Ticket).where(Ticket.sprint_id == sprint.id)
                                      .order_by(Ticket.id)).scalars())
    current: dict[int, WorkItem] = {}
    if tickets:
        open_ids = [t.id for t in tickets if not t.closed]
        if open_ids:
            for item in db.session.execute(select(WorkItem).where(
                    WorkItem.ticket_id.in_(open_ids), WorkItem.status == "open").order_by(WorkItem.id)).scalars():
                current[item.ticket_id] = item  # the newest open stage wins
    columns: dict[str, Column] = {}
    done = Column(DONE_KEY, str(_l("Done")), None)
    waiting = Column("none", str(_l("No open stage")), None)
    for ticket in tickets:
        stage = current.get(ticket.id)
        if ticket.closed:
            done.cards.append(Card(ticket, None))
        elif stage is None:
            waiting.cards.append(Card(ticket, None))
        else:
            key = f"{stage.name}|{stage.state or ''}"
            column = columns.setdefault(key, Column(key, stage.name, stage))
            column.cards.append(Card(ticket, stage))
    ordered = sorted(columns.values(), key=lambda c: (STATE_ORDER.get(c.stage.state or "", 9), c.title.lower()))
    if waiting.cards:
        ordered.append(waiting)
    ordered.append(done)
    return Board(sprint, ordered)
