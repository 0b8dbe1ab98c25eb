"""Steps people take in the browser, shared by the flow tests: filing a ticket on the portal,
completing a stage card on the desk or the portal, writing a message."""
from __future__ import annotations

import re

from browser_helpers import READY, Person, paste_file

TICKET_URL = re.compile(r"/(?:portal|desk)/tickets/(\d+)")


def ticket_id_of(url: str) -> int:
    match = TICKET_URL.search(url)
    assert match, f"not a ticket page: {url}"
    return int(match.group(1))


def chosen_files(page, selector: str) -> list[dict]:
    """The files an <input type=file> holds now: name, type, size."""
    return page.eval_on_selector(selector, "input => Array.from(input.files).map("
                                           "f => ({name: f.name, type: f.type, size: f.size}))")


def wait_for_files(page, selector: str, count: int) -> list[dict]:
    page.wait_for_function("([sel, n]) => document.querySelector(sel).files.length === n", arg=[selector, count])
    return chosen_files(page, selector)


def file_ticket(person: Person, *, subject: str, description: str = "",
                paste: tuple[str, bytes] | None = None) -> int:
    """File a ticket on the portal's form; returns its id. ``paste``: (name, PNG bytes) pasted
    into the description as with Ctrl+V."""
    page = person.page
    person.goto("/portal/new")
    page.fill("#subject", subject)
    page.fill("#description", description)
    if paste:
        name, data = paste
        assert paste_file(page, "#description", data, name), "the paste was not taken as a file"
        wait_for_files(page, "#attach-files", 1)
    with page.expect_navigation(wait_until=READY):
        page.get_by_role("button", name="Send the ticket").click()
    assert "/portal/tickets/" in page.url, f"the ticket was not filed: {page.inner_text('main')[:800]}"
    return ticket_id_of(page.url)


def stage_card(page, stage_name: str):
    """The open stage card whose title starts with ``stage_name``."""
    card = page.locator("section.stage-card").filter(
        has=page.locator("h2.card-title", has_text=re.compile(r"^\s*" + re.escape(stage_name))))
    assert card.count() == 1, (f"{card.count()} open stage cards titled {stage_name!r} on {page.url}; the page "
                               f"shows: {[t.strip() for t in page.locator('section.stage-card h2').all_inner_texts()]}")
    return card


def complete_stage(person: Person, stage_name: str, values: dict[str, object] | None = None,
                   *, button: str | None = None) -> None:
    """Fill the stage card's form (by field name: text, select, checkbox) and send it; the
    page must come back without errors."""
    page = person.page
    card = stage_card(page, stage_name)
    form = card.locator("form")
    for name, value in (values or {}).items():
        field = form.locator(f"[name={name!r}]")
        assert field.count(), f"the form of {stage_name!r} has no field {name!r}"
        kind = field.first.evaluate("el => el.tagName === 'SELECT' ? 'select' : (el.type || '')")
        if kind == "select":
            field.select_option(str(value))
        elif kind == "checkbox":
            field.set_checked(bool(value))
        elif kind == "radio":
            form.locator(f"[name={name!r}][value={str(value)!r}]").check()
        else:
            field.fill(str(value))
    submit = form.locator("button[type=submit]") if button is None else form.get_by_role("button", name=button)
    with page.expect_navigation(wait_until=READY):
        submit.click()
    errors = page.locator(".invalid-feedback, .alert-danger, .alert-warning").all_inner_texts()
    assert not errors, f"completing {stage_name!r} as {person.login} was refused: {errors}"


def post_reply(person: Person, text: str, *, where: str = "portal") -> None:
    """Write a public message on the ticket page open now."""
    page = person.page
    if where == "portal":
        page.fill("#body", text)
        button = page.get_by_role("button", name="Send the message")
    else:
        page.fill("#reply textarea[name=body]", text)
        button = page.locator("#reply").get_by_role("button", name="Send", exact=True)
    with page.expect_navigation(wait_until=READY):
        button.click()
    errors = page.locator(".invalid-feedback, .alert-danger").all_inner_texts()
    assert not errors, f"the message of {person.login} was refused: {errors}"
