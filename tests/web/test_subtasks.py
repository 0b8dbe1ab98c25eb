"""The subtasks block on the ticket page and its form posts (issue 3, point 6)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Ticket


@pytest.fixture()
def cast(make):
    staff = make.staff()
    staff["lead"] = make.user("t_lead", roles=("engineer",), groups=("Line 2",))
    staff["junior"] = make.user("t_junior", roles=("engineer",), groups=("Line 2",), manager="t_lead")
    for user in staff.values():
        user.locale = "en"  # the desk's default language is Russian; these tests read English
    make.deploy_shipped()
    return staff


def html(res) -> str:
    return res.get_data(as_text=True)


def block(page: str) -> str:
    start = page.index('id="subtasks"')
    return page[start:page.index("</section>", start)]


def children_of(db, parent) -> list[Ticket]:
    db.session.expire_all()
    return list(db.session.execute(select(Ticket).where(Ticket.parent_id == parent.id).order_by(Ticket.id)).scalars())


def test_split_a_ticket_and_see_each_child_stage_and_progress(db, web, make, cast):
    parent = make.ticket(cast["operator"], subject="Office move")
    lead = web.as_(cast["lead"])
    # the lead works Line 2 and may read the ticket when it reaches them; here: a watcher
    from app.services.tickets import add_watcher
    add_watcher(cast["operator"], parent.id, "t_lead")
    db.session.commit()
    page = block(html(lead.get(f"/desk/tickets/{parent.id}")))
    assert "Add a subtask" in page and '<option value="t_junior"' in page and 't_engineer"' not in page
    assert '<option value="subtask" selected>' in page
    res = lead.post(f"/desk/tickets/{parent.id}/subtasks", {"subject": "Carry the boxes", "assignee": "t_junior",
                                                            "process": "subtask", "description": "Floor 3"})
    assert res.status_code == 302 and res.headers["Location"] == f"/desk/tickets/{parent.id}#subtasks"
    child, = children_of(db, parent)
    assert child.subject == "Carry the boxes" and child.instance.data["assignee"] == "t_junior"
    res = lead.get(f"/desk/tickets/{parent.id}")
    assert res.status_code == 200
    page = block(html(res))
    assert child.number in page and "Do the work" in page and "stage-badge" in page
    assert "0 of 1 done" in page and "cannot be resolved or closed while a subtask is open" in page


def test_refused_assignee_keeps_what_was_typed(db, web, make, cast):
    parent = make.ticket(cast["operator"], subject="Office move")
    from app.services.tickets import add_watcher
    add_watcher(cast["operator"], parent.id, "t_lead")
    db.session.commit()
    res = web.as_(cast["lead"]).post(f"/desk/tickets/{parent.id}/subtasks", {
        "subject": "Typed & kept", "assignee": "t_engineer", "process": "subtask", "description": "Details kept"})
    page = html(res)
    assert res.status_code == 422
    assert "t_engineer is not among the people you may give work to" in page
    assert 'value="Typed &amp; kept"' in page and "Details kept" in page
    assert children_of(db, parent) == []


def test_who_may_split_and_cancel(db, web, make, cast):
    parent = make.ticket(cast["operator"], subject="Printer", requester="t_requester", channel="phone")
    requester = web.as_(cast["requester"])  # reads their own ticket but may not split it
    res = requester.post(f"/desk/tickets/{parent.id}/subtasks", {"subject": "x", "assignee": "t_engineer"})
    assert res.status_code == 403
    stranger = web.as_(cast["stranger"])
    assert stranger.post(f"/desk/tickets/{parent.id}/subtasks", {"subject": "x", "assignee": "t_engineer"}
                         ).status_code == 403
    boss = web.as_(cast["supervisor"])
    assert boss.post(f"/desk/tickets/{parent.id}/subtasks", {"subject": "Check the driver", "assignee": "t_engineer",
                                                             "process": "subtask"}).status_code == 302
    child, = children_of(db, parent)
    assert boss.post(f"/desk/tickets/{parent.id}/subtasks/{child.id}/cancel").status_code == 302
    child, = children_of(db, parent)
    assert child.status == "cancelled" and child.closed
    page = block(html(boss.get(f"/desk/tickets/{parent.id}")))
    assert "1 of 1 done" in page and "Cancelled" in page
    assert boss.post(f"/desk/tickets/{parent.id}/subtasks/{child.id}/cancel").status_code == 409
