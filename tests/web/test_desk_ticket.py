"""The staff ticket page: painted stage cards with their forms, completing them (inline errors,
409, 403), the thread with internal notes and files, watchers, history, subprocess stages,
presence, and user content shown inert."""
from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import func, select

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
REGISTER = {"subject": "The printer is jammed", "description": "Paper stuck in tray 2", "requester": "t_requester",
            "channel": "phone"}


def open_item(db, ticket_id: int, element: str):
    from app.models import WorkItem

    return db.session.execute(select(WorkItem).where(
        WorkItem.ticket_id == ticket_id, WorkItem.element_id == element, WorkItem.status == "open")).scalar_one()


def count(db, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.execute(query).scalar()


@pytest.fixture()
def desk(db, make):
    staff = make.staff()
    for user in staff.values():
        user.locale = "en"  # the assertions read the English text
    db.session.commit()
    make.deploy_shipped(staff["procadmin"])
    return staff


@pytest.fixture()
def ticket(make, desk):
    return make.ticket(desk["requester"], subject="The printer is jammed", description="<p>Paper stuck</p>",
                       channel="portal")


def page(browser, ticket, path: str | None = None) -> str:
    res = browser.get(path or f"/desk/tickets/{ticket.id}")
    assert res.status_code == 200, res.status_code
    return res.get_data(as_text=True)


def complete(browser, item, data: dict, **kw):
    return browser.post(f"/desk/tasks/{item.id}/complete", data, **kw)


# --- the page ----------------------------------------------------------------------------------

def test_the_page_shows_the_ticket_and_the_painted_stage_with_its_form(db, web, desk, ticket):
    item = open_item(db, ticket.id, "register")
    html = page(web.as_(desk["operator"]), ticket)
    assert ticket.number in html and "The printer is jammed" in html
    assert "<p>Paper stuck</p>" in html  # the sanitised description, as rich text
    assert "t_requester@example.test" in html and "(t_requester)" in html
    assert f"--stage-color: {item.color}; --stage-background: {item.background}" in html
    assert f'bi bi-{item.icon}' in html and "Registration" in html
    assert f'action="/desk/tasks/{item.id}/complete"' in html
    assert 'name="subject"' in html and 'name="channel"' in html  # the register.json form
    for key in ("c", "r", "i", "n"):
        assert f'data-shortcut="{key}"' in html
    assert 'id="presence"' in html and "every 15s" in html
    assert "Take it" in html  # unassigned and in the operator's group: desk.claim exists


def test_a_stage_the_person_may_not_execute_is_shown_without_its_form(db, web, desk, ticket):
    item = open_item(db, ticket.id, "register")
    html = page(web.as_(desk["supervisor"]), ticket)  # a supervisor may execute any stage
    assert f'action="/desk/tasks/{item.id}/complete"' in html
    from app.services.tickets import add_watcher

    add_watcher(desk["operator"], ticket.id, "t_engineer3")  # line 3 may read it now, not work it
    html = page(web.as_(desk["engineer3"]), ticket)
    assert "Registration" in html
    assert f'action="/desk/tasks/{item.id}/complete"' not in html and "Take it" not in html
    assert "Someone else works on this stage." in html


# --- completing stages -------------------------------------------------------------------------

def test_completing_stages_moves_the_process_on(db, web, desk, ticket):
    browser = web.as_(desk["operator"])
    res = complete(browser, open_item(db, ticket.id, "register"), REGISTER)
    assert res.status_code == 302 and res.headers["Location"] == f"/desk/tickets/{ticket.id}"
    classify = open_item(db, ticket.id, "classify")
    res = complete(browser, classify, {"category": "incident", "impact": "1", "urgency": "2",
                                       "next": "https://evil.example/"})
    assert res.status_code == 302 and "evil" not in res.headers["Location"]
    db.session.expire_all()
    assert ticket.priority == "P2" and ticket.channel == "phone"
    assess = open_item(db, ticket.id, "assess")
    html = page(browser, ticket)
    assert f'action="/desk/tasks/{assess.id}/complete"' in html
    assert "priority: — → P2" in html and "by t_operator" in html  # the history's field diff
    res = complete(browser, assess, {"solve_at_line1": "y", "next": "/desk/"})
    assert res.status_code == 302 and res.headers["Location"] == "/desk/"
    open_item(db, ticket.id, "resolve_l1")


def test_a_long_history_is_shown_a_page_at_a_time(db, web, desk, ticket, monkeypatch):
    from app.services import history

    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    browser = web.as_(desk["operator"])
    for n in range(3):
        browser.post(f"/desk/tickets/{ticket.id}/watchers", {"login": ("t_engineer", "t_supervisor", "t_admin")[n]})
    html = page(browser, ticket)
    assert "Older entries" in html and "Ticket created" not in html
    pages = 1
    while "Older entries" in html:
        older = html.split("Older entries", 1)[0].rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        assert older.startswith(f"/desk/tickets/{ticket.id}?history_before=") and older.endswith("#history")
        html = page(browser, None, path=older.split("#", 1)[0])
        assert "Newest entries" in html
        pages += 1
    assert pages >= 3 and "Ticket created (channel: Portal)" in html


def test_invalid_input_comes_back_inline_with_what_was_typed(db, web, desk, ticket):
    from app.models import Event

    browser = web.as_(desk["operator"])
    complete(browser, open_item(db, ticket.id, "register"), REGISTER)
    classify = open_item(db, ticket.id, "classify")
    events = count(db, Event, ticket_id=ticket.id)
    res = complete(browser, classify, {"category": "incident", "impact": "", "urgency": "7",
                                       "classification_note": "Typed by hand " + XSS_SCRIPT})
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert html.count('aria-invalid="true"') >= 2 and "invalid-feedback" in html
    assert 'id="impact-errors"' in html and 'id="urgency-errors"' in html
    assert "Typed by hand &lt;script&gt;alert(1)&lt;/script&gt;" in html  # kept, inert
    assert XSS_SCRIPT not in html
    assert '<option selected value="incident">' in html or 'value="incident" selected' in html
    db.session.expire_all()
    assert open_item(db, ticket.id, "classify").id == classify.id  # nothing moved
    assert count(db, Event, ticket_id=ticket.id) == events


def test_completing_a_stage_twice_says_who_was_first(db, web, desk, ticket):
    item = open_item(db, ticket.id, "register")
    assert complete(web.as_(desk["operator"]), item, REGISTER).status_code == 302
    res = complete(web.as_(desk["supervisor"]), item, REGISTER)
    assert res.status_code == 409
    html = res.get_data(as_text=True)
    assert "already completed by t_operator" in html
    assert ticket.number in html  # the ticket page, not a bare error


def test_people_without_access_are_refused(db, web, desk, ticket):
    item = open_item(db, ticket.id, "register")
    for who in ("requester", "stranger"):  # no desk permission: refused at the door
        browser = web.as_(desk[who])
        assert browser.get(f"/desk/tickets/{ticket.id}").status_code == 403
        assert complete(browser, item, REGISTER).status_code == 403
        assert browser.get(f"/desk/tickets/{ticket.id}/presence").status_code == 403
    outsider = web.as_(desk["procadmin"])  # reads tasks, but nothing ties them to this ticket
    assert outsider.get(f"/desk/tickets/{ticket.id}").status_code == 403
    res = outsider.post(f"/desk/tickets/{ticket.id}/messages", {"body": "hi", "visibility": "public"})
    assert res.status_code == 403
    assert outsider.post(f"/desk/tickets/{ticket.id}/watchers", {"login": "t_procadmin"}).status_code == 403
    assert complete(outsider, item, REGISTER).status_code == 403  # may not execute tasks at all
    assert complete(web.as_(desk["engineer"]), item, REGISTER).status_code == 403  # line 2: not its lane
    assert web.as_(desk["operator"]).get("/desk/tickets/987654").status_code == 404
    db.session.expire_all()
    assert open_item(db, ticket.id, "register").id == item.id


def test_a_file_field_takes_an_attachment_of_the_ticket(db, web, desk, ticket):
    from app.services.attachments import attach
    from app.services.forms import attachment_usable

    mine = attach(desk["operator"], ticket, [("scan.pdf", b"%PDF-1.4 scan")])[0]
    db.session.commit()
    browser = web.as_(desk["operator"])
    item = open_item(db, ticket.id, "register")
    res = complete(browser, item, {**REGISTER, "attachment": "987654"})
    assert res.status_code == 422 and "This attachment does not exist" in res.get_data(as_text=True)
    res = complete(browser, item, {**REGISTER, "attachment": f"{mine.id}"})
    assert res.status_code == 302
    db.session.expire_all()
    assert ticket.instance.data["attachment"] == str(mine.id)
    # with the ticket as context, another ticket's file is refused
    assert attachment_usable(str(mine.id), ticket_id=ticket.id)
    assert not attachment_usable(str(mine.id), ticket_id=ticket.id + 1000)
    assert not attachment_usable(f"{mine.id} OR 1=1") and not attachment_usable("../etc/passwd")


# --- thread and files --------------------------------------------------------------------------

def test_internal_notes_are_for_staff_only(db, web, desk, ticket):
    from app.models import TicketMessage
    from app.services.attachments import visible_attachments
    from app.services.history import ticket_history
    from app.services.tickets import ticket_messages

    browser = web.as_(desk["operator"])
    res = browser.post(f"/desk/tickets/{ticket.id}/messages",
                       {"body": "Looks like the fuser unit", "visibility": "internal",
                        "files": (io.BytesIO(b"fuser log"), "fuser.log")}, content_type="multipart/form-data")
    assert res.status_code == 302
    res = browser.post(f"/desk/tickets/{ticket.id}/messages",
                       {"body": "We are on it.\nThanks for waiting.", "visibility": "public"})
    assert res.status_code == 302
    note, public = db.session.execute(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
                                      .order_by(TicketMessage.id)).scalars().all()
    assert note.internal and not public.internal and "<br>" in public.body

    requester = desk["requester"]
    assert [m.id for m in ticket_messages(requester, ticket)] == [public.id]
    assert visible_attachments(requester, ticket) == []
    texts = [e.text for e in ticket_history(requester, ticket).entries]
    assert "Message posted" in texts and "Internal note added" not in texts
    assert not any("fuser.log" in t for t in texts)

    html = page(browser, ticket)
    assert "Looks like the fuser unit" in html and "Internal note" in html and "fuser.log" in html
    assert html.index("Looks like the fuser unit") < html.index("We are on it.")  # newest last
    assert 'class="card mb-2 internal border-warning"' in html


def test_a_message_with_a_refused_file_saves_nothing_and_keeps_the_text(db, web, desk, ticket):
    from app.models import Attachment, TicketMessage

    browser = web.as_(desk["operator"])
    res = browser.post(f"/desk/tickets/{ticket.id}/messages",
                       {"body": "Here is the driver", "visibility": "public",
                        "files": [(io.BytesIO(b"%PDF-1.4 manual"), "manual.pdf"),
                                  (io.BytesIO(b"MZ\x90\x00program"), "setup.exe")]},
                       content_type="multipart/form-data")
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert "setup.exe: programs and scripts cannot be attached." in html
    assert "Here is the driver</textarea>" in html and "choose the files again" in html
    assert count(db, TicketMessage, ticket_id=ticket.id) == 0 and count(db, Attachment, ticket_id=ticket.id) == 0

    res = browser.post(f"/desk/tickets/{ticket.id}/messages",
                       {"body": "Here is the manual", "visibility": "public",
                        "files": [(io.BytesIO(b"%PDF-1.4 manual"), "manual.pdf")]}, content_type="multipart/form-data")
    assert res.status_code == 302
    message = db.session.execute(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)).scalar_one()
    attachment = db.session.execute(select(Attachment).where(Attachment.ticket_id == ticket.id)).scalar_one()
    assert attachment.message_id == message.id and not attachment.internal
    html = page(browser, ticket)
    assert f'href="/files/{attachment.id}"' in html and "manual.pdf" in html and "15 Bytes" in html
    assert browser.get(f"/files/{attachment.id}").status_code == 200


def test_an_empty_reply_is_refused_inline(db, web, desk, ticket):
    res = web.as_(desk["operator"]).post(f"/desk/tickets/{ticket.id}/messages", {"body": "  ", "visibility": "public"})
    assert res.status_code == 422 and "Write a message." in res.get_data(as_text=True)


# --- watchers ----------------------------------------------------------------------------------

def test_watchers_are_added_found_and_removed(db, web, desk, ticket):
    from app.models import Event, Watcher

    browser = web.as_(desk["operator"])
    res = browser.post(f"/desk/tickets/{ticket.id}/watchers", {"login": "t_engineer"})
    assert res.status_code == 302
    assert db.session.get(Watcher, (ticket.id, desk["engineer"].id)) is not None
    html = page(browser, ticket)
    assert f'/desk/tickets/{ticket.id}/watchers/{desk["engineer"].id}/remove' in html
    assert "t_engineer now watches the ticket" in html

    res = browser.post(f"/desk/tickets/{ticket.id}/watchers", {"login": "nobody_like_that"})
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert "There is no user with the login nobody_like_that." in html and 'value="nobody_like_that"' in html

    res = browser.post(f"/desk/tickets/{ticket.id}/watchers/{desk['engineer'].id}/remove")
    assert res.status_code == 302
    assert db.session.get(Watcher, (ticket.id, desk["engineer"].id)) is None
    kinds = db.session.execute(select(Event.kind).where(Event.ticket_id == ticket.id)).scalars().all()
    assert "watcher.added" in kinds and "watcher.removed" in kinds
    assert browser.post(f"/desk/tickets/{ticket.id}/watchers/{desk['engineer'].id}/remove").status_code == 404


def test_the_user_search_offers_active_people_only(db, web, make, desk):
    for n in range(25):
        make.user(f"zz_person{n:02d}")
    gone = make.user("zz_gone")
    gone.active = False
    db.session.commit()
    browser = web.as_(desk["operator"])
    html = browser.get("/desk/users/search?q=zz_").get_data(as_text=True)
    assert html.count("<option") == 20 and "zz_gone" not in html
    assert 'value="t_engineer"' in browser.get("/desk/users/search?login=t_eng").get_data(as_text=True)
    assert "<option" not in browser.get("/desk/users/search?q=%25").get_data(as_text=True)  # a wildcard is text
    assert web.as_(desk["requester"]).get("/desk/users/search?q=t_").status_code == 403


# --- subprocess stages -------------------------------------------------------------------------

def test_stages_of_a_called_subprocess_are_grouped_and_worked_in_the_parent(db, web, desk, ticket):
    operator, engineer = web.as_(desk["operator"]), web.as_(desk["engineer"])
    complete(operator, open_item(db, ticket.id, "register"), REGISTER)
    complete(operator, open_item(db, ticket.id, "classify"), {"category": "incident", "impact": "3", "urgency": "3"})
    complete(operator, open_item(db, ticket.id, "assess"), {"solve_at_line1": "y"})
    res = complete(operator, open_item(db, ticket.id, "resolve_l1"),
                   {"next_step": "escalate", "escalation_reason": "Needs a technician"})
    assert res.status_code == 302
    work = open_item(db, ticket.id, "work_line2")
    assert work.process_id == "escalation" and ticket.process_key == "incident"

    html = page(engineer, ticket)
    assert "Subprocess: Escalation" in html and "in the subprocess Escalation" in html
    timeline = html[html.index('id="timeline-title"'):]
    positions = [timeline.index(t) for t in ("Resolution at line 1", "Subprocess: Escalation", "Work at line 2")]
    assert positions == sorted(positions)
    assert "completed by t_operator" in timeline
    assert f'action="/desk/tasks/{work.id}/complete"' in html and 'name="escalation_outcome"' in html

    res = complete(engineer, work, {"escalation_outcome": "solved", "resolution": "Replaced the roller"})
    assert res.status_code == 302
    open_item(db, ticket.id, "confirm")  # back in the parent: the requester confirms
    from app.services.history import stage_timeline

    segments = stage_timeline(ticket).segments
    assert [s.subprocess for s in segments] == [None, "escalation", None]
    assert [i.element_id for i in segments[1].items] == ["work_line2"]


# --- presence ----------------------------------------------------------------------------------

@pytest.fixture()
def no_presence(app):
    """No marks left by earlier tests (ticket ids repeat: each test's rows are rolled back)."""
    import redis

    client = redis.Redis.from_url(app.config["REDIS_URL"])

    def clear():
        for key in client.scan_iter("stagedesk:presence:*"):
            client.delete(key)

    clear()
    yield
    clear()
    client.close()


def test_two_staff_on_the_same_ticket_see_each_other(db, web, desk, ticket, no_presence):
    operator, supervisor = web.as_(desk["operator"]), web.as_(desk["supervisor"])
    assert "Also here" not in page(operator, ticket)
    assert "Also here: t_operator" in page(supervisor, ticket)
    res = operator.get(f"/desk/tickets/{ticket.id}/presence", headers={"HX-Request": "true"})
    assert res.status_code == 200 and "Also here: t_supervisor" in res.get_data(as_text=True)
    assert "<html" not in res.get_data(as_text=True)  # a fragment


def test_the_page_works_when_presence_is_down(app, db, web, desk, ticket, caplog, no_presence):
    browser = web.as_(desk["operator"])
    page(web.as_(desk["supervisor"]), ticket)
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    # the migrations' logging.config.fileConfig disables the loggers that exist by then
    logging.getLogger("app.services.presence").disabled = False
    try:
        with caplog.at_level(logging.WARNING, logger="app.services.presence"):
            html = page(browser, ticket)
        assert "Also here" not in html and ticket.number in html
        assert any("presence" in r.getMessage() for r in caplog.records)
    finally:
        app.config["REDIS_URL"] = saved


# --- bad input ---------------------------------------------------------------------------------

def test_user_content_is_shown_inert(db, web, make, desk):
    from app.services.attachments import attach

    ticket = make.ticket(desk["requester"], subject=f"{XSS_SCRIPT} {XSS_IMG}",
                         description=f"<p>ok</p>{XSS_SCRIPT}{XSS_IMG}")
    attach(desk["operator"], ticket, [(f"{XSS_IMG}.png", b"\x89PNG fake")])
    db.session.commit()
    browser = web.as_(desk["operator"])
    browser.post(f"/desk/tickets/{ticket.id}/messages", {"body": f"hi {XSS_SCRIPT}{XSS_IMG}", "visibility": "public"})
    browser.post(f"/desk/tickets/{ticket.id}/watchers", {"login": XSS_IMG})  # echoed back in the error
    register = dict(REGISTER, subject=f"Renamed {XSS_IMG}")
    complete(browser, open_item(db, ticket.id, "register"), register)  # the new subject: a field diff
    html = page(browser, ticket)
    assert XSS_SCRIPT not in html and XSS_IMG not in html and "onerror=alert(1)>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;" in html  # the old subject
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in html  # the file name
    assert "Renamed &lt;img src=x onerror=alert(1)&gt;" in html
    assert "onerror" not in html.replace("onerror=alert(1)&gt;", "")  # no live handler anywhere
    assert "<script>" not in html.split('id="thread-title"', 1)[1]  # the message's script is gone
    res = browser.post(f"/desk/tickets/{ticket.id}/watchers", {"login": XSS_SCRIPT})
    assert res.status_code == 422 and XSS_SCRIPT not in res.get_data(as_text=True)
