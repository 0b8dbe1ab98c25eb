"""Issue 3, point 8: axe-core (node_modules/axe-core) finds no serious or critical violation
on the main pages, for the requester (portal) and for staff (desk); the login page is
checked in test_sign_in.py."""
from __future__ import annotations

from browser_helpers import READY, axe_report


def _check(person, paths: list[str]) -> list[str]:
    """Every page: exactly one h1 and no serious/critical axe violation; the reports of all
    pages at once (one run shows every problem)."""
    problems = []
    for path in paths:
        person.goto(path)
        headings = person.page.locator("h1").count()
        if headings != 1:
            problems.append(f"/{path.lstrip('/')}: {headings} h1 elements, expected one")
        problems.append(axe_report(person.page)[1])
    return [p for p in problems if p]


def test_the_portal_and_the_desk_pages_have_no_serious_violations(people, site):
    cast = site.cast("requester", "operator")
    site.deploy_shipped()
    ticket_id, number = site.ticket(cast["requester"], subject="The VPN drops every ten minutes",
                                    description="<p>Since the update of <b>Monday</b>.</p>", channel="portal")
    requester = people.open(cast["requester"])
    problems = _check(requester, [f"/portal/tickets/{ticket_id}", "/portal/", "/portal/new"])
    # the new-ticket form sent back with errors: the message tied to its field
    page = requester.page
    requester.watch.allow_console("status of 422")  # the form comes back as 422 Unprocessable
    with page.expect_navigation(wait_until=READY):
        page.get_by_role("button", name="Send the ticket").click()
    assert page.locator("#subject").get_attribute("aria-invalid") == "true"
    assert "Write a short subject." in page.inner_text("main")
    problems.append(axe_report(page)[1])
    operator = people.open(cast["operator"])
    problems += _check(operator, ["/desk/", "/desk/?tab=group", f"/desk/tickets/{ticket_id}"])
    assert number in operator.page.inner_text("h1")
    assert "Registration" in operator.page.inner_text("main")  # the painted stage card is there
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
