"""services.requesters: finding callers, a person's tickets, SLA clocks, rich text from forms."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.models import WorkItem
from app.models.base import utcnow
from app.services import requesters
from app.services.tickets import add_watcher
from app.services.users import save_user


@pytest.fixture()
def people(make):
    make.user("p_sidorova")
    make.user("p_smith")
    make.user("p_gone")
    sidorova = save_user("p_sidorova", name="Сидорова Анна Павловна", phone="8 (812) 555-01-02",
                         email="anna.sidorova@corp.example")
    smith = save_user("p_smith", name="John Smith", phone="+44 20 7946 0958", email="J.Smith@corp.example")
    gone = save_user("p_gone", name="Anna Gone", phone="+7 812 555-01-02")
    gone.active = False
    make.db.session.commit()
    return {"sidorova": sidorova, "smith": smith, "gone": gone}


def logins(users) -> list[str]:
    return [u.login for u in users]


@pytest.mark.parametrize("query, expected", [
    ("88125550102", ["p_sidorova"]),        # digits only
    ("8 812 555", ["p_sidorova"]),          # the start of the number, spaced
    ("555-01-02", ["p_sidorova"]),          # the end of the number
    ("+7 812 555 01 02", ["p_sidorova"]),   # the same national number with the country code
    ("020 7946 0958", ["p_smith"]),
    ("сидорова", ["p_sidorova"]),           # Cyrillic, any case
    ("АННА", ["p_sidorova"]),               # a later word of the name
    ("smith", ["p_smith"]),
    ("j.smith@", ["p_smith"]),              # e-mail, any case
    ("p_s", ["p_sidorova", "p_smith"]),     # login prefix; "_" is no wildcard
    ("Anna", ["p_sidorova"]),               # "Anna Gone" is inactive
])
def test_find_requesters(people, query, expected):
    assert sorted(logins(requesters.find_requesters(query))) == expected


@pytest.mark.parametrize("query", ["", "   ", "%", "_", "12", "nobody"])
def test_find_requesters_finds_nothing_for_empty_or_wildcard_queries(people, query):
    assert requesters.find_requesters(query) == []


def test_find_requesters_limit(people):
    assert len(requesters.find_requesters("p_", limit=1)) == 1


def test_resolve_person_by_login_or_e_mail(people):
    assert requesters.resolve_person("p_smith").login == "p_smith"
    assert requesters.resolve_person("j.smith@CORP.example").login == "p_smith"
    assert requesters.resolve_person("nobody@corp.example") is None
    assert requesters.resolve_person("  ") is None


def test_my_tickets_newest_first_with_keyset_pages_and_watched_apart(db, make):
    staff = make.staff()
    make.deploy_shipped(staff["procadmin"])
    me, other = staff["requester"], staff["stranger"]
    a, b, c = (make.ticket(me, subject=s) for s in ("a", "b", "c"))
    filed_for_me = make.ticket(staff["operator"], subject="d", requester=me.login, channel="phone")
    followed = make.ticket(other, subject="e")
    add_watcher(other, followed.id, me.login)
    add_watcher(me, a.id, me.login)  # watching my own ticket: still listed once, among mine
    db.session.commit()

    page, cursor = requesters.my_tickets(me, limit=2)
    assert [r.ticket.id for r in page] == [filed_for_me.id, c.id] and cursor == c.id
    page, cursor = requesters.my_tickets(me, limit=2, before=cursor)
    assert [r.ticket.id for r in page] == [b.id, a.id] and cursor is None
    assert all(r.stages and r.stages[0].element_id == "register" for r in page)
    watched, _ = requesters.watched_tickets(me)
    assert [r.ticket.id for r in watched] == [followed.id]
    assert requesters.my_tickets(me, state="closed")[0] == []
    mine = requesters.requester_tickets(me, open_limit=10, recent_limit=5)
    assert [r.ticket.id for r in mine.open] == [filed_for_me.id, c.id, b.id, a.id] and mine.recent == []


def test_sla_clock():
    now = utcnow()
    item = WorkItem(created_at=now - timedelta(hours=1), due_at=now + timedelta(hours=3))
    clock = requesters.sla_clock(item, now)
    assert (clock.percent, clock.overdue) == (25, False)
    item.due_at = now - timedelta(seconds=1)
    assert (requesters.sla_clock(item, now).percent, requesters.sla_clock(item, now).overdue) == (100, True)
    item.due_at = None
    assert requesters.sla_clock(item, now) is None


@pytest.mark.parametrize("typed, stored", [
    ("line one\r\nline two", "line one<br>\nline two"),
    ("a < b & c", "a &lt; b &amp; c"),
    ("<p>already <b>HTML</b></p>", "<p>already <b>HTML</b></p>"),
    ("  ", ""),
    ("שלום 👋", "שלום 👋"),
])
def test_rich_text_keeps_line_breaks_of_plain_text(typed, stored):
    assert requesters.rich_text(typed) == stored
