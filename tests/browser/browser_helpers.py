"""Helpers of the browser tests: the live site's data, a watched person's browser, axe-core,
synthetic clipboard pastes and small PNG files."""
from __future__ import annotations

import base64
import re
import struct
import zlib
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "password-123"
#: when a navigation counts as done: the document is parsed and its scripts (app.js, the
#: deferred attachments.js) have run; stylesheets and fonts may still be arriving
READY = "domcontentloaded"
#: axe-core impacts that fail a page (minor and moderate ones are returned, not fatal)
FATAL_IMPACTS = ("serious", "critical")


# --- data on the live database ----------------------------------------------------------------

class Site:
    """The live server's address and its database (real commits; emptied after the test)."""

    def __init__(self, db, url: str):
        from factories import Factories

        self.db = db
        self.url = url
        self.make = Factories(db)  # commits as it makes: the server sees everything at once

    def user(self, login: str, *, roles: tuple[str, ...] = ("requester",), groups: tuple[str, ...] = (),
             manager: str | None = None, name: str | None = None) -> str:
        """A user through services.users.save_user, committed; returns the login. The password
        (PASSWORD) is hashed once per session: scrypt costs ~0.2 s a user."""
        from app.services.users import save_user

        user = save_user(login, name=name, roles=list(roles), groups=list(groups), manager=manager,
                         email=f"{login}@example.test")
        user.password_hash = _password_hash()
        self.db.session.commit()
        return login

    def cast(self, *names: str) -> dict[str, str]:
        """Members of the demo cast of tests/factories.py's ``make.staff()`` (same logins,
        roles, groups and managers; password PASSWORD): name → login. Managers come along."""
        wanted = set(names)
        for name in names:
            manager = CAST[name][2]
            if manager:
                wanted.add(next(k for k, v in CAST.items() if v[0] == manager))
        for name, (login, roles, manager, groups) in CAST.items():  # managers first (dict order)
            if name in wanted:
                self.user(login, roles=roles, groups=groups, manager=manager)
        return {name: CAST[name][0] for name in wanted}

    def deploy_shipped(self) -> None:
        self.make.deploy_shipped()

    def ticket(self, login: str, **fields: Any) -> tuple[int, str]:
        """A ticket registered by ``login`` through services.tickets.create_ticket (the shipped
        processes must be deployed), committed: (id, number)."""
        from app.services.users import find_user

        ticket = self.make.ticket(find_user(login), **fields)
        return ticket.id, ticket.number

    def complete(self, login: str, ticket_id: int, element_id: str, data: dict[str, Any]) -> None:
        """Complete the ticket's open stage ``element_id`` as ``login`` through the service
        (the setup of a test that checks what comes after), committed."""
        from app.models import WorkItem
        from app.services.tickets import complete_stage
        from app.services.users import find_user

        session = self.db.session
        item_id = session.query(WorkItem.id).filter_by(ticket_id=ticket_id, element_id=element_id,
                                                         status="open").scalar()
        assert item_id, f"the ticket {ticket_id} has no open stage {element_id}"
        from app.errors import ValidationFailed

        try:
            complete_stage(find_user(login), item_id, data, locale="en")
        except ValidationFailed as err:
            session.rollback()
            raise AssertionError(f"{element_id} refused {data}: {err.errors}") from None
        session.commit()

    def read(self, query: Callable[[Any], Any]) -> Any:
        """Run ``query(session)`` on a fresh snapshot and end the transaction at once (on SQLite
        the test thread's transactions take the write lock: never leave one open while the
        browser works). Return plain values, not ORM objects."""
        session = self.db.session
        session.rollback()
        session.expire_all()
        try:
            return query(session)
        finally:
            session.rollback()


#: tests/factories.py's make.staff(): name → (login, roles, manager, groups); managers first
CAST: dict[str, tuple[str, tuple[str, ...], str | None, tuple[str, ...]]] = {
    "admin": ("t_admin", ("admin",), None, ()),
    "procadmin": ("t_procadmin", ("process_admin",), None, ()),
    "supervisor": ("t_supervisor", ("supervisor",), None, ("Line 1", "Line 2", "Line 3")),
    "operator": ("t_operator", ("operator",), "t_supervisor", ("Line 1",)),
    "engineer": ("t_engineer", ("engineer",), "t_supervisor", ("Line 2",)),
    "engineer3": ("t_engineer3", ("engineer",), None, ("Line 3",)),
    "vendor": ("t_vendor", ("engineer",), None, ("Vendor",)),
    "approver": ("t_approver", ("engineer",), None, ("Approvers",)),
    "requester": ("t_requester", ("requester",), "t_supervisor", ()),
    "stranger": ("t_stranger", ("requester",), None, ()),
}
_HASH: list[str] = []


def _password_hash() -> str:
    if not _HASH:
        from werkzeug.security import generate_password_hash

        _HASH.append(generate_password_hash(PASSWORD))
    return _HASH[0]


# --- a person at a browser --------------------------------------------------------------------

class Watch:
    """What went wrong on a person's pages: uncaught errors, console errors, dialogs."""

    def __init__(self, who: str):
        self.who = who
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.allowed_console: list[str] = []

    def attach(self, page) -> None:
        page.on("pageerror", lambda err: self.page_errors.append(f"{page.url}: {err}"))
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            if where.endswith("/favicon.ico"):
                return  # the browser asks for it by itself; the app has none (a 404, not a page's fault)
            self.console_errors.append(f"{message.text} [{where}]")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message!r} on {dialog.page.url if dialog.page else '?'}")
        dialog.dismiss()

    def allow_console(self, pattern: str) -> None:
        """Console errors matching the regular expression ``pattern`` (searched in "message
        [url]") are expected: say, the 422 of a form the test sends back on purpose."""
        self.allowed_console.append(pattern)

    def problems(self) -> list[str]:
        out = [f"{self.who}: uncaught page error: {e}" for e in self.page_errors]
        out += [f"{self.who}: console error: {e}" for e in self.console_errors
                if not any(re.search(pattern, e) for pattern in self.allowed_console)]
        out += [f"{self.who}: a dialog opened: {d}" for d in self.dialogs]
        return out


class Person:
    """One person's browser (own cookies) with one watched page."""

    def __init__(self, context, login: str | None):
        self.context = context
        self.login = login
        self.watch = Watch(login or "anonymous")
        context.on("page", self.watch.attach)
        self.page = context.new_page()

    def sign_in(self, password: str = PASSWORD) -> None:
        page = self.page
        page.goto("/login", wait_until=READY)
        page.fill("#login", self.login)
        page.fill("#password", password)
        with page.expect_navigation(wait_until=READY):
            page.click("main form button[type=submit]")
        if "/login" in page.url:
            raise AssertionError(f"signing in as {self.login} failed; the page says: "
                                 f"{page.inner_text('main')[:500]}")

    def goto(self, path: str, *, status: int = 200):
        response = self.page.goto(path, wait_until=READY)
        assert response is not None, f"no response for {path}"
        assert response.status == status, (f"GET {path} as {self.login}: {response.status}, expected {status}; "
                                           f"{self.page.inner_text('main')[:500]}")
        return response


# --- accessibility ------------------------------------------------------------------------------

def axe_report(page) -> tuple[list[dict], str]:
    """Run axe-core (node_modules/axe-core, the package.json devDependency) on the page: all
    violations, and a readable report of the serious and critical ones ("" when none).

    The script is evaluated through the DevTools protocol, so a page's Content-Security-Policy
    cannot stop it."""
    if not AXE_JS.is_file():
        raise AssertionError(f"{AXE_JS} is missing: run scripts/setup (npm ci installs axe-core)")
    page.wait_for_load_state("load")  # colours need the stylesheets
    if not page.evaluate("() => typeof window.axe === 'object'"):
        if not _AXE_SOURCE:
            _AXE_SOURCE.append(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
        page.evaluate(_AXE_SOURCE[0])
    violations = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200),
                                          summary: n.failureSummary}))}));
        }""")
    fatal = [v for v in violations if v["impact"] in FATAL_IMPACTS]
    if not fatal:
        return violations, ""
    path = page.url.split("/", 3)[-1]
    lines = [f"axe-core on /{path}: {len(fatal)} serious/critical violation(s)"]
    for v in fatal:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html']}\n      {node['summary']}")
    return violations, "\n".join(lines)


def axe(page) -> list[dict]:
    """axe-core on the page: fails on any serious or critical violation; returns all of them
    (minor and moderate ones included)."""
    __tracebackhide__ = True
    violations, report = axe_report(page)
    if report:
        raise AssertionError(report)
    return violations


_AXE_SOURCE: list[str] = []


# --- files and the clipboard --------------------------------------------------------------------

def png_bytes(width: int = 8, height: int = 6, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour (no imaging library needed)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def paste_file(page, selector: str, data: bytes, name: str, mime: str = "image/png") -> bool:
    """Dispatch a real ``paste`` ClipboardEvent on ``selector`` whose clipboardData holds one
    File, as Chromium does when a person presses Ctrl+V with a screenshot on the clipboard.
    Returns whether a handler called preventDefault()."""
    return page.evaluate(
        """([selector, b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: mime}));
            const target = document.querySelector(selector);
            if (!target) { throw new Error('nothing matches ' + selector); }
            target.focus();
            const event = new ClipboardEvent('paste', {clipboardData: transfer, bubbles: true, cancelable: true});
            return !target.dispatchEvent(event);
        }""", [selector, base64.b64encode(data).decode(), name, mime])


def is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"
