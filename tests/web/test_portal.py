"""The requester portal: my tickets, filing a ticket with files and screenshots, templates,
the ticket page (public thread, watchers) and the requester's own stages (confirm, rate)."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.models import Attachment, Ticket, TicketMessage, TicketTemplate, WorkItem
from app.models.base import utcnow
from app.services import attachments, tickets

#: the smallest valid PNG (1×1, transparent): what the screenshot button and pasting produce
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


@pytest.fixture()
def cast(make):
    staff = make.staff()
    make.deploy_shipped(staff["procadmin"])
    for user in staff.values():
        user.locale = "en"  # the desk's default language is Russian; these tests read English
    make.db.session.commit()
    return staff


def html(res) -> str:
    return res.get_data(as_text=True)


def open_item(db, ticket_id: int, element_id: str) -> WorkItem:
    item = db.session.execute(select(WorkItem).where(WorkItem.ticket_id == ticket_id, WorkItem.status == "open",
                                                     WorkItem.element_id == element_id)).scalar()
    assert item is not None, f"no open stage {element_id}"
    return item


def work(db, ticket_id: int, element_id: str, actor, data: dict) -> None:
    tickets.complete_stage(actor, open_item(db, ticket_id, element_id).id, data)
    db.session.commit()


def to_confirmation(db, cast, ticket_id: int) -> None:
    """Staff walk an incident to its resolution at line 1 (bpmn/README.md): the requester's
    "Confirm resolution" stage opens."""
    op = cast["operator"]
    work(db, ticket_id, "register", op, {"subject": "The printer on floor 3 jams", "description": "Every second page", "requester": "t_requester",
                                         "channel": "portal"})
    work(db, ticket_id, "classify", op, {"category": "incident", "impact": 2, "urgency": 2})
    work(db, ticket_id, "assess", op, {"solve_at_line1": True, "assessment": "Known issue"})
    work(db, ticket_id, "resolve_l1", op, {"resolution": "Cleared the paper path", "next_step": "resolved"})


def template(db, name: str, *, for_requesters: bool = True, **fields) -> TicketTemplate:
    fields.setdefault("subject", f"{name}: please help")
    tpl = TicketTemplate(name=name, for_requesters=for_requesters, **fields)
    db.session.add(tpl)
    db.session.commit()
    return tpl


def count(db, model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar()


# ---------------------------------------------------------------- my tickets

def test_my_tickets_lists_mine_and_watched_with_the_current_stage_painted(db, web, make, cast):
    me, other = cast["requester"], cast["stranger"]
    mine = make.ticket(me, subject="My printer is jammed")
    for_me = make.ticket(cast["operator"], subject="Registered for me by phone", requester=me.login, channel="phone")
    theirs = make.ticket(other, subject="Someone else's ticket")
    followed = make.ticket(other, subject="A ticket I follow")
    tickets.add_watcher(other, followed.id, me.login)
    db.session.commit()

    page = html(web.as_(me).get("/portal/"))
    assert page.count("<h1") == 1
    mine_part, _, watched_part = page.partition("Tickets I follow")
    assert mine.number in mine_part and for_me.number in mine_part
    assert theirs.number not in page and "Someone else" not in page
    assert followed.number in watched_part and followed.number not in mine_part
    # newest first
    assert mine_part.index(for_me.number) < mine_part.index(mine.number)
    # the current stage, painted from the diagram (incident.bpmn: register)
    stage = open_item(db, mine.id, "register")
    assert (stage.color, stage.background, stage.icon) != (None, None, None)
    assert f"--stage-color: {stage.color}; --stage-background: {stage.background}" in page
    assert f"bi-{stage.icon}" in page and "Registration" in page and "New" in page


def test_my_tickets_filters_open_and_closed_and_pages_by_keyset(db, web, make, cast):
    me = cast["requester"]
    first = make.ticket(me, subject="First")
    second = make.ticket(me, subject="Second")
    browser = web.as_(me)
    assert "Second" in html(browser.get("/portal/?state=open"))
    assert "You have no tickets here yet." in html(browser.get("/portal/?state=closed"))
    older = html(browser.get(f"/portal/?before={second.id}"))
    assert first.number in older and second.number not in older
    assert "Newest" in older  # a way back to the first page


def test_the_sla_bar_shows_the_share_of_time_used_and_overdue_in_red(db, web, make, cast):
    me = cast["requester"]
    ticket = make.ticket(me)
    item = open_item(db, ticket.id, "register")
    item.created_at = utcnow() - timedelta(hours=3)
    item.due_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    page = html(web.as_(me).get("/portal/"))
    bar = re.search(r'<div class="progress sla-bar" role="progressbar"[^>]*>', page).group(0)
    assert 'aria-valuenow="75"' in bar and 'aria-valuemin="0"' in bar and 'aria-valuemax="100"' in bar
    assert "75% of the time used, due" in page and "bg-danger" not in page

    item.due_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    page = html(web.as_(me).get("/portal/"))
    assert 'aria-valuenow="100"' in page and "bg-danger" in page and "Overdue since" in page
    assert "Overdue since" in html(web.as_(me).get(f"/portal/tickets/{ticket.id}"))


# ---------------------------------------------------------------- filing a ticket

def test_filing_a_ticket_with_two_attachments_one_a_pasted_screenshot(db, web, cast):
    me = cast["requester"]
    browser = web.as_(me)
    form = html(browser.get("/portal/new"))
    assert 'enctype="multipart/form-data"' in form and 'name="files"' in form and "multiple" in form
    assert "simple formatting (bold, lists, links) are kept" in form
    assert '<option value="service_request">Service request</option>' in form  # from classify.json
    res = browser.post("/portal/new", {
        "subject": "Monitor flickers", "description": "Since Monday.\nEvery few minutes.", "service": "Workplace",
        "category": "incident",
        "files": [(io.BytesIO(PNG), "screenshot-20250301-101500.png"), (io.BytesIO(b"error 42\n"), "log.txt")],
    }, content_type="multipart/form-data")
    assert res.status_code == 302
    ticket_id = int(res.headers["Location"].rsplit("/", 1)[-1])
    ticket = db.session.get(Ticket, ticket_id)
    assert (ticket.subject, ticket.channel, ticket.service, ticket.category) == (
        "Monitor flickers", "portal", "Workplace", "incident")
    assert ticket.requester_id == me.id and ticket.process_key == "incident"
    assert ticket.description == "Since Monday.<br>\nEvery few minutes."  # line breaks kept
    files = attachments.visible_attachments(me, ticket)
    assert [(a.filename, a.content_type, a.internal) for a in files] == [
        ("screenshot-20250301-101500.png", "image/png", False), ("log.txt", "text/plain", False)]
    page = html(browser.get(res.headers["Location"]))
    assert "Ticket %s is registered" % ticket.number in page
    assert "screenshot-20250301-101500.png" in page and f"/files/{files[0].id}" in page
    assert browser.get(f"/files/{files[0].id}").data == PNG
    # a service one person typed is not shown to others; once several people name it, it is
    assert 'value="Workplace"' not in html(web.as_(cast["stranger"]).get("/portal/new"))
    for login in ("p_other1", "p_other2"):
        web.make.ticket(web.make.user(login), service="Workplace")
    assert '<datalist id="service-options"><option value="Workplace">' in html(browser.get("/portal/new"))


def test_a_refused_program_saves_nothing_and_keeps_what_was_typed(db, web, cast):
    me = cast["requester"]
    before = (count(db, Ticket), count(db, Attachment))
    res = web.as_(me).post("/portal/new", {
        "subject": "VPN drops every hour", "description": "Typed with care", "service": "VPN",
        "files": [(io.BytesIO(PNG), "fine.png"), (io.BytesIO(EXE), "fix.exe")],
    }, content_type="multipart/form-data")
    assert res.status_code == 422
    page = html(res)
    assert (count(db, Ticket), count(db, Attachment)) == before
    assert "fix.exe: programs and scripts cannot be attached." in page
    assert 'value="VPN drops every hour"' in page and "Typed with care</textarea>" in page and 'value="VPN"' in page
    assert "choose the files again" in page
    assert 'aria-invalid="true"' in page


def test_a_missing_subject_and_a_bad_file_are_reported_together(db, web, cast):
    res = web.as_(cast["requester"]).post("/portal/new", {
        "subject": "", "description": "no subject", "files": [(io.BytesIO(b"#!/bin/sh\nrm -rf /"), "notes.txt")],
    }, content_type="multipart/form-data")
    page = html(res)
    assert res.status_code == 422
    assert "Write a short subject." in page and "notes.txt: programs and scripts cannot be attached." in page


def test_templates_offered_to_requesters_pre_fill_the_form(db, web, cast):
    printer = template(db, "Printer jam", subject="The printer jams", service="Printing", category="incident",
                       priority="P3", description="Which printer: ")
    staff_only = template(db, "Server restart", for_requesters=False, service="Servers")
    browser = web.as_(cast["requester"])
    listing = html(browser.get("/portal/"))
    assert f"/portal/new?template={printer.id}" in listing and "Server restart" not in listing
    page = html(browser.get(f"/portal/new?template={printer.id}"))
    assert 'value="The printer jams"' in page and 'value="Printing"' in page
    assert '<option selected value="incident">' in page and "Which printer: </textarea>" in page
    assert browser.get(f"/portal/new?template={staff_only.id}").status_code == 404
    res = browser.post("/portal/new", {"template_id": str(printer.id), "subject": "The printer jams",
                                       "service": "Printing", "category": "incident", "description": "HP on 3"},
                       content_type="multipart/form-data")
    assert res.status_code == 302
    ticket = db.session.execute(select(Ticket).order_by(Ticket.id.desc()).limit(1)).scalar()
    assert (ticket.priority, ticket.service, ticket.channel) == ("P3", "Printing", "portal")


# ---------------------------------------------------------------- the ticket page

def test_the_requester_sees_public_messages_and_files_never_internal_ones(db, web, make, cast):
    me, engineer = cast["requester"], cast["operator"]
    ticket = make.ticket(me, subject="Mail does not sync")
    note = tickets.post_message(engineer, ticket.id, "INTERNAL: the mail server is down again", internal=True)
    attachments.attach(engineer, ticket, [("server-log.txt", b"secret log")], message=note, internal=True)
    public = tickets.post_message(engineer, ticket.id, "We are on it, restart Outlook please")
    attachments.attach(engineer, ticket, [("howto.txt", b"steps")], message=public)
    db.session.commit()
    for viewer in (me, cast["supervisor"]):  # the portal shows the requester's view, even to staff
        page = html(web.as_(viewer).get(f"/portal/tickets/{ticket.id}"))
        assert "We are on it, restart Outlook please" in page and "howto.txt" in page
        assert "INTERNAL" not in page and "server-log.txt" not in page


def test_a_requester_message_with_a_file_and_its_validation(db, web, make, cast):
    me = cast["requester"]
    ticket = make.ticket(me)
    browser = web.as_(me)
    res = browser.post(f"/portal/tickets/{ticket.id}/messages", {"body": "  "})
    assert res.status_code == 422 and "Write a message." in html(res)
    res = browser.post(f"/portal/tickets/{ticket.id}/messages",
                       {"body": "Here is the screen", "files": [(io.BytesIO(EXE), "setup.exe")]},
                       content_type="multipart/form-data")
    assert res.status_code == 422 and "Here is the screen</textarea>" in html(res)
    assert count(db, TicketMessage) == 0
    res = browser.post(f"/portal/tickets/{ticket.id}/messages",
                       {"body": "Here is the screen", "files": [(io.BytesIO(PNG), "screenshot-20250301-101500.png")]},
                       content_type="multipart/form-data")
    assert res.status_code == 302 and "#message-" in res.headers["Location"]
    [message] = tickets.ticket_messages(me, ticket)
    assert message.from_requester and not message.internal
    [file] = attachments.visible_attachments(me, ticket)
    assert file.message_id == message.id


def test_a_requester_reply_wakes_the_waiting_stage(db, web, make, cast):
    me, op, eng = cast["requester"], cast["operator"], cast["engineer"]
    ticket = make.ticket(me)
    work(db, ticket.id, "register", op, {"subject": "Laptop is slow", "description": "Very slow", "requester": "t_requester",
                                                   "channel": "portal"})
    work(db, ticket.id, "classify", op, {"category": "incident", "impact": 2, "urgency": 2})
    work(db, ticket.id, "assess", op, {"solve_at_line1": False})
    work(db, ticket.id, "assign", eng, {"engineer": "t_engineer"})
    work(db, ticket.id, "identify", eng, {"diagnosis": "Unclear", "next_step": "ask_requester",
                                           "question": "Which model is it?"})
    page = html(web.as_(me).get(f"/portal/tickets/{ticket.id}"))
    assert "Waiting for the requester" in page
    # the question the diagram sent (notify_requester) is in the thread, as text
    assert "Question from the service desk" in page and "Which model is it?" in page
    res = web.as_(me).post(f"/portal/tickets/{ticket.id}/messages", {"body": "A ThinkPad T14"})
    assert res.status_code == 302
    db.session.expire_all()
    stages = [(s.element_id, s.status) for s in tickets.ticket_stages(db.session.get(Ticket, ticket.id))]
    assert ("wait_identify", "cancelled") in stages  # interrupted by the reply (bpmn/README.md)
    assert stages[-1] == ("identify", "open")


def test_the_requester_adds_watchers_by_login_or_e_mail(db, web, make, cast):
    me, colleague = cast["requester"], cast["stranger"]
    ticket = make.ticket(me)
    assert web.as_(colleague).get(f"/portal/tickets/{ticket.id}").status_code == 403
    browser = web.as_(me)
    res = browser.post(f"/portal/tickets/{ticket.id}/watchers", {"login": "nobody_here"})
    assert res.status_code == 422 and "There is no user with the login nobody_here." in html(res)
    res = browser.post(f"/portal/tickets/{ticket.id}/watchers", {"login": "T_Stranger@Example.test"})
    assert res.status_code == 302
    assert "t_stranger now follows this ticket." in html(browser.get(res.headers["Location"]))
    assert web.as_(colleague).get(f"/portal/tickets/{ticket.id}").status_code == 200
    assert ticket.number in html(web.as_(colleague).get("/portal/")).partition("Tickets I follow")[2]


def test_the_requester_confirms_and_rates_on_the_portal(db, web, make, cast):
    me = cast["requester"]
    ticket = make.ticket(me, subject="Printer jams")
    to_confirmation(db, cast, ticket.id)
    confirm = open_item(db, ticket.id, "confirm")
    assert confirm.assignee_id == me.id
    browser = web.as_(me)
    page = html(browser.get(f"/portal/tickets/{ticket.id}"))
    assert f'action="/portal/tasks/{confirm.id}/complete"' in page and "The problem is solved" in page
    assert "The ticket is resolved" in page and "Cleared the paper path" in page  # what to confirm
    # someone else's stage: staff cannot complete it through the portal
    assert web.as_(cast["operator"]).post(f"/portal/tasks/{confirm.id}/complete", {"confirmed": "y"}).status_code == 403

    res = browser.post(f"/portal/tasks/{confirm.id}/complete", {"confirmed": "y"})
    assert res.status_code == 302
    again = browser.post(f"/portal/tasks/{confirm.id}/complete", {"confirmed": "y"})
    assert again.status_code == 409 and "already completed by" in html(again)

    rate = open_item(db, ticket.id, "rate")
    res = browser.post(f"/portal/tasks/{rate.id}/complete", {"rating": "9", "rating_comment": "Wow"})
    assert res.status_code == 422
    page = html(res)
    assert 'id="rating-errors">Choose one of: 1' in page and "Wow</textarea>" in page  # inline, what was typed kept
    res = browser.post(f"/portal/tasks/{rate.id}/complete", {"rating": "5", "rating_comment": "Quick and polite 👍"})
    assert res.status_code == 302
    db.session.expire_all()
    done = db.session.get(Ticket, ticket.id)
    assert done.closed and done.instance.data["rating"] == 5
    page = html(browser.get(f"/portal/tickets/{ticket.id}"))
    assert "Your rating" in page and "5 of 5" in page and "Quick and polite 👍" in page
    assert f"/portal/tasks/{rate.id}/complete" not in page  # nothing left to do
    assert ticket.number in html(browser.get("/portal/?state=closed"))
    assert ticket.number not in html(browser.get("/portal/?state=open"))


def test_reopening_with_a_reason_sends_the_ticket_back(db, web, make, cast):
    me = cast["requester"]
    ticket = make.ticket(me)
    to_confirmation(db, cast, ticket.id)
    confirm = open_item(db, ticket.id, "confirm")
    res = web.as_(me).post(f"/portal/tasks/{confirm.id}/complete", {"reopen_reason": "Still jams"})
    assert res.status_code == 302
    db.session.expire_all()
    assert open_item(db, ticket.id, "resolve_l1").status == "open"


# ---------------------------------------------------------------- access

def test_who_may_use_the_portal(db, web, make, cast):
    ticket = make.ticket(cast["requester"])
    anonymous = web.as_(None)
    for path in ("/portal/", "/portal/new", f"/portal/tickets/{ticket.id}"):
        res = anonymous.get(path)
        assert res.status_code == 302 and res.headers["Location"].startswith("/login")
    stranger = web.as_(cast["stranger"])
    assert stranger.get(f"/portal/tickets/{ticket.id}").status_code == 403
    assert stranger.post(f"/portal/tickets/{ticket.id}/messages", {"body": "hi"}).status_code == 403
    assert stranger.post(f"/portal/tickets/{ticket.id}/watchers", {"login": "t_stranger"}).status_code == 403
    assert stranger.get("/portal/tickets/999999").status_code == 404
    procadmin = web.as_(cast["procadmin"])  # no "add tasks": may not file tickets
    assert procadmin.get("/portal/new").status_code == 403
    assert "New ticket" not in html(procadmin.get("/portal/"))


# ---------------------------------------------------------------- bad input

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_xss_payloads_are_shown_inert(db, web, cast):
    me = cast["requester"]
    browser = web.as_(me)
    res = browser.post("/portal/new", {
        "subject": XSS, "description": XSS + "<b>bold</b> <a href=\"javascript:alert(1)\">link</a>", "service": XSS,
        "files": [(io.BytesIO(PNG), "<svg onload=alert(1)>'.png")]}, content_type="multipart/form-data")
    assert res.status_code == 302
    ticket_url = res.headers["Location"]
    browser.post(ticket_url + "/messages", {"body": '<svg onload="alert(2)">hi</svg><i>ok</i>'})
    for page in (html(browser.get(ticket_url)), html(browser.get("/portal/"))):
        assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page
        assert "javascript:alert" not in page
    page = html(browser.get(ticket_url))
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page  # the subject, as text
    assert "<b>bold</b>" in page and "<i>ok</i>" in page  # simple formatting kept
    assert "&lt;svg onload=alert(1)&gt;&#39;.png" in page  # the file name, as text


def test_xss_in_a_failed_form_is_echoed_escaped(db, web, cast):
    res = web.as_(cast["requester"]).post("/portal/new", {
        "subject": XSS, "description": XSS, "files": [(io.BytesIO(EXE), "x.exe")]},
        content_type="multipart/form-data")
    page = html(res)
    assert res.status_code == 422 and "<script>alert" not in page and "<img src=x" not in page


def test_unicode_emoji_and_right_to_left_text_stay_intact(db, web, cast):
    subject = "Принтер не печатает 🖨️ — שלום עולם"
    description = "Ёлка, 中文, emoji 👩🏽‍💻 و العربية"
    browser = web.as_(cast["requester"])
    res = browser.post("/portal/new", {"subject": subject, "description": description,
                                       "files": [(io.BytesIO(PNG), "снимок экрана 📸.png")]},
                       content_type="multipart/form-data")
    assert res.status_code == 302
    page = html(browser.get(res.headers["Location"]))
    assert subject in page and description in page and "снимок экрана 📸.png" in page
    assert 'dir="auto"' in page
    ticket = db.session.execute(select(Ticket).order_by(Ticket.id.desc()).limit(1)).scalar()
    assert ticket.subject == subject


# ---------------------------------------------------------------- the attachment field

def test_every_attachment_field_carries_the_paste_and_screenshot_enhancement(web, make, cast):
    me = cast["requester"]
    ticket = make.ticket(me)
    browser = web.as_(me)
    for path in ("/portal/new", f"/portal/tickets/{ticket.id}"):
        page = html(browser.get(path))
        block = re.search(r"<div class=\"mb-3 attach-field\" data-attach.*?</div>\s*<script", page, re.S).group(0)
        assert 'type="file"' in block and "multiple" in block
        assert 'data-attach-capture hidden' in block  # shown by the script only where getDisplayMedia exists
        for key in ("remove", "remove-file", "added", "removed", "capture-failed"):
            assert f"data-label-{key}=" in block
        assert 'data-label-remove-file="Remove {name}"' in block
        assert "/static/js/attachments.js" in page
    script = browser.get("/static/js/attachments.js")
    assert script.status_code == 200
    source = script.get_data(as_text=True)
    script.close()
    assert "getDisplayMedia({ video: true })" in source and "DataTransfer" in source and "image/png" in source
    assert "screenshot-" in source


def test_a_watchers_message_is_not_labelled_as_the_service_desk(db, web, cast):
    from app.services.tickets import add_watcher, post_message

    ticket = web.make.ticket(cast["requester"])
    add_watcher(cast["requester"], ticket.id, "t_stranger")
    post_message(cast["stranger"], ticket.id, "Pay the invoice at evil.example")
    post_message(cast["operator"], ticket.id, "We are on it")
    db.session.commit()
    page = html(web.as_(cast["requester"]).get(f"/portal/tickets/{ticket.id}"))
    stranger_part = page.split("Pay the invoice")[0].rsplit("<article", 1)[1]
    operator_part = page.split("We are on it")[0].rsplit("<article", 1)[1]
    assert "· watcher" in stranger_part and "service desk" not in stranger_part
    assert "· service desk" in operator_part


def test_posting_messages_is_rate_limited_per_person(app, db, web, cast):
    """One person cannot flood a ticket (each message may carry files); others are not held up."""
    ticket = web.make.ticket(cast["requester"])
    app.config["MESSAGE_RATE_LIMIT"] = "2 per minute"
    try:
        me = web.as_(cast["requester"])
        codes = [me.post(f"/portal/tickets/{ticket.id}/messages", {"body": f"Message {n}"}).status_code
                 for n in range(3)]
        assert codes == [302, 302, 429]
        assert "too fast" in me.post(f"/portal/tickets/{ticket.id}/messages", {"body": "again"}).get_data(as_text=True)
        operator = web.as_(cast["operator"])
        res = operator.post(f"/desk/tickets/{ticket.id}/messages", {"body": "On it", "visibility": "public"})
        assert res.status_code in (302, 303)
    finally:
        app.config["MESSAGE_RATE_LIMIT"] = "100000 per minute"
