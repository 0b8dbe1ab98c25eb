"""Registering a ticket by phone: find the caller, see their tickets, register on their behalf."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.models import Ticket, TicketTemplate
from app.services.users import ensure_group, save_user


@pytest.fixture()
def cast(make):
    staff = make.staff()
    make.deploy_shipped(staff["procadmin"])
    for user in staff.values():
        user.locale = "en"  # the desk's default language is Russian; these tests read English
    make.db.session.commit()
    return staff


@pytest.fixture()
def caller(make, cast):
    make.user("r_ivanov")
    user = save_user("r_ivanov", name="Иванов Пётр", phone="+7 (495) 123-45-67", email="P.Ivanov@Example.test")
    user.locale = "en"
    make.db.session.commit()
    return user


def html(res) -> str:
    return res.get_data(as_text=True)


def newest_ticket(db) -> Ticket:
    return db.session.execute(select(Ticket).order_by(Ticket.id.desc()).limit(1)).scalar()


@pytest.mark.parametrize("query", ["84951234567", "+7 495 123", "123-45-67", "иванов", "ПЁТР", "p.ivanov@",
                                   "r_iva"])
def test_the_operator_finds_the_caller_by_phone_name_login_or_e_mail(web, cast, caller, query):
    page = html(web.as_(cast["operator"]).get("/desk/register", query_string={"q": query}))
    assert "Иванов Пётр" in page and "+7 (495) 123-45-67" in page
    # the only match is chosen at once: the form is filled in for them
    assert re.search(r'<input[^>]*name="requester"[^>]*value="r_ivanov"', page)
    assert "Tickets of Иванов Пётр" in page


def test_nobody_found_says_what_to_try(web, cast, caller):
    page = html(web.as_(cast["operator"]).get("/desk/register?q=99999999"))
    assert "Nobody found for “99999999”" in page and "Иванов" not in page


def test_the_callers_open_and_recent_tickets_come_first(db, web, make, cast, caller):
    open_one = make.ticket(caller, subject="Printer on floor 2 jams")
    someone_else = make.ticket(cast["stranger"], subject="Not the caller's")
    page = html(web.as_(cast["operator"]).get("/desk/register?q=4951234567"))
    assert open_one.number in page and "Printer on floor 2 jams" in page
    assert someone_else.number not in page
    assert "Open it instead of registering a duplicate" in page
    assert "Registration" in page  # its current stage, painted


def test_registering_on_behalf_of_the_caller_by_phone(db, web, cast, caller):
    operator = web.as_(cast["operator"])
    res = operator.post("/desk/register?q=ivanov", {
        "requester": "r_ivanov", "channel": "phone", "subject": "Cannot log in to 1C", "description": "Since today",
        "service": "1C", "category": "incident", "priority": ""})
    assert res.status_code == 302
    ticket = newest_ticket(db)
    assert (ticket.subject, ticket.channel, ticket.service, ticket.category) == (
        "Cannot log in to 1C", "phone", "1C", "incident")
    assert ticket.requester_id == caller.id and ticket.created_by_id == cast["operator"].id
    location = res.headers["Location"]
    assert location.endswith(f"/desk/tickets/{ticket.id}") or location.endswith("/desk/register")
    if location.endswith("/desk/register"):
        assert f"Ticket {ticket.number} is registered for Иванов Пётр." in html(operator.get(location))
    # the caller sees it on the portal as their own
    assert ticket.number in html(web.as_(caller).get("/portal/"))


def test_every_channel_people_use_is_offered(web, cast):
    page = html(web.as_(cast["operator"]).get("/desk/register"))
    for value in ("phone", "walk_in", "email", "portal", "chat"):
        assert f'value="{value}"' in page
    assert 'value="api"' not in page
    assert '<option selected value="phone">' in page


def test_a_refused_registration_keeps_what_was_typed(db, web, cast, caller):
    before = newest_ticket(db)
    res = web.as_(cast["operator"]).post("/desk/register", {
        "requester": "nobody_here", "channel": "phone", "subject": "Typed subject", "description": "Typed text"})
    assert res.status_code == 422
    page = html(res)
    assert "There is no user with the login nobody_here." in page
    assert 'value="Typed subject"' in page and "Typed text</textarea>" in page
    res = web.as_(cast["operator"]).post("/desk/register", {"requester": "r_ivanov", "channel": "fax", "subject": ""})
    assert res.status_code == 422 and "Write a short subject." in html(res) and "Not a valid choice" in html(res)
    assert newest_ticket(db) == before


def test_templates_are_one_click_away_and_pre_fill_the_form(db, web, make, cast, caller):
    line2 = ensure_group("Line 2")
    tpl = TicketTemplate(name="Password reset", subject="Reset the password", service="Active Directory",
                         category="service_request", priority="P3", description="Account: ", group_id=line2.id,
                         for_requesters=False, process_key="incident")
    db.session.add(tpl)
    db.session.commit()
    operator = web.as_(cast["operator"])
    page = html(operator.get("/desk/register?q=4951234567"))
    link = f"/desk/register?q=4951234567&amp;user=r_ivanov&amp;template={tpl.id}&amp;channel=phone"
    assert link in page and "→ Line 2" in page
    page = html(operator.get(link.replace("&amp;", "&")))
    assert 'value="Reset the password"' in page and 'value="Active Directory"' in page
    assert '<option selected value="P3">' in page and '<option selected value="service_request">' in page
    assert "Account: </textarea>" in page and 'value="r_ivanov"' in page
    assert "usually handled by Line 2" in page
    res = operator.post("/desk/register", {"template_id": str(tpl.id), "requester": "r_ivanov", "channel": "phone",
                                           "subject": "Reset the password", "priority": "P3",
                                           "service": "Active Directory", "category": "service_request"})
    assert res.status_code == 302
    ticket = newest_ticket(db)
    assert (ticket.priority, ticket.category, ticket.requester_id) == ("P3", "service_request", caller.id)
    # a requester never sees staff-only templates
    assert "Password reset" not in html(web.as_(caller).get("/portal/new"))


def test_only_staff_who_may_add_tasks_register_by_phone(db, web, make, cast):
    anonymous = web.as_(None).get("/desk/register")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    assert web.as_(cast["requester"]).get("/desk/register").status_code == 403
    assert web.as_(cast["requester"]).post("/desk/register", {"requester": "t_requester", "subject": "x",
                                                               "channel": "phone"}).status_code == 403
    # read tasks without add tasks (process admins): no door at all — the page shows a caller's
    # tickets, which only those who register tickets need to see
    procadmin = web.as_(cast["procadmin"])
    assert procadmin.get("/desk/register?user=t_requester").status_code == 403
    before = newest_ticket(db)
    res = procadmin.post("/desk/register", {"requester": "t_requester", "subject": "x", "channel": "phone"})
    assert res.status_code == 403 and newest_ticket(db) == before
    for role in ("operator", "engineer", "supervisor", "admin"):
        assert web.as_(cast[role]).get("/desk/register").status_code == 200


def test_search_input_and_names_are_shown_inert(db, web, make, cast):
    make.user("r_evil")
    save_user("r_evil", name='<script>alert("x")</script>Evil', phone="+1 555 0100")
    make.db.session.commit()
    page = html(web.as_(cast["operator"]).get("/desk/register", query_string={"q": "<img src=x onerror=alert(1)>"}))
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    page = html(web.as_(cast["operator"]).get("/desk/register?q=5550100"))
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;Evil" in page


def test_unicode_and_right_to_left_text_are_registered_intact(db, web, cast, caller):
    subject = "Не работает почта 📧 — הדואר לא עובד"
    res = web.as_(cast["operator"]).post("/desk/register", {"requester": "r_ivanov", "channel": "walk_in",
                                                             "subject": subject, "description": "مرحبا 👋"})
    assert res.status_code == 302
    ticket = newest_ticket(db)
    assert ticket.subject == subject and "مرحبا 👋" in ticket.description and ticket.channel == "walk_in"
