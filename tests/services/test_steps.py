"""Applying a step: the support group of a new stage is the group its lane names, as the
groups are at that moment (an admin may remove or re-create groups after the deploy)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

DATA = Path(__file__).resolve().parent.parent / "data"


def triage_item(db, ticket):
    from app.models import WorkItem

    return db.session.execute(select(WorkItem).where(
        WorkItem.ticket_id == ticket.id, WorkItem.element_id == "triage", WorkItem.status == "open")).scalar_one()


def line_1(db):
    from app.models import Group

    return db.session.execute(select(Group).where(Group.name == "Line 1")).scalar()


def test_a_stage_joins_the_group_its_lane_names_as_it_is_at_that_moment(db, make):
    from app.models import Group

    requester = make.user("g_requester")
    make.deploy({p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))})  # creates the lanes' groups
    first = line_1(db)
    assert triage_item(db, make.ticket(requester, process="mini")).group_id == first.id

    db.session.delete(first)
    db.session.commit()
    assert triage_item(db, make.ticket(requester, process="mini")).group_id is None  # undistributed

    again = Group(name="Line 1")
    db.session.add(again)
    db.session.commit()
    assert again.id != first.id
    item = triage_item(db, make.ticket(requester, process="mini"))
    assert item.group_id == again.id and item.group.name == "Line 1"


def test_watchers_hear_of_a_completed_stage_except_the_one_who_completed_it(db, make):
    from app.models import OutboxMessage
    from app.services.tickets import add_watcher, complete_stage

    staff = make.staff()
    make.deploy({p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))})
    ticket = make.ticket(staff["requester"], process="mini")
    for login in ("t_engineer", "t_supervisor", "t_operator"):
        add_watcher(staff["operator"], ticket.id, login)
    db.session.commit()
    db.session.expunge_all()  # the completion loads the ticket and its watchers afresh

    complete_stage(staff["operator"], triage_item(db, ticket).id, {"priority": "P2", "category": "incident"})
    db.session.commit()

    rows = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.ticket_id == ticket.id, OutboxMessage.kind == "ticket.changed")).scalars().all()
    assert sorted(r.recipient_id for r in rows) == sorted([staff["engineer"].id, staff["supervisor"].id])
    assert all(r.payload["changes"]["priority"][1] == "P2" and r.payload["by"] == "t_operator" for r in rows)
