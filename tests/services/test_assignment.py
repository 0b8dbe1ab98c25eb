"""Claim, unclaim and distribute (services/assignment.py): permissions, races, the audit trail."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.models import Event, OutboxMessage, WorkItem
from app.services import assignment
from app.services.users import ensure_group


@pytest.fixture()
def staff(make):
    people = make.staff()
    make.deploy_shipped()
    return people


@pytest.fixture()
def stage(db, make, staff):
    def _stage(*, assignee=None, group="Line 1"):
        ticket = make.ticket(staff["requester"])
        item = db.session.execute(select(WorkItem).where(
            WorkItem.ticket_id == ticket.id, WorkItem.status == "open")).scalar_one()
        item.assignee_id = assignee.id if assignee else None
        item.group_id = ensure_group(group).id if group else None
        db.session.commit()
        return item

    return _stage


def assigned_events(db, item):
    return [e.data for e in db.session.execute(select(Event).where(
        Event.kind == "stage.assigned", Event.ticket_id == item.ticket_id).order_by(Event.id)).scalars()]


def test_claim_takes_an_unassigned_stage_of_my_group_and_audits_it(db, staff, stage):
    item = stage()
    assignment.claim(staff["operator"], item.id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(WorkItem, item.id).assignee_id == staff["operator"].id
    [event] = assigned_events(db, item)
    assert (event["from"], event["to"], event["how"], event["work_item"]) == (None, "t_operator", "claim", item.id)
    # taking it again changes nothing and writes nothing
    assignment.claim(staff["operator"], item.id)
    assert len(assigned_events(db, item)) == 1


def test_claim_is_refused_outside_my_groups_and_without_execute_tasks(staff, stage):
    with pytest.raises(Forbidden):
        assignment.claim(staff["operator"], stage(group="Line 2").id)
    with pytest.raises(Forbidden):
        assignment.claim(staff["procadmin"], stage().id)
    with pytest.raises(NotFound):
        assignment.claim(staff["operator"], 987654321)


def test_claiming_what_someone_has_just_taken_is_a_conflict_naming_them(db, staff, stage):
    item = stage()
    assert item.assignee_id is None  # this session read the stage while it was free...
    # ...and meanwhile another engineer's request took it (behind this session's back)
    db.session.execute(update(WorkItem).where(WorkItem.id == item.id).values(assignee_id=staff["supervisor"].id)
                       .execution_options(synchronize_session=False))
    assert item.assignee_id is None
    with pytest.raises(Conflict) as err:
        assignment.claim(staff["operator"], item.id)
    assert "t_supervisor" in str(err.value.message) and err.value.extra["assignee"] == "t_supervisor"
    db.session.expire_all()
    assert db.session.get(WorkItem, item.id).assignee_id == staff["supervisor"].id
    assert assigned_events(db, item) == []


def test_claiming_taken_or_closed_work_is_a_conflict(db, staff, stage):
    with pytest.raises(Conflict):
        assignment.claim(staff["operator"], stage(assignee=staff["supervisor"]).id)
    closed = stage()
    closed.status = "done"
    db.session.commit()
    with pytest.raises(Conflict):
        assignment.claim(staff["operator"], closed.id)


def test_unclaim_gives_my_stage_back_only(db, staff, stage):
    mine = stage(assignee=staff["operator"])
    with pytest.raises(Forbidden):
        assignment.unclaim(staff["supervisor"], mine.id)
    assignment.unclaim(staff["operator"], mine.id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(WorkItem, mine.id).assignee_id is None
    [event] = assigned_events(db, mine)
    assert (event["from"], event["to"], event["how"]) == ("t_operator", None, "unclaim")


def test_distribute_assigns_many_at_once_audits_and_notifies(db, staff, stage):
    a, b = stage(), stage(group="Line 2")
    already = stage(assignee=staff["engineer"], group="Line 2")
    result = assignment.assign(staff["supervisor"], [a.id, b.id, already.id, b.id], "t_engineer")
    db.session.commit()
    assert sorted(i.id for i in result.changed) == sorted([a.id, b.id])
    assert [i.id for i in result.unchanged] == [already.id] and result.skipped == []
    db.session.expire_all()
    assert {db.session.get(WorkItem, i).assignee_id for i in (a.id, b.id)} == {staff["engineer"].id}
    assert [(e["from"], e["to"], e["how"]) for e in assigned_events(db, a)] == [(None, "t_engineer", "assign")]
    notes = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "stage.assigned")).scalars().all()
    assert sorted(n.payload["work_item"] for n in notes) == sorted([a.id, b.id])
    assert {n.recipient_id for n in notes} == {staff["engineer"].id}


def test_distribute_back_to_the_queue(db, staff, stage):
    item = stage(assignee=staff["operator"])
    result = assignment.assign(staff["supervisor"], [item.id], None)
    db.session.commit()
    assert [i.id for i in result.changed] == [item.id] and result.assignee is None
    db.session.expire_all()
    assert db.session.get(WorkItem, item.id).assignee_id is None
    assert [(e["from"], e["to"]) for e in assigned_events(db, item)] == [("t_operator", None)]


def test_distribute_needs_the_permission_and_a_person_who_may_execute(db, make, staff, stage):
    item = stage()
    with pytest.raises(Forbidden):
        assignment.assign(staff["engineer"], [item.id], "t_engineer")
    for login in ("t_requester", "t_procadmin", "nobody"):
        with pytest.raises(ValidationFailed) as err:
            assignment.assign(staff["supervisor"], [item.id], login)
        assert list(err.value.errors) == ["assignee"]
    gone = make.user("q_gone", roles=("engineer",))
    gone.active = False
    db.session.commit()
    with pytest.raises(ValidationFailed):
        assignment.assign(staff["supervisor"], [item.id], "q_gone")
    with pytest.raises(ValidationFailed) as err:
        assignment.assign(staff["supervisor"], [], "t_engineer")
    assert list(err.value.errors) == ["item"]
    with pytest.raises(ValidationFailed):
        assignment.assign(staff["supervisor"], list(range(1, assignment.MAX_BULK + 2)), "t_engineer")


def test_distribute_skips_closed_and_invisible_work(db, staff, stage):
    closed = stage()
    closed.status = "done"
    hidden = stage(assignee=staff["engineer3"], group="Line 3")  # not the operator's to see
    free = stage(group="Line 3")                                 # undistributed: the operator sees it
    db.session.commit()
    result = assignment.assign(staff["operator"], [closed.id, hidden.id, free.id, 987654321], "t_operator")
    assert [i.id for i in result.changed] == [free.id]
    assert result.skipped == sorted([closed.id, hidden.id, 987654321])


def test_staff_who_can_execute_are_the_active_holders_of_execute_tasks(db, make, staff):
    gone = make.user("q_gone", roles=("operator",))
    gone.active = False
    db.session.commit()
    logins = {u.login for u in assignment.staff_who_can_execute()}
    assert {"t_admin", "t_supervisor", "t_operator", "t_engineer", "t_engineer3"} <= logins
    assert not logins & {"t_requester", "t_procadmin", "q_gone"}


def test_the_requesters_own_stages_stay_theirs(db, make, staff):
    """Confirm and rate belong to the requester: no supervisor completes, distributes or
    queues them (a forged rating otherwise)."""
    from app.errors import Forbidden as NotAllowed
    from app.models import WorkItem
    from app.permissions import can_execute

    item = make.stage(staff["requester"], assignee=staff["requester"], group=None)
    item = db.session.get(WorkItem, item.id)
    assert can_execute(staff["requester"], item)
    assert not can_execute(staff["supervisor"], item) and not can_execute(staff["admin"], item)
    result = assignment.assign(staff["supervisor"], [item.id], None)
    assert result.skipped == [item.id] and db.session.get(WorkItem, item.id).assignee_id == staff["requester"].id
    with pytest.raises(NotAllowed):
        assignment.unclaim(staff["requester"], item.id)
