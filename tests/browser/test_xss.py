"""Issue 3, point 12: an XSS corpus in subjects, descriptions, messages, filenames and stage
form values is shown inert in the real browser: no dialog opens (the watch in conftest
fails the test on any), no injected handler or script runs, and the text reads as typed."""
from __future__ import annotations

from browser_helpers import READY, png_bytes
from flows import complete_stage, post_reply, ticket_id_of

PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "' autofocus onfocus=alert(1) x='",
    '<a href="javascript:alert(1)">click me</a>',
    "javascript:alert(1)",
)
CORPUS = " ".join(PAYLOADS)
SUBJECT = 'Printer "><svg onload=alert(1)> <script>alert(1)</script> <img src=x onerror=alert(1)>'

#: runs before the page's own scripts: counts calls of the dialog functions (on top of the
#: dialog watch), so that a payload that did run is reported even if a dialog were suppressed
TRAP = """
window.__xssCalls = [];
for (const name of ['alert', 'confirm', 'prompt', 'print']) {
  const original = window[name];
  window[name] = function (...args) { window.__xssCalls.push(name + '(' + args.join(',') + ')');
                                      return original.apply(this, args); };
}
"""

#: what the DOM may not contain after the payloads were rendered
INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase(), value = attr.value.toLowerCase();
      if (name.startsWith('on') && value.includes('alert')) { found.push(el.tagName + ' ' + name + '=' + attr.value); }
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(name)
          && value.replace(/\\s/g, '').startsWith('javascript:')) { found.push(el.tagName + ' ' + name + '=' + attr.value); }
    }
  }
  for (const s of document.scripts) { if (s.textContent.includes('alert(1)')) { found.push('SCRIPT ' + s.textContent); } }
  for (const svg of document.querySelectorAll('main svg')) { found.push('SVG ' + svg.outerHTML.slice(0, 80)); }
  return {found, calls: window.__xssCalls || []};
}"""


def _assert_inert(person, path: str, *must_read: str) -> None:
    person.goto(path)
    page = person.page
    page.wait_for_load_state("load")  # images (and their onerror) have had their chance
    result = page.evaluate(INJECTED)
    assert result == {"found": [], "calls": []}, f"{path} as {person.login}: {result}"
    text = page.inner_text("main")
    for expected in must_read:
        assert expected in text, f"{path} as {person.login} does not show {expected!r} as text"


def test_the_xss_corpus_is_inert_on_the_portal_and_the_desk(people, site):
    cast = site.cast("requester", "operator")
    site.deploy_shipped()
    requester = people.open(cast["requester"])
    operator = people.open(cast["operator"])
    for person in (requester, operator):
        person.context.add_init_script(TRAP)
        # sanitised descriptions keep <img src="x"> (without its handler): the browser asks for it
        person.watch.allow_console(r"status of 404 .*/x\]$")

    # --- the requester files it: subject, description, a file with a hostile name ----------
    page = requester.page
    requester.goto("/portal/new")
    page.fill("#subject", SUBJECT)
    page.fill("#service", "' autofocus onfocus=alert(1) x='")
    page.fill("#description", CORPUS)
    page.set_input_files("#attach-files", [{"name": '"><svg onload=alert(1)>.png', "mimeType": "image/png",
                                            "buffer": png_bytes()}])
    with page.expect_navigation(wait_until=READY):
        page.get_by_role("button", name="Send the ticket").click()
    ticket_id = ticket_id_of(page.url)
    assert page.locator("h1").inner_text().endswith(SUBJECT)  # the subject reads as typed

    # a message with the corpus and a file named like a tag
    page.set_input_files("#message-files", [{"name": "<img src=x onerror=alert(1)>.txt", "mimeType": "text/plain",
                                             "buffer": b"log"}])
    post_reply(requester, CORPUS)

    # --- the operator: stage form values (text fields shown again in the forms and history) -
    operator.goto(f"/desk/tickets/{ticket_id}")
    complete_stage(operator, "Registration", {"contact_phone": "+7 (900) 000-00-00"})
    complete_stage(operator, "Classification", {"category": "incident", "impact": 3, "urgency": 3,
                                                "service": "<script>alert(1)</script>",
                                                "classification_note": CORPUS})
    post_reply(operator, "Staff answer: " + CORPUS, where="desk")
    # the line 1 queue lists the subject (the ticket waits there for its assessment)
    _assert_inert(operator, "/desk/?tab=group", SUBJECT)
    # a search for the payload is reflected into the search field, inert
    _assert_inert(operator, "/desk/?tab=group&text=%22%3E%3Csvg%20onload%3Dalert(1)%3E")
    assert operator.page.locator("#q-text").input_value() == '"><svg onload=alert(1)>'
    # line 2 asks the requester with the corpus as the question (shown on the portal)
    cast.update(site.cast("engineer"))
    site.complete(cast["operator"], ticket_id, "assess", {"solve_at_line1": False})
    site.complete(cast["engineer"], ticket_id, "assign", {"engineer": cast["engineer"]})
    site.complete(cast["engineer"], ticket_id, "identify", {"diagnosis": CORPUS, "next_step": "ask_requester",
                                                            "question": "Question: " + CORPUS})

    # --- every page that shows them: nothing runs, the text is there as text ---------------
    _assert_inert(requester, f"/portal/tickets/{ticket_id}", SUBJECT, "javascript:alert(1)",
                  "Question: <script>alert(1)</script>")
    _assert_inert(requester, "/portal/", SUBJECT)
    _assert_inert(operator, f"/desk/tickets/{ticket_id}", SUBJECT, "Staff answer:", "<script>alert(1)</script>")
    # the file names: links whose text is the name as uploaded, never markup
    operator.goto(f"/desk/tickets/{ticket_id}")
    names = {n.strip() for n in operator.page.locator("main a[href^='/files/']").all_inner_texts()}
    assert {'"><svg onload=alert(1)>.png', "<img src=x onerror=alert(1)>.txt"} <= names, names
