"""Issue 3, point 9: the whole incident lifecycle in a real browser, person by person.

A requester files a ticket with a pasted screenshot on the portal; line 1 registers,
classifies and assesses it (not solvable at line 1: on to line 2); line 2 assigns the
engineer, who asks the requester a question (the waiting stage); the requester answers on
the portal, which wakes the ticket; line 2 resolves; the requester confirms and rates; the
manager of the engineer and of the requester sees the work in the subordinates' tab.
The path follows bpmn/README.md (incident) and forms/*.json."""
from __future__ import annotations

from browser_helpers import is_png, png_bytes
from flows import complete_stage, file_ticket, post_reply, stage_card


def _attachments(session, ticket_id: int) -> list[tuple[str, str, bytes]]:
    from app.models import Attachment, AttachmentBlob

    rows = session.query(Attachment.filename, Attachment.content_type, AttachmentBlob.content).join(
        AttachmentBlob, AttachmentBlob.sha256 == Attachment.sha256).filter(Attachment.ticket_id == ticket_id)
    return [(name, kind, bytes(content)) for name, kind, content in rows]


def _ticket_state(session, ticket_id: int) -> dict:
    from app.models import Ticket, WorkItem

    ticket = session.get(Ticket, ticket_id)
    open_items = session.query(WorkItem.element_id).filter(WorkItem.ticket_id == ticket_id,
                                                           WorkItem.status == "open").all()
    return {"closed": ticket.closed, "status": ticket.status, "priority": ticket.priority, "rating": ticket.rating,
            "rating_comment": ticket.rating_comment, "open": sorted(e for (e,) in open_items)}


def _subordinates_tab(person, number: str):
    page = person.page
    person.goto("/desk/?tab=subordinates")
    return page.locator("tr[data-queue-row]").filter(has_text=number)


def test_an_incident_from_the_portal_to_the_rating(people, site):
    cast = site.cast("requester", "operator", "engineer", "supervisor")
    site.deploy_shipped()
    screenshot = png_bytes(16, 9, (10, 120, 200))

    # --- the requester files the ticket with a pasted screenshot ---------------------------
    requester = people.open(cast["requester"])
    assert requester.page.url == site.url + "/portal/"  # signing in lands where each person works
    ticket_id = file_ticket(requester, subject="The accounting printer prints blank pages",
                            description="Since this morning every page comes out blank.",
                            paste=("clipboard.png", screenshot))
    page = requester.page
    number = page.locator("h1 .text-body-secondary").inner_text().strip()
    assert number.startswith("INC-")
    stored = site.read(lambda s: _attachments(s, ticket_id))
    assert len(stored) == 1
    name, kind, content = stored[0]
    assert name.startswith("screenshot-") and name.endswith(".png") and kind == "image/png"
    assert content == screenshot and is_png(content)
    assert page.get_by_role("link", name=name).is_visible()

    # --- line 1: register, classify, assess → line 2 ------------------------------------------
    operator = people.open(cast["operator"])
    assert operator.page.url == site.url + "/desk/"
    operator.goto(f"/desk/tickets/{ticket_id}")
    complete_stage(operator, "Registration")
    complete_stage(operator, "Classification", {"category": "incident", "impact": 2, "urgency": 1,
                                                 "classification_note": "Whole department affected"})
    complete_stage(operator, "Initial assessment", {"solve_at_line1": False,
                                                    "assessment": "Hardware: for line 2"})
    state = site.read(lambda s: _ticket_state(s, ticket_id))
    assert state["priority"] == "P2" and state["open"] == ["assign"]  # impact 2 × urgency 1

    # --- line 2: assign the engineer, who asks the requester ------------------------------------
    engineer = people.open(cast["engineer"])
    engineer.goto(f"/desk/tickets/{ticket_id}")
    complete_stage(engineer, "Assignment of an engineer", {"engineer": cast["engineer"]})
    question = "Which tray do you print from: the upper or the lower one?"
    complete_stage(engineer, "Identification", {"diagnosis": "Toner or tray problem", "next_step": "ask_requester",
                                                "question": question})
    assert site.read(lambda s: _ticket_state(s, ticket_id))["open"] == ["wait_identify"]
    stage_card(engineer.page, "Waiting for the requester")

    # the manager sees the engineer's waiting stage among the subordinates' tasks
    manager = people.open(cast["supervisor"])
    row = _subordinates_tab(manager, number)
    assert row.count() == 1 and "Waiting for the requester" in row.inner_text()

    # --- the requester answers on the portal: the reply wakes the ticket --------------------
    requester.goto(f"/portal/tickets/{ticket_id}")
    assert "Waiting for the requester" in page.inner_text("main")
    assert question in page.inner_text("main")  # what line 2 asks, where the requester answers
    post_reply(requester, "The lower tray. The upper one works.")
    assert "The lower tray." in page.locator(".thread").inner_text()
    assert site.read(lambda s: _ticket_state(s, ticket_id))["open"] == ["identify"]

    # --- line 2 resolves ------------------------------------------------------------------------
    engineer.goto(f"/desk/tickets/{ticket_id}")
    assert "The lower tray." in engineer.page.inner_text("main")  # the reply is in the desk's thread
    complete_stage(engineer, "Identification", {"diagnosis": "The lower tray's pick-up roller is worn",
                                                "next_step": "resolve"})
    complete_stage(engineer, "Resolution", {"resolution": "Replaced the pick-up roller of the lower tray.",
                                            "next_step": "resolved"})
    assert site.read(lambda s: _ticket_state(s, ticket_id))["open"] == ["confirm"]

    # the requester's own stage is the manager's subordinate's task too
    row = _subordinates_tab(manager, number)
    assert row.count() == 1 and "Confirm resolution" in row.inner_text()

    # --- the requester confirms and rates ------------------------------------------------------
    requester.goto(f"/portal/tickets/{ticket_id}")
    complete_stage(requester, "Confirm resolution", {"confirmed": True})
    complete_stage(requester, "Rate the result", {"rating": 5, "rating_comment": "Fast and friendly, thank you!"})
    state = site.read(lambda s: _ticket_state(s, ticket_id))
    assert state["closed"] and state["open"] == []
    assert (state["rating"], state["rating_comment"]) == (5, "Fast and friendly, thank you!")
    assert "5 of 5" in page.inner_text("main")

    # --- the manager: nothing open is left; the closed ticket with its history is there ------
    assert _subordinates_tab(manager, number).count() == 0
    manager.goto(f"/desk/tickets/{ticket_id}")
    main = manager.page.inner_text("main")
    assert "No open stages." in main and "Rate the result" in main


def test_the_requester_reads_the_engineers_question_on_the_portal(people, site):
    """The waiting stage: what line 2 asks must reach the requester where they answer."""
    cast = site.cast("requester", "operator", "engineer")
    site.deploy_shipped()
    ticket_id, _ = site.ticket(cast["requester"], subject="Mail does not sync", description="Since Monday.",
                               channel="portal")
    question = "Does it happen on the phone too, or only on the laptop?"
    for login, element, data in (
            (cast["operator"], "register", {"subject": "Mail does not sync", "description": "Since Monday.",
                                             "requester": cast["requester"], "channel": "portal"}),
            (cast["operator"], "classify", {"category": "incident", "impact": 3, "urgency": 2}),
            (cast["operator"], "assess", {"solve_at_line1": False}),
            (cast["engineer"], "assign", {"engineer": cast["engineer"]}),
            (cast["engineer"], "identify", {"diagnosis": "Unknown yet", "next_step": "ask_requester",
                                            "question": question})):
        site.complete(login, ticket_id, element, data)
    requester = people.open(cast["requester"])
    requester.goto(f"/portal/tickets/{ticket_id}")
    main = requester.page.inner_text("main")
    assert "Waiting for the requester" in main
    assert question in main, "the portal does not show the question the requester is asked to answer"
