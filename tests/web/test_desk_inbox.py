"""The desk inbox in the browser: tabs per role, filters in links, keyset pages, claim /
unclaim / distribute with redirect-after-post, the new-work counter, "next task", no N+1."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from flask import url_for
from sqlalchemy import event, select

from app.models import Event, WorkItem
from app.models.base import utcnow


@pytest.fixture()
def staff(db, make):
    people = make.staff()
    for user in people.values():
        user.locale = "en"  # the desk's default language is Russian; these tests read English
    db.session.commit()
    make.deploy_shipped()
    return people


@pytest.fixture()
def stage(make, staff):
    """A ticket's open first stage (Line 1's "Registration"), placed as the test needs."""

    def _stage(*, requester=None, **placement):
        return make.stage(requester or staff["requester"], **placement)

    return _stage


def text(res) -> str:
    return unescape(res.get_data(as_text=True))


def row_ids(res) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-queue-row>\s*(?:<td><input[^>]*value="(\d+)")', res.get_data(as_text=True))]


def tab_links(res) -> list[str]:
    return re.findall(r'href="/desk/\?[^"]*tab=(\w+)[^"]*">', res.get_data(as_text=True).split('aria-label="Queues"')[1]
                      .split("</nav>")[0])


@pytest.mark.parametrize("role, tabs", [
    ("operator", ["mine", "group", "undistributed"]),
    ("engineer", ["mine", "group", "undistributed"]),
    ("supervisor", ["mine", "group", "undistributed", "subordinates", "others"]),
    ("admin", ["mine", "group", "undistributed", "others"]),
    ("procadmin", ["mine", "group"]),
])
def test_each_role_sees_its_tabs_and_is_refused_the_others(web, staff, role, tabs):
    browser = web.as_(staff[role])
    res = browser.get("/desk/")
    assert res.status_code == 200
    assert tab_links(res) == tabs
    for tab in ("mine", "group", "undistributed", "subordinates", "others"):
        assert browser.get(f"/desk/?tab={tab}").status_code == (200 if tab in tabs else 403), tab


def test_people_without_desk_permissions_are_kept_out(web, staff):
    assert web.as_(staff["requester"]).get("/desk/").status_code == 403
    res = web.as_(None).get("/desk/")
    assert res.status_code == 302 and res.headers["Location"].startswith("/login")
    assert web.as_(staff["operator"]).get("/desk/?tab=sideways").status_code == 400


def test_a_row_shows_the_ticket_stage_and_people(web, staff, stage):
    item = stage(assignee=staff["operator"], subject="Монитор мигает 🖥️ <b>bold</b>", priority="P2",
                 due=utcnow() - timedelta(hours=2))
    res = web.as_(staff["operator"]).get("/desk/?tab=mine")
    page = res.get_data(as_text=True)
    assert "Монитор мигает 🖥️ &lt;b&gt;bold&lt;/b&gt;" in page  # escaped, intact
    assert item.ticket.number in page and "Registration" in page and "stage-badge" in page
    assert "P2" in page and "t_requester" in page and "Line 1" in page and "t_operator" in page
    assert "Overdue" in page
    assert 'data-shortcut="/"' in page and 'data-shortcut="n"' in page


def test_filters_narrow_the_queue_and_stay_in_the_links(web, staff, stage):
    for n in range(3):
        stage(subject=f"Printer {n} jammed", priority="P2")
    stage(subject="VPN down", priority="P1")
    browser = web.as_(staff["operator"])
    res = browser.get("/desk/?tab=group&text=printer&priority=P2&sort=oldest")
    assert len(row_ids(res)) == 3
    page = res.get_data(as_text=True)
    assert 'value="printer"' in page and '<option value="P2" selected>' in page
    assert "VPN down" not in page
    # the tab links keep the filters and the sort
    assert "/desk/?tab=undistributed&amp;sort=oldest&amp;priority=P2&amp;text=printer" in page
    res = browser.get("/desk/?tab=group&text=nothing-like-this")
    assert row_ids(res) == [] and "No open tasks match these filters." in text(res)


def test_pages_follow_the_keyset_next_link(web, staff, stage):
    items = [stage(priority="P3") for _ in range(53)]
    browser = web.as_(staff["operator"])
    res = browser.get("/desk/?tab=group&sort=priority&priority=P3")
    first = row_ids(res)
    assert len(first) == 50
    nxt = re.search(r'rel="next" href="([^"]+)"', res.get_data(as_text=True)).group(1)
    assert "priority=P3" in unescape(nxt) and "after=" in nxt
    res = browser.get(unescape(nxt))
    second = row_ids(res)
    assert first + second == [i.id for i in items]
    assert 'rel="next"' not in res.get_data(as_text=True) and "First page" in text(res)
    assert browser.get("/desk/?tab=group&after=garbage").status_code == 400


def count_statements(db, fetch) -> int:
    """SELECTs sent while answering ``fetch()``, with nothing remembered from before (the
    tests share one session: an object it already holds would hide a lazy load)."""
    seen = []

    def _count(conn, cursor, statement, *args):
        seen.append(statement)

    db.session.expunge_all()
    event.listen(db.engine, "before_cursor_execute", _count)
    try:
        res = fetch()
    finally:
        event.remove(db.engine, "before_cursor_execute", _count)
    assert res.status_code == 200
    return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])


def test_a_page_costs_the_same_queries_for_5_or_50_rows(db, web, make, staff, stage):
    """No N+1: ticket, requester, group and assignee come with the rows' one query. Every row
    has its own requester and its own assignee, neither of them in the page's list of staff
    (people who may execute tasks): a lazy load would show as extra statements."""
    def rows(n, start):
        for k in range(start, start + n):
            asker, doer = make.user(f"q_req{k}"), make.user(f"q_doer{k}")
            stage(assignee=doer, requester=asker, group=("Line 1", "Line 2", "Line 3")[k % 3], priority="P2")

    browser = web.as_(staff["supervisor"])
    rows(5, 0)
    few = count_statements(db, lambda: browser.get("/desk/?tab=others"))
    rows(45, 5)
    res = browser.get("/desk/?tab=others")
    assert len(row_ids(res)) == 50
    many = count_statements(db, lambda: browser.get("/desk/?tab=others"))
    assert many == few


def test_claim_then_give_back_with_redirect_after_post(db, web, staff, stage):
    item = stage()
    browser = web.as_(staff["operator"])
    res = browser.post(f"/desk/tasks/{item.id}/claim", {"next": "/desk/?tab=group"})
    assert res.status_code == 302 and res.headers["Location"] == "/desk/?tab=group"
    db.session.expire_all()
    assert db.session.get(WorkItem, item.id).assignee_id == staff["operator"].id
    page = text(browser.get("/desk/?tab=mine"))
    assert f"You took {item.ticket.number}" in page and "Give back" in page
    res = browser.post(f"/desk/tasks/{item.id}/unclaim", {"next": "/desk/?tab=mine"})
    assert res.status_code == 302
    db.session.expire_all()
    assert db.session.get(WorkItem, item.id).assignee_id is None
    kinds = [(e.data["from"], e.data["to"]) for e in db.session.execute(
        select(Event).where(Event.kind == "stage.assigned", Event.ticket_id == item.ticket_id)
        .order_by(Event.id)).scalars()]
    assert kinds == [(None, "t_operator"), ("t_operator", None)]


def test_claiming_what_another_took_first_is_a_clear_409(db, web, staff, stage):
    item = stage()
    first, second = web.as_(staff["operator"]), web.as_(staff["supervisor"])
    assert first.post(f"/desk/tasks/{item.id}/claim", {"next": "/desk/"}).status_code == 302
    res = second.post(f"/desk/tasks/{item.id}/claim", {"next": "/desk/?tab=group"})
    assert res.status_code == 409
    assert "t_operator has just taken this task" in text(res)
    assert 'href="/desk/?tab=group"' in res.get_data(as_text=True)


def test_claim_and_unclaim_are_refused_without_the_right(web, staff, stage):
    item = stage(group="Line 2")
    assert web.as_(staff["operator"]).post(f"/desk/tasks/{item.id}/claim").status_code == 403
    assert web.as_(staff["procadmin"]).post(f"/desk/tasks/{item.id}/claim").status_code == 403
    mine = stage(assignee=staff["engineer"], group="Line 2")
    assert web.as_(staff["operator"]).post(f"/desk/tasks/{mine.id}/unclaim").status_code == 403
    assert web.as_(staff["operator"]).post("/desk/tasks/987654321/claim").status_code == 404


def test_a_foreign_next_address_is_ignored(web, staff, stage):
    browser = web.as_(staff["operator"])
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        res = browser.post(f"/desk/tasks/{stage().id}/claim", {"next": target})
        assert res.status_code == 302 and "evil" not in res.headers["Location"]


def test_distribute_ticked_tasks(db, web, staff, stage):
    a, b, c = stage(), stage(), stage()
    browser = web.as_(staff["operator"])
    page = browser.get("/desk/?tab=undistributed").get_data(as_text=True)
    assert 'id="assign-form"' in page and 'form="assign-form"' in page and '<option value="t_engineer">' in page
    res = browser.post("/desk/assign", {"item": [str(a.id), str(c.id)], "assignee": "t_engineer",
                                        "next": "/desk/?tab=undistributed"})
    assert res.status_code == 302 and res.headers["Location"] == "/desk/?tab=undistributed"
    db.session.expire_all()
    assert [db.session.get(WorkItem, i.id).assignee_id for i in (a, b, c)] == [
        staff["engineer"].id, None, staff["engineer"].id]
    assert "2 tasks assigned to t_engineer." in text(browser.get("/desk/?tab=undistributed"))
    res = browser.post("/desk/assign", {"item": [str(a.id)], "assignee": "-", "next": "/desk/"})
    assert res.status_code == 302
    db.session.expire_all()
    assert db.session.get(WorkItem, a.id).assignee_id is None


def test_distribute_with_a_mistake_shows_the_page_again_with_the_ticks_kept(db, web, staff, stage):
    a, b = stage(), stage()
    browser = web.as_(staff["operator"])
    res = browser.post("/desk/assign", {"item": [str(a.id)], "assignee": "", "next": "/desk/?tab=undistributed"})
    assert res.status_code == 422
    page = res.get_data(as_text=True)
    assert "Choose a person, or the queue." in page and 'aria-invalid="true"' in page
    assert re.search(rf'value="{a.id}"[^>]*checked', page) and not re.search(rf'value="{b.id}"[^>]*checked', page)
    res = browser.post("/desk/assign", {"item": [str(b.id)], "assignee": "t_requester", "next": "/desk/?tab=undistributed"})
    assert res.status_code == 422 and "may execute tasks" in text(res)
    assert '<option value="t_requester"' not in res.get_data(as_text=True)
    res = browser.post("/desk/assign", {"assignee": "t_engineer", "next": "/desk/?tab=undistributed"})
    assert res.status_code == 422 and "Tick the tasks to distribute." in text(res)
    db.session.expire_all()
    assert db.session.get(WorkItem, a.id).assignee_id is None
    assert web.as_(staff["engineer"]).post("/desk/assign", {"item": [str(a.id)], "assignee": "t_engineer"}).status_code == 403


def test_the_counter_counts_new_work_for_me(web, staff, stage):
    browser = web.as_(staff["operator"])
    assert browser.get("/desk/counter").get_json() == {"count": 0}
    stage()
    stage(assignee=staff["operator"], group="Line 2")
    stage(group="Line 2")
    res = browser.get("/desk/counter")
    assert res.get_json() == {"count": 2} and res.headers["Cache-Control"] == "no-store"
    assert web.as_(staff["requester"]).get("/desk/counter").status_code == 403
    # the nav polls it (static/js/app.js)
    assert 'data-counter-url="/desk/counter"' in browser.get("/desk/").get_data(as_text=True)


def test_next_task_opens_my_most_urgent_ticket(app, web, staff, stage):
    browser = web.as_(staff["operator"])
    res = browser.get("/desk/next")
    assert res.status_code == 302 and res.headers["Location"] == "/desk/"
    assert "No open task is waiting for you." in text(browser.get("/desk/"))
    stage(assignee=staff["operator"], priority="P3")
    urgent = stage(assignee=staff["operator"], priority="P1")
    res = browser.get("/desk/next")
    with app.test_request_context():
        expected = (url_for("desk.ticket", ticket_id=urgent.ticket_id) if "desk.ticket" in app.view_functions
                    else url_for("desk.inbox", tab="mine", text=urgent.ticket.number))
    assert res.status_code == 302 and res.headers["Location"] == expected
