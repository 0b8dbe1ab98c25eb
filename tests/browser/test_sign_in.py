"""Signing in, the language switch and the login page's accessibility in a real browser; and
the browser set-up itself (the fake screen capture the screenshot button relies on)."""
from __future__ import annotations

from browser_helpers import READY, axe


def test_the_login_page_is_accessible_in_both_languages(people):
    person = people.open(None)
    page = person.page
    person.goto("/login")
    assert page.locator("h1").count() == 1
    axe(page)
    person.watch.allow_console("status of 401")  # the wrong password's answer is a 401 page
    page.fill("#login", "nobody")
    page.fill("#password", "wrong-password")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#password[aria-invalid=true]")
    assert "Wrong login or password." in page.inner_text("main")
    axe(page)  # the error state too: the message is tied to its field
    page.select_option("#nav-language", "ru")  # submits itself (data-autosubmit)
    page.wait_for_function("document.documentElement.lang === 'ru'")
    assert "/login" in page.url and page.locator("#login").is_visible()
    axe(page)


def test_the_language_follows_the_person_and_signing_out_ends_the_session(people, site):
    cast = site.cast("requester")
    person = people.open(cast["requester"])
    page = person.page
    person.goto("/profile")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.select_option("#nav-language", "ru")  # submits itself (data-autosubmit)
    page.wait_for_function("document.documentElement.lang === 'ru'")
    assert "/profile" in page.url  # back where the person was
    assert site.read(lambda s: _locale_of(s, cast["requester"])) == "ru"
    with page.expect_navigation(wait_until=READY):
        page.locator("nav form[action='/logout'] button").click()
    assert "/login" in page.url
    page.goto("/profile", wait_until=READY)
    assert "/login?next=" in page.url  # signed out for real
    other = people.open(cast["requester"])  # another browser: the choice is the person's, not a cookie's
    assert other.page.evaluate("document.documentElement.lang") == "ru"


def _locale_of(session, login: str) -> str | None:
    from app.models import User

    return session.query(User.locale).filter(User.login == login).scalar()


def test_chromium_captures_a_fake_screen_without_a_prompt(page, site):
    """The flags in conftest.CHROMIUM_ARGS: getDisplayMedia resolves headless with a generated
    screen, which the portal's screenshot button turns into a PNG."""
    page.goto("/login", wait_until=READY)
    capture = page.evaluate("""async () => {
        const stream = await navigator.mediaDevices.getDisplayMedia({video: true});
        const track = stream.getVideoTracks()[0];
        const video = document.createElement('video');
        video.muted = true;
        video.srcObject = stream;
        await video.play();
        const canvas = document.createElement('canvas');
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        canvas.getContext('2d').drawImage(video, 0, 0);
        const blob = await new Promise(resolve => canvas.toBlob(resolve, 'image/png'));
        const surface = track.getSettings().displaySurface;
        track.stop();
        return {surface, width: canvas.width, height: canvas.height,
                type: blob.type, size: blob.size};
    }""")
    assert capture["surface"] == "monitor"
    assert capture["width"] > 0 and capture["height"] > 0
    assert capture["type"] == "image/png" and capture["size"] > 100
