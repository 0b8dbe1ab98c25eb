"""Deny by default: every API route, found in the app's URL map, refuses callers without a token."""
import re

import pytest

PUBLIC = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/<path:filename>"}


def api_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") and rule.rule not in PUBLIC:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule.rule


def concrete(path: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", path)


def test_the_api_has_routes(app):
    assert len(list(api_routes(app))) >= 10


@pytest.mark.parametrize("token", [None, "sd_not-a-real-token", "garbage"])
def test_every_api_route_needs_a_token(app, client, db, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for method, path in api_routes(app):
        res = client.open(concrete(path), method=method, headers=headers, json={})
        assert res.status_code == 401, f"{method} {path} answered {res.status_code} without a valid token"
        assert res.get_json()["message"]


def test_revoked_tokens_and_inactive_users_are_refused(api, make, db):
    user = make.user("ann", roles=("operator",))
    caller = api.as_(user)
    assert caller.get("/tasks").status_code == 200
    from app.models import ApiToken

    db.session.query(ApiToken).filter_by(user_id=user.id).update({"revoked": True})
    assert caller.get("/tasks").status_code == 401
    other = make.user("bob", roles=("operator",))
    caller = api.as_(other)
    other.active = False
    db.session.flush()
    assert caller.get("/tasks").status_code == 401


def test_openapi_and_docs_are_public(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"/static/vendor/swagger-ui/" in docs.data
