"""Sprint pages: the list, create/edit with inline errors, the board with tickets and totals."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Sprint


@pytest.fixture()
def cast(make):
    staff = make.staff()
    for user in staff.values():
        user.locale = "en"  # the desk's default language is Russian; these tests read English
    make.deploy_shipped()
    return staff


def html(res) -> str:
    return res.get_data(as_text=True)


SPRINT = {"name": "March sprint", "starts_on": "2030-03-03", "ends_on": "2030-03-14", "capacity": "10",
          "goal": "Printers & <b>toner</b>"}


def test_create_edit_with_inline_errors(db, web, cast):
    boss = web.as_(cast["supervisor"])
    res = boss.post("/desk/sprints/new", {**SPRINT, "ends_on": "2030-03-01", "capacity": "-3"})
    page = html(res)
    assert res.status_code == 422
    assert "cannot end before it starts" in page and 'value="March sprint"' in page
    assert "Number must be between 0 and 100000." in page
    res = boss.post("/desk/sprints/new", SPRINT)
    assert res.status_code == 302
    sprint = db.session.execute(select(Sprint).where(Sprint.name == "March sprint")).scalar()
    assert res.headers["Location"] == f"/desk/sprints/{sprint.id}"
    page = html(boss.get("/desk/sprints"))
    assert "March sprint" in page and "0 of 10 h" in page
    board = html(boss.get(f"/desk/sprints/{sprint.id}"))
    assert "Printers &amp; &lt;b&gt;toner&lt;/b&gt;" in board  # the goal is text, never markup
    edit = html(boss.get(f"/desk/sprints/{sprint.id}/edit"))
    assert 'value="2030-03-14"' in edit
    assert boss.post(f"/desk/sprints/{sprint.id}/edit", {**SPRINT, "capacity": "40"}).status_code == 302
    db.session.refresh(sprint)
    assert sprint.capacity == 40


def test_board_add_and_remove_tickets_with_totals_against_capacity(db, web, make, cast):
    boss = web.as_(cast["supervisor"])
    boss.post("/desk/sprints/new", SPRINT)
    sprint = db.session.execute(select(Sprint)).scalar()
    first = make.ticket(cast["operator"], subject="Toner for floor 2")
    second = make.ticket(cast["operator"], subject="Jammed tray")
    url = f"/desk/sprints/{sprint.id}"
    assert boss.post(f"{url}/tickets", {"ticket": first.number, "estimate": "6"}).status_code == 302
    res = boss.post(f"{url}/tickets", {"ticket": "INC-424242", "estimate": "1"})
    assert res.status_code == 422 and "There is no ticket INC-424242" in html(res)
    res = boss.post(f"{url}/tickets", {"ticket": second.number, "estimate": ""})
    assert res.status_code == 422 and "Write a number of hours" in html(res) and second.number in html(res)
    assert boss.post(f"{url}/tickets", {"ticket": second.number, "estimate": "7"}).status_code == 302
    page = html(boss.get(url))
    assert "13 of 10 hours planned (130%)" in page and 'id="over-capacity"' in page
    assert "Over capacity by 3 hours" in page
    assert page.count("Registration") >= 1 and "13 h" in page and "stage-card" in page
    assert first.number in page and second.number in page
    assert boss.post(f"{url}/tickets/{first.id}/remove").status_code == 302
    page = html(boss.get(url))
    assert "7 of 10 hours planned (70%)" in page and 'id="over-capacity"' not in page
    db.session.refresh(first)
    assert first.sprint_id is None


def test_who_sees_and_who_changes_sprints(db, web, make, cast):
    web.as_(cast["supervisor"]).post("/desk/sprints/new", SPRINT)
    sprint = db.session.execute(select(Sprint)).scalar()
    ticket = make.ticket(cast["operator"])
    operator = web.as_(cast["operator"])  # reads tasks: sees sprints, changes nothing
    list_page = html(operator.get("/desk/sprints"))
    assert "March sprint" in list_page and "New sprint" not in list_page
    board = operator.get(f"/desk/sprints/{sprint.id}")
    assert board.status_code == 200 and "Add a ticket" not in html(board)
    assert operator.get("/desk/sprints/new").status_code == 403
    assert operator.post(f"/desk/sprints/{sprint.id}/edit", SPRINT).status_code == 403
    assert operator.post(f"/desk/sprints/{sprint.id}/tickets", {"ticket": ticket.number, "estimate": "1"}
                         ).status_code == 403
    requester = web.as_(cast["requester"])
    assert requester.get("/desk/sprints").status_code == 403
    assert requester.get(f"/desk/sprints/{sprint.id}").status_code == 403
    assert web.as_(cast["supervisor"]).get("/desk/sprints/987654").status_code == 404
