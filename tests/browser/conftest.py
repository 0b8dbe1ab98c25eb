"""Browser tests: Debian's Chromium, headless, driven by Playwright, against a live server.

The live server is the session's ``app`` served by werkzeug in a thread (one per session, a
free 127.0.0.1 port) on the REAL database of the backend under test, with commits
(``live_db``: every table is emptied after the test).  One Chromium per session, a fresh
context (cookies, storage) per person and test.

Every page a test opens is watched: an uncaught page error, a console error or a JavaScript
dialog (alert/confirm/prompt) fails the test, unless the test allows that console message.

Chromium comes from the system (``apt-get install chromium``, done by scripts/test), never
from Playwright's CDN; ``STAGEDESK_CHROMIUM`` points at another binary.  The fake media
flags make ``navigator.mediaDevices.getDisplayMedia`` resolve with a generated screen
(1280x720, no picker) in headless mode.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from browser_helpers import Person, Site  # noqa: E402

CHROMIUM = os.environ.get("STAGEDESK_CHROMIUM", "/usr/bin/chromium")
#: the first two make getDisplayMedia resolve headless without a prompt (checked on Chromium
#: 156: without --use-fake-device-for-media-stream it fails with NotReadableError, without
#: --use-fake-ui-for-media-stream it waits for a picker forever); the third picks the screen
#: should a picker still be shown; the last keeps Chromium off a small /dev/shm (containers).
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--disable-dev-shm-usage",
]
#: how long a locator waits by default: pages answer in milliseconds here, so a missing
#: element fails fast instead of eating the CI budget
ACTION_TIMEOUT_MS = 5_000
NAVIGATION_TIMEOUT_MS = 15_000


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: headless Chromium tests (tests/browser)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole session."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(scripts/test installs it: apt-get install --no-install-recommends chromium; "
                    "or set STAGEDESK_CHROMIUM=/path/to/chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


#: tracebacks of exceptions the live server's views raised (a 500 page in the browser)
SERVER_ERRORS: list[str] = []


def _record_server_error(sender, exception, **extra) -> None:
    import traceback

    from flask import request

    SERVER_ERRORS.append(f"{request.method} {request.full_path}:\n"
                         + "".join(traceback.format_exception(exception)))


@pytest.fixture(scope="session")
def server_url(app):
    """The session's app on a free local port (werkzeug, a thread per request)."""
    from flask import got_request_exception
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the output
    got_request_exception.connect(_record_server_error, app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.fixture()
def site(live_db, server_url):
    """The live site on the real database (emptied after the test): data helpers and URLs.
    An exception in a view during the test (a 500 page) fails it with the server's traceback."""
    SERVER_ERRORS.clear()
    yield Site(live_db, server_url)
    if SERVER_ERRORS:
        errors = list(SERVER_ERRORS)
        SERVER_ERRORS.clear()
        pytest.fail("the live server failed:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture()
def people(chromium, site):
    """Open browsers: ``people.open(login)`` → a Person signed in through the login form
    (``people.open(None)``: anonymous). Every page is watched; see the module docstring."""
    crowd = _People(chromium, site)
    try:
        yield crowd
    finally:
        problems = crowd.close()
    if problems:
        pytest.fail("the browser reported problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture()
def page(people):
    """An anonymous page (English), watched like every other."""
    return people.open(None).page


class _People:
    def __init__(self, chromium, site: Site):
        self.chromium = chromium
        self.site = site
        self.persons: list[Person] = []

    def open(self, login: str | None, *, password: str = "password-123", locale: str = "en-US") -> Person:
        context = self.chromium.new_context(base_url=self.site.url, locale=locale, timezone_id="Europe/Moscow",
                                            viewport={"width": 1280, "height": 900})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        person = Person(context, login)
        self.persons.append(person)
        if login is not None:
            person.sign_in(password)
        return person

    def close(self) -> list[str]:
        problems: list[str] = []
        for person in self.persons:
            problems.extend(person.watch.problems())
            try:
                person.context.close()
            except Exception as err:  # noqa: BLE001 - a crashed context is itself worth reporting
                problems.append(f"{person.login or 'anonymous'}: closing the browser context failed: {err}")
        return problems
