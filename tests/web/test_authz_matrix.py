"""The authorization matrix: every web route × every role (and anonymous), from the URL map.

Each view states its rule (app/web/guard.py: ``public``, ``signed_in``, ``requires``). Here,
for every route and every built-in role, a real request shows that the door behaves as the
rule says: anonymous → the login page (for anything but public pages), a role without the
permission → 403, a role with it → past the door (any answer but 401/403 and the login
redirect; ids in the URL name objects that do not exist, so an allowed request ends at the
service's 404 and never depends on who owns what — object-level checks have their own tests).

A route without a rule fails ``test_every_web_route_states_its_rule``, so a new route cannot
slip in unguarded.
"""
from __future__ import annotations

import pytest

from app.permissions import BUILTIN_ROLES, PERMISSIONS

ROLES = (*BUILTIN_ROLES, "no_role")
MISSING_ID = 987654321


def web_rules(app):
    """(rule, endpoint, method) of every route of the web blueprints."""
    from app.web.guard import UNGUARDED_ENDPOINTS, is_api

    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNGUARDED_ENDPOINTS or is_api(rule.rule) or rule.endpoint.startswith("api-docs"):
            continue
        methods = sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS"))
        out.extend((rule, rule.endpoint, m) for m in methods)
    return out


def build_url(app, rule) -> str:
    """The route's URL with ids of objects that do not exist (``missing`` for other parts)."""
    from werkzeug.routing import IntegerConverter

    values = {name: MISSING_ID if isinstance(conv, IntegerConverter) else "missing"
              for name, conv in rule._converters.items()}
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_every_web_route_states_its_rule(app):
    from app.web.guard import rule_for

    with app.test_request_context():
        missing = sorted({endpoint for _rule, endpoint, _m in web_rules(app) if rule_for(endpoint) is None})
    assert not missing, f"web routes without an access rule (add @public, @signed_in or @requires): {missing}"


def test_rules_name_only_known_permissions(app):
    from app.web.guard import rule_for

    with app.test_request_context():
        for _rule, endpoint, _m in web_rules(app):
            rule = rule_for(endpoint)
            unknown = (set(rule.any_of) | set(rule.all_of)) - set(PERMISSIONS)
            assert not unknown, f"{endpoint} names unknown permissions {unknown}"


@pytest.fixture()
def people(make):
    users = {role: make.user(f"m_{role}", roles=(role,) if role in BUILTIN_ROLES else ())
             for role in ROLES}
    users["anonymous"] = None
    return users


def expected(rule_obj, role: str) -> str:
    if not rule_obj.login:
        return "allowed"
    if role == "anonymous":
        return "login"
    perms = set(BUILTIN_ROLES.get(role, ()))
    if rule_obj.any_of and not perms & set(rule_obj.any_of):
        return "forbidden"
    if not set(rule_obj.all_of) <= perms:
        return "forbidden"
    return "allowed"


def outcome(res) -> str:
    location = res.headers.get("Location", "")
    if res.status_code in (301, 302, 303) and location.startswith("/login"):
        return "login"
    if res.status_code == 401 and res.headers.get("HX-Redirect", "").startswith("/login"):
        return "login"
    if res.status_code == 403:
        return "forbidden"
    if res.status_code == 401:
        return f"refused ({res.status_code})"
    if res.status_code >= 500:
        return f"server error ({res.status_code})"
    return "allowed"


def test_every_route_for_every_role(app, web, people):
    from app.web.guard import rule_for

    browsers = {role: web.as_(user) for role, user in people.items()}
    mismatches = []
    checked = 0
    for rule, endpoint, method in web_rules(app):
        if endpoint == "auth.logout":
            continue  # signs the browser out: checked below on its own
        with app.test_request_context():
            rule_obj = rule_for(endpoint)
        url = build_url(app, rule)
        for role, browser in browsers.items():
            res = browser.get(url) if method == "GET" else browser.post(url, {})
            got, want = outcome(res), expected(rule_obj, role)
            checked += 1
            if got != want:
                mismatches.append(f"{method} {url} as {role}: {got}, expected {want} ({res.status_code})")
    assert checked > 0
    assert not mismatches, "\n".join(mismatches)


def test_logout_for_every_role(web, people):
    """Signing out answers with the login page for everyone; for the signed-in it ends the session."""
    for role, user in people.items():
        browser = web.as_(user)
        res = browser.post("/logout", {})
        assert res.status_code == 302 and res.headers["Location"].startswith("/login"), role
        assert outcome(browser.get("/profile")) == "login", role
