"""Signing in and out, the rate limit, the language switch, the profile (time zone)."""
from __future__ import annotations


def test_sign_in_sends_staff_to_work_and_back_to_where_they_were_going(web, make):
    make.user("w_admin", roles=("admin",))
    anonymous = web.as_(None)
    res = anonymous.post("/login", {"login": "w_admin", "password": "password-123", "next": "/profile"})
    assert res.status_code == 302 and res.headers["Location"] == "/profile"


def test_a_foreign_next_address_is_ignored(web, make):
    make.user("w_user")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        res = web.as_(None).post("/login", {"login": "w_user", "password": "password-123", "next": target})
        assert res.status_code == 302
        assert "evil" not in res.headers["Location"]


def test_a_wrong_password_says_so_without_telling_which_part_was_wrong(web, make):
    make.user("w_user")
    for login in ("w_user", "nobody_here"):
        res = web.as_(None).post("/login", {"login": login, "password": "wrong-password"})
        assert res.status_code == 401
        assert "Wrong login or password." in res.get_data(as_text=True)


def test_sign_in_is_rate_limited_per_login(app, web, make):
    make.user("w_user")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        browser = web.as_(None)
        codes = [browser.post("/login", {"login": "w_user", "password": "wrong"}).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        res = browser.post("/login", {"login": "w_user", "password": "password-123"})
        assert res.status_code == 429  # even the right password waits: guessing is not rewarded
        assert "Too many sign-in attempts" in res.get_data(as_text=True)
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "100000 per minute"


def test_a_form_post_without_csrf_token_is_refused(web, make):
    make.user("w_user")
    res = web.as_(None).post("/login", {"login": "w_user", "password": "password-123"}, csrf=False)
    assert res.status_code == 400
    assert "reload the page" in res.get_data(as_text=True)


def test_sign_out_needs_a_post_and_ends_the_session(web, make):
    user = make.user("w_user")
    browser = web.as_(user)
    assert browser.get("/profile").status_code == 200
    assert browser.get("/logout").status_code == 405
    assert browser.post("/logout").status_code == 302
    res = browser.get("/profile")
    assert res.status_code == 302 and res.headers["Location"].startswith("/login?next=")


def test_language_switch_before_signing_in_and_in_the_profile(web, make):
    browser = web.as_(None)
    browser.post("/language", {"language": "en", "next": "/login"})
    assert "Sign in" in browser.get("/login").get_data(as_text=True)
    browser.post("/language", {"language": "ru", "next": "/login"})
    assert "Войти" in browser.get("/login").get_data(as_text=True)


def test_profile_sets_language_and_time_zone(db, web, make):
    user = make.user("w_user")
    browser = web.as_(user)
    res = browser.post("/profile", {"name": "Вера Петрова", "language": "en", "timezone": "Asia/Yekaterinburg"})
    assert res.status_code == 302
    db.session.refresh(user)
    assert (user.name, user.locale, user.timezone) == ("Вера Петрова", "en", "Asia/Yekaterinburg")
    res = browser.post("/profile", {"name": "x", "language": "en", "timezone": "Mars/Olympus"})
    assert res.status_code == 200 and "Not a valid choice" in res.get_data(as_text=True)


def test_sign_in_still_answers_and_limits_when_redis_is_down(backend):
    """The counters fall back to the process's memory: no 500, and the limit still holds."""
    from app import create_app

    dead = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": backend["database_url"],
                       "REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": "test-secret",
                       "WTF_CSRF_ENABLED": False, "LOGIN_RATE_LIMIT": "2 per minute"})
    client = dead.test_client()
    codes = [client.post("/login", data={"login": "nobody_here", "password": "wrong"}).status_code
             for _ in range(3)]
    assert codes == [401, 401, 429]
    from app.extensions import db as _db

    with dead.app_context():
        _db.engine.dispose()
