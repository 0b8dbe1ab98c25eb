"""Who may open a web view (DESIGN §8).

Every view of the web blueprints states its rule with one of ``public``, ``signed_in``,
``requires(*permissions)`` (any of them) or ``requires_all(*permissions)``; ``enforce`` (a before-request hook) applies it before the view
runs.  A view without a rule is refused (deny by default), and the authorization matrix
test fails on it.  Object-level checks (may this user see *this* ticket?) stay in the
services; these rules are the door to the route.  The REST API (``/api/``) has its own
token check.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, TypeVar

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from ..permissions import has

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable)
RULE_ATTR = "_stagedesk_rule"
UNGUARDED_ENDPOINTS = frozenset({"static"})


@dataclass(frozen=True)
class Rule:
    login: bool
    any_of: tuple[str, ...] = ()  # at least one of these permissions; empty: any signed-in user
    all_of: tuple[str, ...] = ()  # and every one of these

    def allows(self, user) -> bool:
        if not self.login:
            return True
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        return ((not self.any_of or any(has(user, p) for p in self.any_of))
                and all(has(user, p) for p in self.all_of))


def _mark(rule: Rule) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        setattr(view, RULE_ATTR, rule)
        return view
    return decorate


def public(view: F) -> F:
    """Anyone, signed in or not (the login page, health checks)."""
    return _mark(Rule(login=False))(view)


def signed_in(view: F) -> F:
    """Any signed-in user; the service checks the object."""
    return _mark(Rule(login=True))(view)


def requires(*permissions: str) -> Callable[[F], F]:
    """A signed-in user holding at least one of ``permissions``."""
    if not permissions:
        raise ValueError("requires() needs at least one permission; use signed_in for any user")
    return _mark(Rule(login=True, any_of=tuple(permissions)))


def requires_all(*permissions: str) -> Callable[[F], F]:
    """A signed-in user holding every one of ``permissions``."""
    if not permissions:
        raise ValueError("requires_all() needs at least one permission")
    return _mark(Rule(login=True, all_of=tuple(permissions)))


def rule_for(endpoint: str) -> Rule | None:
    view = current_app.view_functions.get(endpoint)
    rule = getattr(view, RULE_ATTR, None)
    if rule is None:
        rule = getattr(getattr(view, "view_class", None), RULE_ATTR, None)
    return rule


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def enforce():
    """Before every request: apply the endpoint's rule."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in UNGUARDED_ENDPOINTS or is_api(request.path):
        return None  # 404s, static files, and the API's own token check
    rule = rule_for(endpoint)
    if rule is None:
        log.error("web endpoint %s has no access rule: refused", endpoint)
        abort(403)
    if rule.allows(current_user):
        return None
    if not current_user.is_authenticated:
        target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        if request.headers.get("HX-Request"):
            return "", 401, {"HX-Redirect": target}
        return redirect(target)
    abort(403)


def message_limit():
    """Rate limit of posting messages (and their files), per person: a decorator to place
    under the route's rule (config MESSAGE_RATE_LIMIT)."""
    from ..extensions import limiter
    from ..i18n import _l

    return limiter.limit(lambda: current_app.config["MESSAGE_RATE_LIMIT"],
                         key_func=lambda: f"post:{getattr(current_user, 'id', 'anonymous')}",
                         scope="post-message",
                         error_message=_l("You are sending messages too fast. Wait a minute and try again."))
