"""The history of a ticket as people read it: field diffs, who and when, staff-only facts
hidden from requesters, pages of a long history, and the stages grouped by subprocess."""
from __future__ import annotations

import pytest
from sqlalchemy import select


def open_item(db, ticket_id: int, element: str):
    from app.models import WorkItem

    return db.session.execute(select(WorkItem).where(
        WorkItem.ticket_id == ticket_id, WorkItem.element_id == element, WorkItem.status == "open")).scalar_one()


@pytest.fixture()
def classified(db, make):
    """An incident registered and classified by the operator (priority P3 → P2 on the way)."""
    from app.services.tickets import complete_stage, post_message

    staff = make.staff()
    make.deploy_shipped(staff["procadmin"])
    ticket = make.ticket(staff["requester"], subject="Mail is slow", priority="P3")
    op = staff["operator"]
    complete_stage(op, open_item(db, ticket.id, "register").id, {
        "subject": "Mail is slow", "description": "<p>Since <b>Monday</b></p>", "requester": "t_requester",
        "channel": "phone"})
    complete_stage(op, open_item(db, ticket.id, "classify").id, {
        "category": "incident", "impact": 1, "urgency": 2, "classification_note": "VIP mailbox"})
    post_message(op, ticket.id, "Checking the mail server", internal=True)
    post_message(op, ticket.id, "We are looking into it")
    db.session.commit()
    return staff, ticket


def entries_of(page, kind):
    return [e for e in page.entries if e.kind == kind]


def test_field_changes_read_as_old_to_new_by_whom(db, classified):
    from app.services.history import Change, ticket_history

    staff, ticket = classified
    page = ticket_history(staff["operator"], ticket)
    changes = {c.field: c for e in entries_of(page, "fields.changed") for c in e.changes}
    assert changes["priority"] == Change("priority", "P3", "P2")
    assert changes["channel"] == Change("channel", "API", "Phone")
    assert changes["impact"] == Change("impact", "—", "1")
    assert changes["description"].new == "Since Monday"  # rich text as words, never markup
    assert changes["classification note"].new == "VIP mailbox"  # a process field, named in words
    diff = next(e for e in entries_of(page, "fields.changed") if any(c.field == "priority" for c in e.changes))
    assert diff.actor == "t_operator" and diff.at is not None
    assert [e.text for e in entries_of(page, "stage.completed")] == [
        "Stage “Classification and prioritisation” completed", "Stage “Registration” completed"]  # newest first
    statuses = [c for e in entries_of(page, "status.changed") for c in e.changes]
    assert statuses and statuses[0].field == "status" and statuses[0].new == "Open"


def test_requesters_see_the_ticket_fields_but_not_staff_facts(db, classified):
    from app.services.history import ticket_history

    staff, ticket = classified
    page = ticket_history(staff["requester"], ticket)
    texts = [e.text for e in page.entries]
    assert "Message posted" in texts and "Internal note added" not in texts
    fields = {c.field for e in entries_of(page, "fields.changed") for c in e.changes}
    assert "priority" in fields and "impact" not in fields and "classification note" not in fields
    assert not any(e.internal for e in page.entries)
    opened = [e.text for e in entries_of(page, "stage.opened")]
    assert opened and all("queue" not in t for t in opened)  # lanes and assignees are staff facts
    staff_opened = [e.text for e in entries_of(ticket_history(staff["operator"], ticket), "stage.opened")]
    assert "Stage “Registration” opened in the queue of Line 1" in staff_opened


def test_a_long_history_comes_in_pages(db, classified):
    from app.models import Event
    from app.services.history import ticket_history

    staff, ticket = classified
    total = len(db.session.execute(select(Event.id).where(Event.ticket_id == ticket.id)).all())
    seen, before, pages = [], None, 0
    while True:
        page = ticket_history(staff["operator"], ticket, before=before, limit=3)
        pages += 1
        seen.extend(e.id for e in page.entries)
        assert page.newest == (before is None)
        if page.older is None:
            break
        before = page.older
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert pages >= total // 3
    assert ticket_history(staff["operator"], ticket, limit=10_000).older is None  # capped, one page


def test_unknown_and_staff_only_events_are_worded_and_hidden(db, classified):
    from app.services import audit
    from app.services.history import ticket_history

    staff, ticket = classified
    audit.record(ticket, "stage.assigned", staff["supervisor"], element_id="assess",
                 data={"assignee": "t_operator"})
    audit.record(ticket, "something.new", None, data={})
    db.session.commit()
    staff_page = ticket_history(staff["operator"], ticket)
    assert staff_page.entries[0].text == "Event something.new" and staff_page.entries[0].actor is None
    assert staff_page.entries[1].text == "Stage “Initial assessment” assigned to t_operator"
    assert staff_page.entries[1].internal
    requester_kinds = {e.kind for e in ticket_history(staff["requester"], ticket).entries}
    assert not requester_kinds & {"stage.assigned", "something.new"}


def test_the_timeline_groups_stages_by_process(db, classified):
    from app.services.history import stage_timeline

    staff, ticket = classified
    timeline = stage_timeline(ticket)
    assert timeline.earlier == 0
    assert [s.subprocess for s in timeline.segments] == [None]
    items = timeline.segments[0].items
    assert [i.element_id for i in items] == ["register", "classify", "assess"]
    assert items[0].completed_by.login == "t_operator" and items[-1].status == "open"
    short = stage_timeline(ticket, limit=2)
    assert short.earlier == 1 and [i.element_id for i in short.segments[0].items] == ["classify", "assess"]
