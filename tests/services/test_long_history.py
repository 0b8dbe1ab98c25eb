"""A ticket that has gone round a loop many times still works, and its cost does not grow.

Through the service layer (``complete_stage`` / ``post_message``): one ticket of the shipped
incident process goes round the engineer ↔ requester loop (the engineer asks a question at
*identify* → *waiting for the requester* → the requester replies → *identify* again) and then
to closure; one ticket of the bench loop (scripts/bench_data/loop.bpmn) goes round 1,000 times.
Asserted here is the deterministic part — the stored state and the task tree stay flat, the
history keeps every round, the ticket still closes; the time per step belongs in scripts/bench.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH_DATA = ROOT / "scripts" / "bench_data"

#: rounds of the incident loop (STAGEDESK_LONG_HISTORY_ROUNDS to go further, e.g. 1000)
INCIDENT_ROUNDS = int(os.environ.get("STAGEDESK_LONG_HISTORY_ROUNDS", "300"))
#: rounds of the cheaper bench loop
BENCH_ROUNDS = 1000
#: rounds at which the state is measured against the early one
EARLY = 10
GROWTH_LIMIT = 1.5


def light_user(login: str, roles: tuple[str, ...], groups: tuple[str, ...] = ()):
    from app.services.users import save_user

    return save_user(login, roles=list(roles), groups=list(groups), email=f"{login}@example.test")


def task_count(state: dict) -> int:
    return len(state["tasks"]) + sum(len(sp["tasks"]) for sp in state.get("subprocesses", {}).values())


def state_size(state: dict) -> int:
    return len(json.dumps(state))


def open_item(db, ticket_id: int, element_id: str):
    from app.models import WorkItem

    items = list(db.session.execute(select(WorkItem).where(
        WorkItem.ticket_id == ticket_id, WorkItem.status == "open")).scalars())
    assert [i.element_id for i in items] == [element_id], [i.element_id for i in items]
    return items[0]


def count_events(db, ticket_id: int, kind: str, element_id: str | None = None) -> int:
    from app.models import Event

    query = select(func.count()).select_from(Event).where(Event.ticket_id == ticket_id, Event.kind == kind)
    if element_id is not None:
        query = query.where(Event.element_id == element_id)
    return db.session.execute(query).scalar()


def measure(ticket) -> tuple[int, int]:
    state = ticket.instance.state
    return state_size(state), task_count(state)


# --- the shipped incident process ----------------------------------------------------------------

@pytest.fixture()
def incident_desk(db, make):
    people = {"procadmin": light_user("h_procadmin", ("process_admin",)),
              "operator": light_user("h_operator", ("operator",), ("Line 1",)),
              "engineer": light_user("h_engineer", ("engineer",), ("Line 2",)),
              "requester": light_user("h_requester", ("requester",))}
    make.deploy_shipped(people["procadmin"])
    return people


def _to_identify(db, make, people):
    from app.services.tickets import complete_stage

    ticket = make.ticket(people["requester"], process="incident", subject="The VPN drops every hour",
                         description="Since Monday")
    op = people["operator"]
    complete_stage(op, open_item(db, ticket.id, "register").id, {
        "subject": "The VPN drops every hour", "description": "Since Monday", "requester": people["requester"].login,
        "channel": "portal"})
    complete_stage(op, open_item(db, ticket.id, "classify").id, {"category": "incident", "impact": 2, "urgency": 2})
    complete_stage(op, open_item(db, ticket.id, "assess").id, {"solve_at_line1": False})
    complete_stage(people["engineer"], open_item(db, ticket.id, "assign").id, {"engineer": people["engineer"].login})
    open_item(db, ticket.id, "identify")
    return ticket


def test_incident_loop_many_rounds_stays_flat_and_still_closes(db, make, incident_desk):
    from app.services.tickets import complete_stage, post_message

    people = incident_desk
    eng, req = people["engineer"], people["requester"]
    ticket = _to_identify(db, make, people)
    sizes: dict[int, tuple[int, int]] = {}
    for n in range(1, INCIDENT_ROUNDS + 1):
        item = open_item(db, ticket.id, "identify")
        complete_stage(eng, item.id, {"diagnosis": f"round {n}", "next_step": "ask_requester",
                                      "question": f"Question {n}: does it still drop?"})
        assert ticket.status == "waiting"
        open_item(db, ticket.id, "wait_identify")
        post_message(req, ticket.id, f"Answer {n}: yes, again")
        if n in (1, EARLY, INCIDENT_ROUNDS // 2, INCIDENT_ROUNDS):
            sizes[n] = measure(ticket)
        if n % 100 == 0:
            db.session.expire_all()  # keep the session's identity map from growing with the history
    # the ticket still works: resolve, confirm, rate, closed
    item = open_item(db, ticket.id, "identify")
    assert ticket.instance.data["diagnosis"] == f"round {INCIDENT_ROUNDS}"
    complete_stage(eng, item.id, {"diagnosis": "A flaky driver", "next_step": "resolve"})
    complete_stage(eng, open_item(db, ticket.id, "resolve").id, {"resolution": "Updated the driver",
                                                                 "next_step": "resolved"})
    complete_stage(req, open_item(db, ticket.id, "confirm").id, {"confirmed": True})
    complete_stage(req, open_item(db, ticket.id, "rate").id, {"rating": 5})
    db.session.expire_all()
    assert ticket.closed and ticket.status == "closed" and ticket.instance.status == "completed"

    early_size, early_tasks = sizes[EARLY]
    late_size, late_tasks = sizes[INCIDENT_ROUNDS]
    assert late_size <= GROWTH_LIMIT * early_size, sizes
    assert late_tasks <= early_tasks, sizes  # the task tree does not grow with the rounds
    assert sizes[INCIDENT_ROUNDS // 2][1] == late_tasks, sizes
    # the history has every round
    assert count_events(db, ticket.id, "stage.completed", "identify") == INCIDENT_ROUNDS + 1
    assert count_events(db, ticket.id, "message.delivered") == INCIDENT_ROUNDS
    assert count_events(db, ticket.id, "message.posted") == INCIDENT_ROUNDS
    from app.models import TicketMessage, WorkItem

    stages = dict(db.session.execute(select(WorkItem.element_id, func.count()).where(
        WorkItem.ticket_id == ticket.id).group_by(WorkItem.element_id)).all())
    assert stages["identify"] == INCIDENT_ROUNDS + 1 and stages["wait_identify"] == INCIDENT_ROUNDS
    assert db.session.execute(select(func.count()).select_from(TicketMessage).where(
        TicketMessage.ticket_id == ticket.id)).scalar() == INCIDENT_ROUNDS


# --- the bench loop, 1,000 rounds -------------------------------------------------------------------

def test_bench_loop_1000_rounds_stays_flat_and_still_finishes(db, make):
    from app.services.tickets import complete_stage

    engineer = light_user("h_bench_eng", ("engineer",), ("Line 2",))
    requester = light_user("h_bench_req", ("requester",))
    make.deploy({p.name: p.read_bytes() for p in sorted(BENCH_DATA.iterdir()) if p.suffix in (".bpmn", ".json")},
                engineer)
    ticket = make.ticket(requester, process="bench_loop", subject="Bench")
    sizes: dict[int, tuple[int, int]] = {}
    for n in range(1, BENCH_ROUNDS + 1):
        item = open_item(db, ticket.id, "b_work")
        complete_stage(engineer, item.id, {"answer": f"answer {n}", "round_no": n, "finished": False})
        if n in (1, EARLY, BENCH_ROUNDS // 2, BENCH_ROUNDS):
            sizes[n] = measure(ticket)
        if n % 100 == 0:
            db.session.expire_all()
    assert ticket.instance.data["rounds"] == BENCH_ROUNDS
    item = open_item(db, ticket.id, "b_work")
    complete_stage(engineer, item.id, {"answer": "done", "round_no": BENCH_ROUNDS + 1, "finished": True})
    db.session.expire_all()
    assert ticket.closed and ticket.instance.status == "completed"

    early_size, early_tasks = sizes[EARLY]
    late_size, late_tasks = sizes[BENCH_ROUNDS]
    assert late_size <= GROWTH_LIMIT * early_size, sizes
    assert late_tasks <= early_tasks and sizes[BENCH_ROUNDS // 2][1] == late_tasks, sizes
    assert count_events(db, ticket.id, "stage.completed", "b_work") == BENCH_ROUNDS + 1
    from app.models import WorkItem

    assert db.session.execute(select(func.count()).select_from(WorkItem).where(
        WorkItem.ticket_id == ticket.id)).scalar() == BENCH_ROUNDS + 1
