"""Child subtasks (issue 3, point 6): children for subordinates, their stages and progress,
and the parent that cannot be resolved or closed while a child is open."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, ValidationFailed
from app.models import Event, WorkItem
from app.services import subtasks
from app.services.tickets import complete_stage


def open_item(db, ticket_id: int, element_id: str) -> WorkItem:
    item = db.session.execute(select(WorkItem).where(
        WorkItem.ticket_id == ticket_id, WorkItem.element_id == element_id, WorkItem.status == "open")).scalar()
    assert item is not None, f"no open stage {element_id}"
    return item


def work(db, ticket, element_id, actor, data):
    item = complete_stage(actor, open_item(db, ticket.id, element_id).id, data)
    db.session.commit()
    return item


@pytest.fixture()
def cast(make):
    staff = make.staff()
    make.deploy_shipped()
    # a team lead without "distribute tasks": may give subtasks to their own people only
    staff["lead"] = make.user("t_lead", roles=("engineer",), groups=("Line 2",))
    staff["junior"] = make.user("t_junior", roles=("engineer",), groups=("Line 2",), manager="t_lead")
    staff["trainee"] = make.user("t_trainee", roles=("engineer",), manager="t_junior")
    return staff


def to_line1_resolution(db, cast, ticket):
    op = cast["operator"]
    work(db, ticket, "register", op, {"subject": ticket.subject, "description": "As reported by phone",
                                      "requester": "t_requester", "channel": "portal"})
    work(db, ticket, "classify", op, {"category": "incident", "impact": 2, "urgency": 2})
    work(db, ticket, "assess", op, {"solve_at_line1": True, "assessment": "Needs a hand from line 2"})


def test_children_go_to_subordinates_down_the_chain_only(db, make, cast):
    lead = cast["lead"]
    parent = make.ticket(cast["operator"], subject="Move the office", requester="t_requester", channel="phone")
    assert [u.login for u in subtasks.assignable_people(lead)] == ["t_junior", "t_trainee"]
    for stranger in ("t_engineer", "t_operator", "t_lead"):
        with pytest.raises(ValidationFailed) as err:
            subtasks.create_children(lead, parent, [{"subject": "Carry boxes", "assignee": stranger}])
        assert "people you manage" in err.value.errors["assignee"][0]
    kids = subtasks.create_children(lead, parent, [
        {"subject": "Carry boxes", "description": "<p>Floor 3</p><script>x()</script>", "assignee": "t_junior"},
        {"subject": "Plug the cables", "assignee": "t_trainee"}])
    db.session.commit()
    assert [(k.process_key, k.parent_id, k.number.startswith("SUB-")) for k in kids] == [
        ("subtask", parent.id, True)] * 2
    assert kids[0].description == "<p>Floor 3</p>"
    assert kids[0].instance.data["assignee"] == "t_junior" and kids[0].instance.data["owner"] == "t_lead"
    assert kids[0].instance.data["parent_number"] == parent.number
    work_item = open_item(db, kids[0].id, "work")
    assert work_item.assignee.login == "t_junior"
    kinds = db.session.execute(select(Event.data).where(Event.ticket_id == parent.id,
                                                        Event.kind == "subtask.created")).scalars().all()
    assert [k["child"] for k in kinds] == [kids[0].number, kids[1].number]


def test_supervisors_with_distribute_tasks_may_give_work_to_anyone_who_executes_tasks(db, make, cast):
    parent = make.ticket(cast["operator"], subject="Renew certificates")
    people = {u.login for u in subtasks.assignable_people(cast["supervisor"])}
    assert {"t_engineer3", "t_vendor", "t_junior", "t_operator"} <= people
    assert "t_requester" not in people  # cannot work stages on the desk
    kid, = subtasks.create_children(cast["supervisor"], parent, [
        {"subject": "Vendor side", "assignee": "t_vendor", "process": "subtask"}])
    assert kid.parent_id == parent.id


def test_who_may_split_and_what_is_refused(db, make, cast):
    parent = make.ticket(cast["operator"], subject="Printer")
    with pytest.raises(Forbidden):  # may not read the parent
        subtasks.create_children(cast["stranger"], parent, [{"subject": "x", "assignee": "t_junior"}])
    with pytest.raises(ValidationFailed) as err:
        subtasks.create_children(cast["supervisor"], parent, [{"subject": " ", "assignee": "t_junior",
                                                               "process": "no_such_process"}])
    assert set(err.value.errors) == {"subject", "process"}


def test_children_show_their_stage_and_the_parent_progress(db, make, cast):
    parent = make.ticket(cast["operator"], subject="Office move")
    first, second = subtasks.create_children(cast["lead"], parent, [
        {"subject": "Boxes", "assignee": "t_junior"}, {"subject": "Cables", "assignee": "t_trainee"}])
    db.session.commit()
    summary = subtasks.children(parent)
    assert (summary.done, summary.total, summary.percent) == (0, 2, 0)
    assert [(r.ticket.number, r.stage.name, r.stage.state) for r in summary.rows] == [
        (first.number, "Do the work", "in_progress"), (second.number, "Do the work", "in_progress")]
    work(db, first, "work", cast["junior"], {"result": "Done, 20 boxes", "time_spent_hours": 3})
    summary = subtasks.children(parent)
    assert (summary.done, summary.total, summary.percent) == (1, 2, 50)
    assert summary.rows[0].stage is None and not summary.rows[0].is_open
    assert subtasks.may_close(parent) is False


def test_the_parent_cannot_be_resolved_while_a_child_is_open(db, make, cast):
    parent = make.ticket(cast["operator"], subject="New starter needs a laptop", requester="t_requester",
                         channel="phone")
    to_line1_resolution(db, cast, parent)
    child, = subtasks.create_children(cast["supervisor"], parent, [
        {"subject": "Image the laptop", "assignee": "t_engineer"}])
    db.session.commit()
    resolve = open_item(db, parent.id, "resolve_l1")
    with pytest.raises(Conflict) as err:
        complete_stage(cast["operator"], resolve.id, {"resolution": "Laptop handed over", "next_step": "resolved"})
    assert child.number in str(err.value.message) and err.value.extra["open_children"] == [child.number]
    db.session.expire_all()
    # nothing of the refused step stayed: the stage is still open, the ticket not resolved
    assert open_item(db, parent.id, "resolve_l1").id == resolve.id
    assert parent.status != "resolved" and not parent.closed

    work(db, child, "work", cast["engineer"], {"result": "Imaged"})
    assert subtasks.may_close(parent)
    work(db, parent, "resolve_l1", cast["operator"], {"resolution": "Laptop handed over", "next_step": "resolved"})
    assert parent.status == "resolved"


def test_a_cancelled_child_no_longer_holds_the_parent_and_a_late_child_blocks_closing(db, make, cast):
    parent = make.ticket(cast["operator"], subject="Projector", requester="t_requester", channel="phone")
    to_line1_resolution(db, cast, parent)
    child, = subtasks.create_children(cast["lead"], parent, [{"subject": "Find a cable", "assignee": "t_junior"}])
    db.session.commit()
    with pytest.raises(Forbidden):  # only its creator or a supervisor cancels a child
        subtasks.cancel_child(cast["junior"], parent, child.id)
    subtasks.cancel_child(cast["lead"], parent, child.id)
    db.session.commit()
    assert (child.status, child.closed) == ("cancelled", True)
    assert db.session.execute(select(WorkItem.status).where(
        WorkItem.ticket_id == child.id)).scalars().all() == ["cancelled"]
    assert subtasks.may_close(parent)
    work(db, parent, "resolve_l1", cast["operator"], {"resolution": "Used HDMI", "next_step": "resolved"})
    # a child added after the resolution holds back the requester's confirmation (the rating
    # stage that would open is in state "closed"), while reopening stays possible
    late, = subtasks.create_children(cast["supervisor"], parent, [{"subject": "Label it", "assignee": "t_engineer"}])
    db.session.commit()
    with pytest.raises(Conflict):
        complete_stage(cast["requester"], open_item(db, parent.id, "confirm").id, {"confirmed": True})
    work(db, parent, "confirm", cast["requester"], {"confirmed": False, "reopen_reason": "No label"})
    with pytest.raises(Conflict):
        complete_stage(cast["operator"], open_item(db, parent.id, "resolve_l1").id,
                       {"resolution": "Labelled", "next_step": "resolved"})
    work(db, late, "work", cast["engineer"], {"result": "Labelled"})
    work(db, parent, "resolve_l1", cast["operator"], {"resolution": "Labelled", "next_step": "resolved"})
    work(db, parent, "confirm", cast["requester"], {"confirmed": True})
    work(db, parent, "rate", cast["requester"], {"rating": 5})
    assert parent.closed and parent.status == "closed"


def test_children_run_subtask_or_another_top_level_process(db, make, cast):
    assert subtasks.child_processes() == ["subtask", "incident", "service_request"]
    parent = make.ticket(cast["operator"], subject="Broken screen")
    kid, = subtasks.create_children(cast["supervisor"], parent, [
        {"subject": "Order a new screen", "assignee": "t_engineer", "process": "service_request"}])
    assert kid.process_key == "service_request" and kid.parent_id == parent.id
    with pytest.raises(ValidationFailed):
        subtasks.create_children(cast["supervisor"], parent, [
            {"subject": "x", "assignee": "t_engineer", "process": "escalation"}])
