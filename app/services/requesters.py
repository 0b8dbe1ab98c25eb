"""Requesters and their tickets: finding a caller, the tickets a person files or watches,
the current stage of each and its SLA clock, and the choices offered when filing a ticket.

Used by the portal (a requester's own tickets) and by registering a ticket by phone on the
desk (the line 1 operator finds the caller and sees their tickets first).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from markupsafe import escape
from sqlalchemy import and_, func, or_, select

from ..extensions import db
from ..models import Attachment, OutboxMessage, Ticket, TicketMessage, TicketTemplate, User, Watcher, WorkItem
from ..models.base import utcnow
from .definitions import active_definition, form_for
from .form_specs import localize
from .search import like_escape

#: the ITIL priority matrix of the shipped incident process (bpmn/README.md)
PRIORITIES = ("P1", "P2", "P3", "P4")
#: the characters people write phone numbers with (besides digits)
_PHONE_CHARS = re.compile(r"^[0-9+()\-.\s]+$")
_PHONE_STRIP = (" ", "-", "(", ")", "+", ".")
#: a national number: the last ten digits (so "8 495 …" finds "+7 (495) …")
NATIONAL_DIGITS = 10
_HTML_TAG = re.compile(r"<\s*/?\s*[A-Za-z][^>]*>")
MAX_QUERY = 128
MAX_PAGE = 100
RECENT_TICKETS_FOR_SUGGESTIONS = 2000


# ---------------------------------------------------------------- finding a caller

def phone_digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def _normalized_phone():
    column = User.phone
    for ch in _PHONE_STRIP:
        column = func.replace(column, ch, "")
    return column


def _text_variants(query: str) -> set[str]:
    """How a name may be cased: SQLite's lower() folds ASCII only, so Cyrillic names are also
    matched as typed, lower-case, capitalised and in title case (PostgreSQL folds them all)."""
    return {query, query.lower(), query.capitalize(), query.title(), query.upper()}


def _starts_with(column, query: str):
    conds = [func.lower(column).like(like_escape(query.lower()) + "%", escape="\\")]
    conds += [column.like(like_escape(v) + "%", escape="\\") for v in _text_variants(query)]
    return or_(*conds)


def _word_starts_with(column, query: str):
    """A later word of a name starts with ``query`` ("petr" finds "Ivan Petrov")."""
    conds = [func.lower(column).like("% " + like_escape(query.lower()) + "%", escape="\\")]
    conds += [column.like("% " + like_escape(v) + "%", escape="\\") for v in _text_variants(query)]
    return or_(*conds)


def find_requesters(query: str, limit: int = 20) -> list[User]:
    """Active people whose phone, name, login or e-mail starts with ``query``.

    A query of digits and phone punctuation matches phone numbers by their digits alone
    (``+7 (495) 123-45-67`` = ``84951234567`` = ``123-45-67`` at the end); otherwise the
    match is case-insensitive on the start of the login, the e-mail, or any word of the name.
    """
    query = " ".join((query or "").split())[:MAX_QUERY]
    if not query:
        return []
    limit = max(1, min(limit, MAX_PAGE))
    conds = []
    digits = phone_digits(query)
    if _PHONE_CHARS.match(query) and len(digits) >= 3:
        phone = _normalized_phone()
        conds.append(phone.like(digits + "%"))
        conds.append(phone.like("%" + digits[-NATIONAL_DIGITS:]))
    conds += [_starts_with(User.login, query), _starts_with(User.email, query),
              _starts_with(User.name, query), _word_starts_with(User.name, query)]
    rows = db.session.execute(select(User).where(User.active.is_(True), or_(*conds))
                              .order_by(User.name, User.login).limit(limit)).scalars()
    return list(rows)


def resolve_person(text: str) -> User | None:
    """The user a person names by login or by e-mail (for adding watchers)."""
    text = (text or "").strip()
    if not text:
        return None
    user = db.session.execute(select(User).where(User.login == text, User.active.is_(True))).scalar()
    if user is None and "@" in text:
        user = db.session.execute(select(User).where(func.lower(User.email) == text.lower(),
                                                     User.active.is_(True)).limit(1)).scalar()
    return user


# ---------------------------------------------------------------- tickets and their stages

@dataclass
class SlaClock:
    """How much of a stage's time is used: ``percent`` 0–100, ``overdue`` past ``due_at``."""

    due_at: datetime
    percent: int
    overdue: bool


@dataclass
class TicketRow:
    ticket: Ticket
    stages: list[WorkItem] = field(default_factory=list)  # the open stages: the current ones
    sla: SlaClock | None = None


def sla_clock(item: WorkItem, now: datetime | None = None) -> SlaClock | None:
    """The share of the stage's time (opened → due) that has passed, for a progress bar."""
    if item.due_at is None:
        return None
    now = now or utcnow()
    start = item.created_at or now
    total = (item.due_at - start).total_seconds()
    used = (now - start).total_seconds()
    overdue = now >= item.due_at
    if overdue:
        percent = 100
    elif total <= 0:
        percent = 0
    else:
        percent = max(0, min(100, int(round(100 * used / total))))
    return SlaClock(due_at=item.due_at, percent=percent, overdue=overdue)


def open_stages(ticket_ids: Iterable[int]) -> dict[int, list[WorkItem]]:
    """The open stages of several tickets in one query, by ticket id, oldest first."""
    ids = list(ticket_ids)
    found: dict[int, list[WorkItem]] = {i: [] for i in ids}
    if not ids:
        return found
    for item in db.session.execute(select(WorkItem).where(WorkItem.ticket_id.in_(ids), WorkItem.status == "open")
                                   .order_by(WorkItem.id)).scalars():
        found[item.ticket_id].append(item)
    return found


def with_stages(tickets: list[Ticket], now: datetime | None = None) -> list[TicketRow]:
    stages = open_stages(t.id for t in tickets)
    now = now or utcnow()
    rows = []
    for ticket in tickets:
        current = stages.get(ticket.id, [])
        clocks = [c for c in (sla_clock(i, now) for i in current) if c is not None]
        # the clock closest to running out speaks for the ticket
        clock = max(clocks, key=lambda c: (c.overdue, c.percent)) if clocks else None
        rows.append(TicketRow(ticket=ticket, stages=current, sla=clock))
    return rows


def _state_filter(query, state: str):
    if state == "open":
        return query.where(Ticket.closed.is_(False))
    if state == "closed":
        return query.where(Ticket.closed.is_(True))
    return query


def _page(query, before: int | None, limit: int) -> tuple[list[Ticket], int | None]:
    """Newest first, keyset-paginated by id: the next page is ``before=<cursor>``."""
    limit = max(1, min(limit, MAX_PAGE))
    if before is not None:
        query = query.where(Ticket.id < before)
    rows = list(db.session.execute(query.order_by(Ticket.id.desc()).limit(limit + 1)).scalars())
    cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], cursor


def my_tickets(user: User, *, state: str = "open", before: int | None = None,
               limit: int = 25) -> tuple[list[TicketRow], int | None]:
    """The tickets a person filed or that were filed for them."""
    query = select(Ticket).where(or_(Ticket.requester_id == user.id, Ticket.created_by_id == user.id))
    tickets, cursor = _page(_state_filter(query, state), before, limit)
    return with_stages(tickets), cursor


def watched_tickets(user: User, *, state: str = "open", before: int | None = None,
                    limit: int = 10) -> tuple[list[TicketRow], int | None]:
    """Tickets the person watches but did not file (those are in ``my_tickets``)."""
    query = select(Ticket).join(Watcher, and_(Watcher.ticket_id == Ticket.id, Watcher.user_id == user.id)).where(
        or_(Ticket.requester_id.is_(None), Ticket.requester_id != user.id),
        or_(Ticket.created_by_id.is_(None), Ticket.created_by_id != user.id))
    tickets, cursor = _page(_state_filter(query, state), before, limit)
    return with_stages(tickets), cursor


@dataclass
class RequesterTickets:
    open: list[TicketRow]
    recent: list[TicketRow]  # closed lately, newest first


def requester_tickets(user: User, open_limit: int = 10, recent_limit: int = 5) -> RequesterTickets:
    """What a caller already has: open tickets (to link instead of filing a duplicate) and the
    latest closed ones."""
    base = select(Ticket).where(Ticket.requester_id == user.id)
    opened, _ = _page(base.where(Ticket.closed.is_(False)), None, open_limit)
    recent, _ = _page(base.where(Ticket.closed.is_(True)), None, recent_limit)
    return RequesterTickets(open=with_stages(opened), recent=with_stages(recent))


def given_rating(ticket: Ticket) -> tuple[int, str | None] | None:
    """The requester's rating of the result, once given: the ticket's columns, or else the
    process data the "rate" stage wrote (``rating``, ``rating_comment``; see bpmn/README.md)."""
    if ticket.rating is not None:
        return ticket.rating, ticket.rating_comment
    instance = ticket.instance
    data = (instance.data or {}) if instance is not None else {}
    rating = data.get("rating")
    if isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 5:
        comment = data.get("rating_comment")
        return rating, comment if isinstance(comment, str) else None
    return None


#: what the diagrams tell the requester (``notify_requester``, bpmn/README.md): the payload's
#: ``template`` and the process data field that carries the text
NOTICE_TEXT_FIELDS = {"question": "question", "resolved": "resolution", "fulfilled": "fulfilment_notes",
                      "rejected": "approval_comment"}
NOTICE_KIND = "bpmn.notify_requester"


@dataclass
class Notice:
    """A message the process sent to the requester (a question, the resolution…)."""

    id: int
    template: str
    text: str
    created_at: datetime


@dataclass
class PublicThread:
    """What the requester's side shows of a ticket: public messages and public files only,
    and what the process told the requester, in the order it happened."""

    messages: list[TicketMessage]
    files_by_message: dict[int, list[Attachment]]
    ticket_files: list[Attachment]  # attached to the ticket itself, not to a message
    notices: list[Notice] = field(default_factory=list)

    @property
    def entries(self) -> list[tuple[str, Any]]:
        """("message", TicketMessage) and ("notice", Notice), oldest first."""
        items: list[tuple[Any, int, str, Any]] = [(m.created_at, 0, "message", m) for m in self.messages]
        items += [(n.created_at, 1, "notice", n) for n in self.notices]
        items.sort(key=lambda e: (e[0] or utcnow(), e[1], e[3].id))
        return [(kind, obj) for _, _, kind, obj in items]


def _notices(ticket: Ticket) -> list[Notice]:
    rows = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.ticket_id == ticket.id, OutboxMessage.kind == NOTICE_KIND).order_by(OutboxMessage.id)).scalars()
    found = []
    for row in rows:
        payload = (row.payload or {}).get("payload") or {}
        if not isinstance(payload, dict):
            continue
        template = str(payload.get("template") or "")
        text = payload.get(NOTICE_TEXT_FIELDS.get(template, "text"))
        found.append(Notice(id=row.id, template=template, text=text if isinstance(text, str) else "",
                            created_at=row.created_at))
    return found


def public_thread(ticket: Ticket) -> PublicThread:
    """Never internal notes nor files attached to them, whoever looks (staff included): the
    portal shows what the requester sees."""
    messages = list(db.session.execute(select(TicketMessage).where(
        TicketMessage.ticket_id == ticket.id, TicketMessage.internal.is_(False)).order_by(TicketMessage.id)).scalars())
    files = db.session.execute(select(Attachment).where(
        Attachment.ticket_id == ticket.id, Attachment.internal.is_(False)).order_by(Attachment.id)).scalars()
    public_ids = {m.id for m in messages}
    by_message: dict[int, list[Attachment]] = {}
    own: list[Attachment] = []
    for item in files:
        if item.message_id is None:
            own.append(item)
        elif item.message_id in public_ids:
            by_message.setdefault(item.message_id, []).append(item)
    return PublicThread(messages=messages, files_by_message=by_message, ticket_files=own, notices=_notices(ticket))


def own_open_stages(user: User, ticket: Ticket) -> list[WorkItem]:
    """The stages of the ticket waiting for this person (confirm, rate…)."""
    return list(db.session.execute(select(WorkItem).where(
        WorkItem.ticket_id == ticket.id, WorkItem.status == "open", WorkItem.assignee_id == user.id)
        .order_by(WorkItem.id)).scalars())


# ---------------------------------------------------------------- filing a ticket

def rich_text(text: str | None) -> str:
    """What a person typed into a plain textarea, as the rich text services store: plain text
    keeps its line breaks; text with HTML tags is passed on (``sanitize_html`` cleans it)."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text or _HTML_TAG.search(text):
        return text
    return "<br>\n".join(str(escape(line)) for line in text.split("\n"))


@dataclass
class FilingChoices:
    categories: list[tuple[str, str]]  # (value, label in the reader's language)
    services: list[str]  # suggestions (a datalist): free text is accepted
    priorities: tuple[str, ...] = PRIORITIES


def _category_choices(locale: str) -> list[tuple[str, str]]:
    """The ticket types the classification form of the active incident process offers."""
    definition = active_definition("incident")
    spec = form_for(definition.id, "classify.json") if definition is not None else None
    prop: dict[str, Any] = ((spec or {}).get("schema") or {}).get("properties", {}).get("category") or {}
    values = prop.get("enum") or []
    names = localize(prop.get("enumNames"), locale) or []
    return [(str(v), str(names[i]) if i < len(names) else str(v)) for i, v in enumerate(values)]


#: a service typed by fewer people than this is nobody else's business
MIN_PEOPLE_FOR_SUGGESTION = 3


def _service_suggestions(limit: int = 100) -> list[str]:
    from_templates = db.session.execute(select(TicketTemplate.service).where(
        TicketTemplate.active.is_(True), TicketTemplate.service.is_not(None)).distinct().limit(limit)).scalars()
    # the services of recent tickets only (a bounded read however many tickets there are), and
    # only those several people named: one person's free text is never shown to others
    recent = select(Ticket.service, Ticket.requester_id).where(Ticket.service.is_not(None)) \
        .order_by(Ticket.id.desc()).limit(RECENT_TICKETS_FOR_SUGGESTIONS).subquery()
    from_tickets = db.session.execute(
        select(recent.c.service).group_by(recent.c.service)
        .having(func.count(func.distinct(recent.c.requester_id)) >= MIN_PEOPLE_FOR_SUGGESTION)
        .order_by(func.count().desc()).limit(limit)).scalars()
    seen: dict[str, None] = {}
    for name in [*from_templates, *from_tickets]:
        if name and name.strip():
            seen.setdefault(name.strip(), None)
    return sorted(seen, key=str.casefold)[:limit]


def filing_choices(locale: str) -> FilingChoices:
    return FilingChoices(categories=_category_choices(locale), services=_service_suggestions())
