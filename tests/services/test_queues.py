"""The desk's queues: tabs and their permissions, filters, sorting with keyset pages, the
new-work counter and the "next task" pick (services/queues.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.errors import BadRequest, Forbidden
from app.models.base import utcnow
from app.services import queues
from app.services.queues import InboxFilters


@pytest.fixture()
def staff(make):
    people = make.staff()
    make.deploy_shipped()
    return people


@pytest.fixture()
def stage(make, staff):
    """A ticket's open first stage (Line 1's "Registration"), placed as the test needs."""

    def _stage(*, requester=None, **placement):
        return make.stage(requester or staff["requester"], **placement)

    return _stage


def ids(items):
    return [i.id for i in items]


def page_ids(actor, tab, **kw):
    return ids(queues.inbox_page(actor, tab, **kw).items)


def test_each_role_sees_the_tabs_its_permissions_allow(staff):
    assert queues.available_tabs(staff["operator"]) == ["mine", "group", "undistributed"]
    assert queues.available_tabs(staff["engineer"]) == ["mine", "group", "undistributed"]
    assert queues.available_tabs(staff["supervisor"]) == ["mine", "group", "undistributed", "subordinates", "others"]
    assert queues.available_tabs(staff["admin"]) == ["mine", "group", "undistributed", "others"]
    assert queues.available_tabs(staff["procadmin"]) == ["mine", "group"]
    assert queues.available_tabs(staff["requester"]) == []


def test_a_tab_without_its_permission_is_refused(staff):
    for actor, tab in ((staff["operator"], "others"), (staff["engineer"], "subordinates"),
                       (staff["procadmin"], "undistributed"), (staff["requester"], "mine")):
        with pytest.raises(Forbidden):
            queues.inbox_page(actor, tab)
    with pytest.raises(BadRequest):
        queues.inbox_page(staff["admin"], "everything")


def test_what_each_tab_holds(make, staff, stage):
    op, eng, sup = staff["operator"], staff["engineer"], staff["supervisor"]
    junior = make.user("q_junior", roles=("engineer",), groups=("Line 2",), manager="t_engineer")
    mine = stage(assignee=op)
    queue_l1 = stage()
    eng_l2 = stage(assignee=eng, group="Line 2")
    junior_l2 = stage(assignee=junior, group="Line 2")
    l3 = stage(group="Line 3")
    assert page_ids(op, "mine") == [mine.id]
    assert page_ids(op, "group") == [queue_l1.id, mine.id]
    assert page_ids(op, "undistributed") == [l3.id, queue_l1.id]
    assert page_ids(eng, "group") == [junior_l2.id, eng_l2.id]
    # the chain of managers: the supervisor manages the engineer, who manages the junior
    assert page_ids(sup, "subordinates") == [junior_l2.id, eng_l2.id, mine.id]
    assert page_ids(eng, "subordinates") == [junior_l2.id]
    assert page_ids(sup, "others") == [l3.id, junior_l2.id, eng_l2.id, queue_l1.id, mine.id]


def test_closed_work_is_in_no_queue(db, staff, stage):
    item = stage()
    item.status = "done"
    db.session.commit()
    assert queues.inbox_page(staff["admin"], "others").items == []
    assert queues.count_new_work(staff["operator"]) == 0


def test_filters(db, staff, stage):
    now = utcnow()
    printer = stage(subject="Printer jammed on floor 3", priority="P2", due=now - timedelta(hours=1))
    mail = stage(subject="Mail is slow", priority="P3", group="Line 2", assignee=staff["engineer"])
    admin = staff["admin"]

    def found(**kw):
        return page_ids(admin, "others", filters=InboxFilters(**kw))

    assert found(text="PRINTER") == [printer.id]
    assert found(text="jam") == [printer.id]
    assert found(text=printer.ticket.number.lower()) == [printer.id]
    assert found(text=str(mail.ticket.id)) == [mail.id]
    assert found(text="100%_") == []  # LIKE wildcards are plain characters
    assert found(priority="P3") == [mail.id]
    assert found(group=mail.group_id) == [mail.id]
    assert found(assignee="t_engineer") == [mail.id]
    assert found(assignee="nobody") == []
    assert found(overdue=True) == [printer.id]
    assert found(process="incident") == [mail.id, printer.id]
    assert found(process="service_request") == []
    assert found(stage="register") == [mail.id, printer.id]
    assert found(stage="classify") == []
    assert found(state=printer.state) == [mail.id, printer.id]
    assert found(state="waiting") == []
    assert found(priority="P2", group=mail.group_id) == []


def test_filters_from_get_parameters_are_lenient_and_round_trip():
    f = InboxFilters.from_args({"text": "  jam ", "group": "x1", "overdue": "1", "priority": "", "stage": "assess"})
    assert f == InboxFilters(text="jam", overdue=True, stage="assess")
    assert f.as_args() == {"text": "jam", "overdue": "1", "stage": "assess"}
    assert InboxFilters.from_args(f.as_args()) == f
    assert not InboxFilters().active and f.active


@pytest.mark.parametrize("sort", queues.SORTS)
def test_every_sort_pages_through_equal_keys_without_gaps_or_repeats(db, staff, stage, sort):
    now = utcnow().replace(microsecond=0)
    soon, later = now + timedelta(hours=1), now + timedelta(hours=5)
    shapes = [("P2", soon), ("P1", None), ("P2", soon), (None, later), ("P2", soon), (None, None),
              ("P1", later), ("P2", None), (None, soon)]
    items = [stage(priority=p, due=d) for p, d in shapes]
    key = {
        "newest": lambda i: -i.id,
        "oldest": lambda i: i.id,
        "priority": lambda i: (i.ticket.priority is None, i.ticket.priority or "", i.ticket_id, i.id),
        "due": lambda i: (i.due_at is None, i.due_at or now, i.id),
    }[sort]
    expected = ids(sorted(items, key=key))
    seen, cursor, pages = [], None, 0
    while True:
        page = queues.inbox_page(staff["operator"], "group", sort=sort, cursor=cursor, limit=2)
        seen += ids(page.items)
        pages += 1
        assert page.first == (cursor is None)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    assert pages == 5


def test_a_broken_or_foreign_cursor_is_a_clear_bad_request(staff, stage):
    for _ in range(3):
        stage()
    cursor = queues.inbox_page(staff["operator"], "group", sort="priority", limit=1).next_cursor
    assert cursor
    for bad, sort in (("not-a-cursor", "newest"), (cursor, "due"), (cursor[:-3], "priority")):
        with pytest.raises(BadRequest):
            queues.inbox_page(staff["operator"], "group", sort=sort, cursor=bad)
    with pytest.raises(BadRequest):
        queues.inbox_page(staff["operator"], "group", sort="sideways")


def test_new_work_counts_mine_and_my_groups_unassigned_work(staff, stage):
    op = staff["operator"]
    stage(assignee=op)
    stage()                                     # Line 1, unassigned: new work for line 1
    stage(assignee=staff["supervisor"])         # Line 1 but someone else's
    stage(group="Line 2")                       # another group's queue
    stage(assignee=op, group="Line 3")          # mine wherever it is
    assert queues.count_new_work(op) == 3
    assert queues.count_new_work(staff["procadmin"]) == 0


def test_next_task_is_my_most_urgent_then_my_groups_queue(staff, stage):
    op = staff["operator"]
    assert queues.next_task(op) is None
    queued = stage(due=utcnow() - timedelta(days=1))
    assert queues.next_task(op).id == queued.id  # nothing of mine: the queue's most urgent
    stage(assignee=op, priority="P3")
    p1 = stage(assignee=op, priority="P1")
    assert queues.next_task(op).id == p1.id
    overdue = stage(assignee=op, priority="P4", due=utcnow() - timedelta(minutes=5))
    assert queues.next_task(op).id == overdue.id


def test_the_api_scopes_still_page_by_id(staff, stage):
    op = staff["operator"]
    a, b, c = stage(), stage(), stage(assignee=op)
    first, nxt = queues.list_tasks(op, "group", limit=2)
    assert ids(first) == [c.id, b.id] and nxt == b.id
    rest, nxt = queues.list_tasks(op, "group", after=nxt, limit=2)
    assert ids(rest) == [a.id] and nxt is None
    assert ids(queues.list_tasks(op, "unassigned")[0]) == [b.id, a.id]
    with pytest.raises(Forbidden):
        queues.list_tasks(staff["procadmin"], "unassigned")
    with pytest.raises(BadRequest):
        queues.list_tasks(op, "nowhere")


def test_filter_choices_come_from_the_deployed_diagrams(staff):
    choices = queues.filter_choices()
    assert ("incident", ) == tuple(k for k, _ in choices.processes if k == "incident")
    assert "register" in dict(choices.stages) and "confirm" in dict(choices.stages)
    assert "Line 1" in dict((name, gid) for gid, name in choices.groups)
    assert choices.priorities == ("P1", "P2", "P3", "P4")
