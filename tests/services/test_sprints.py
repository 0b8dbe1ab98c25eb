"""Sprints (issue 3, point 7): dates, goal and capacity; tickets with estimates; the board."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.models import Event, WorkItem
from app.services import sprints
from app.services.tickets import complete_stage


@pytest.fixture()
def cast(make):
    staff = make.staff()
    make.deploy_shipped()
    return staff


def new_sprint(actor, **kw):
    kw.setdefault("name", "Sprint 12")
    kw.setdefault("starts_on", "2030-03-03")
    kw.setdefault("ends_on", "2030-03-14")
    kw.setdefault("capacity", 20)
    return sprints.save_sprint(actor, None, **kw)


def test_create_and_edit_with_validation(db, cast):
    boss = cast["supervisor"]
    sprint = new_sprint(boss, goal="Close the printer backlog")
    assert (sprint.starts_on, sprint.ends_on, sprint.capacity, sprint.goal) == (
        date(2030, 3, 3), date(2030, 3, 14), 20, "Close the printer backlog")
    with pytest.raises(ValidationFailed) as err:
        sprints.save_sprint(boss, sprint, name=" ", starts_on="2030-03-14", ends_on="2030-03-03", capacity=-1)
    assert set(err.value.errors) == {"name", "ends_on", "capacity"}
    with pytest.raises(ValidationFailed) as err:
        sprints.save_sprint(boss, sprint, name="S", starts_on="yesterday", ends_on="2030-03-03", capacity="lots")
    assert set(err.value.errors) == {"starts_on", "capacity"}
    sprints.save_sprint(boss, sprint, name="Sprint 12b", starts_on=date(2030, 3, 3), ends_on=date(2030, 3, 3),
                        capacity=0)
    assert (sprint.name, sprint.ends_on, sprint.capacity) == ("Sprint 12b", date(2030, 3, 3), 0)


def test_only_manage_sprints_changes_and_read_tasks_views(db, cast):
    sprint = new_sprint(cast["supervisor"])
    for who in ("operator", "engineer", "requester"):
        with pytest.raises(Forbidden):
            new_sprint(cast[who])
        with pytest.raises(Forbidden):
            sprints.add_ticket(cast[who], sprint, "INC-1", 3)
    assert [r.sprint.id for r in sprints.list_sprints(cast["operator"])] == [sprint.id]
    with pytest.raises(Forbidden):
        sprints.list_sprints(cast["requester"])


def test_tickets_in_and_out_with_estimates_audited(db, make, cast):
    boss = cast["supervisor"]
    sprint = new_sprint(boss)
    other = new_sprint(boss, name="Sprint 13")
    ticket = make.ticket(cast["operator"], subject="Replace the toner")
    with pytest.raises(ValidationFailed) as err:
        sprints.add_ticket(boss, sprint, "INC-999999", "")
    assert set(err.value.errors) == {"ticket", "estimate"}
    sprints.add_ticket(boss, sprint, ticket.number.lower(), "5")
    assert (ticket.sprint_id, ticket.estimate) == (sprint.id, 5)
    with pytest.raises(Conflict):
        sprints.add_ticket(boss, sprint, ticket.number, 5)
    sprints.add_ticket(boss, sprint, str(ticket.id), 8)  # a new estimate
    sprints.add_ticket(boss, other, ticket.number, 8)  # moves to another sprint
    assert ticket.sprint_id == other.id
    sprints.remove_ticket(boss, other, ticket.id)
    assert ticket.sprint_id is None
    events = db.session.execute(select(Event.data).where(Event.ticket_id == ticket.id, Event.kind == "sprint.changed")
                                .order_by(Event.id)).scalars().all()
    assert [e["changes"] for e in events] == [
        {"sprint": [None, "Sprint 12"], "estimate": [None, 5]},
        {"estimate": [5, 8]},
        {"sprint": ["Sprint 12", "Sprint 13"]},
        {"sprint": ["Sprint 13", None]},
    ]
    with pytest.raises(NotFound):
        sprints.remove_ticket(boss, other, ticket.id)  # not in it any more: 404


def test_board_by_current_stage_with_totals_against_capacity(db, make, cast):
    boss, op = cast["supervisor"], cast["operator"]
    sprint = new_sprint(boss, capacity=10)
    first = make.ticket(op, subject="Printer A")
    second = make.ticket(op, subject="Printer B")
    third = make.ticket(op, subject="Printer C")
    for ticket, hours in ((first, 3), (second, 4), (third, 5)):
        sprints.add_ticket(boss, sprint, ticket.number, hours)
    register = db.session.execute(select(WorkItem).where(WorkItem.ticket_id == second.id,
                                                         WorkItem.status == "open")).scalar()
    complete_stage(op, register.id, {"subject": "Printer B", "description": "Jams", "requester": "t_operator",
                                     "channel": "portal"})
    third.closed = True  # as a finished instance leaves it
    db.session.flush()
    board = sprints.board(boss, sprint)
    columns = [(c.title, [card.ticket.number for card in c.cards], c.estimate) for c in board.columns]
    assert columns == [("Registration", [first.number], 3),
                       ("Classification and prioritisation", [second.number], 4),
                       ("Done", [third.number], 5)]
    assert board.columns[0].stage.color and board.columns[0].cards[0].stage.name == "Registration"
    assert (board.estimate, board.percent, board.over_capacity, board.done_estimate) == (12, 120, True, 5)
    rows = sprints.list_sprints(boss)
    assert (rows[0].tickets, rows[0].estimate, rows[0].percent) == (3, 12, 120)


def test_board_queries_do_not_grow_with_the_tickets(db, make, cast, app):
    from sqlalchemy import event

    boss = cast["supervisor"]
    sprint = new_sprint(boss, capacity=100)

    def count_queries(n_tickets):
        for _ in range(n_tickets):
            sprints.add_ticket(boss, sprint, make.ticket(cast["operator"]).number, 1)
        db.session.expire_all()
        seen = []
        listener = lambda *a, **k: seen.append(1)  # noqa: E731
        engine = db.session.get_bind()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            board = sprints.board(boss, db.session.get(type(sprint), sprint.id))
            for column in board.columns:
                for card in column.cards:
                    (card.ticket.number, card.ticket.estimate, card.stage and card.stage.name)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    small = count_queries(2)
    assert 0 < small == count_queries(6)
