"""Bearer-token authentication for API views."""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, request
from flask_babel import get_locale

from ..errors import Unauthorized
from ..models import User
from ..services.users import user_for_token


def api_user() -> User:
    return g.api_user


def token_required(view):
    """Every API view is wrapped: no valid token, no access (deny by default)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        touch = request.method not in ("GET", "HEAD", "OPTIONS")
        user = user_for_token(token.strip(), touch=touch) if scheme.lower() == "bearer" else None
        if user is None:
            raise Unauthorized()
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


def locale() -> str:
    """The caller's language: their profile's, else the request's, else the desk's default."""
    user = api_user()
    if user.locale:
        return user.locale
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
