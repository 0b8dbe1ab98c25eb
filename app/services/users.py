"""Users, groups, roles and API tokens."""
from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import ApiToken, Group, Role, User
from ..models.base import utcnow
from ..permissions import BUILTIN_ROLES

LOGIN_RE = re.compile(r"^[A-Za-z0-9._@-]{2,128}$")
TOKEN_PREFIX = "sd_"


def ensure_builtin_roles() -> dict[str, Role]:
    """Create or refresh the shipped roles; returns them by name."""
    roles = {r.name: r for r in db.session.execute(select(Role)).scalars()}
    for name, perms in BUILTIN_ROLES.items():
        role = roles.get(name)
        if role is None:
            role = roles[name] = Role(name=name, builtin=True, permissions=list(perms))
            db.session.add(role)
        elif role.builtin and sorted(role.permissions or []) != sorted(perms):
            role.permissions = list(perms)
    db.session.flush()
    return roles


def ensure_group(name: str) -> Group:
    group = db.session.execute(select(Group).where(Group.name == name)).scalar()
    if group is None:
        group = Group(name=name)
        db.session.add(group)
        db.session.flush()
    return group


def find_user(login: str) -> User | None:
    return db.session.execute(select(User).where(User.login == login)).scalar()


def get_user(login: str) -> User:
    user = find_user(login)
    if user is None:
        raise NotFound(_l("There is no user with the login %(login)s.", login=login))
    return user


def save_user(login: str, *, password: str | None = None, name: str | None = None,
              email: str | None = None, phone: str | None = None,
              roles: list[str] | None = None, groups: list[str] | None = None,
              manager: str | None = None) -> User:
    """Create the user or update the given attributes (roles/groups replace, when given)."""
    if not LOGIN_RE.match(login or ""):
        raise ValidationFailed(errors={"login": [str(_l(
            "Use 2–128 letters, digits, dots, dashes, underscores or @."))]})
    user = find_user(login)
    if user is None:
        user = User(login=login, name=name or login)
        db.session.add(user)
    if password is not None:
        if len(password) < 8:
            raise ValidationFailed(errors={"password": [str(_l("Use at least 8 characters."))]})
        user.password_hash = generate_password_hash(password)
    if name is not None:
        user.name = name
    if email is not None:
        user.email = email
    if phone is not None:
        user.phone = phone
    if roles is not None:
        known = ensure_builtin_roles()
        unknown = [r for r in roles if r not in known]
        if unknown:
            raise ValidationFailed(errors={"role": [str(_l(
                "Unknown role %(roles)s; known roles: %(known)s.",
                roles=", ".join(unknown), known=", ".join(sorted(known))))]})
        user.roles = [known[r] for r in roles]
    if groups is not None:
        user.groups = [ensure_group(g) for g in groups]
    if manager is not None:
        boss = get_user(manager)
        if boss.id is not None and boss.id == user.id:
            raise ValidationFailed(errors={"manager": [str(_l("A user cannot manage themselves."))]})
        user.manager = boss
    db.session.flush()
    return user


#: compared against when the login is unknown, so that a wrong login costs as long as a wrong password
_DUMMY_HASH = generate_password_hash("stagedesk-no-such-user")


def check_password(login: str, password: str) -> User | None:
    user = find_user(login)
    if user is None or not user.active or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def update_profile(user: User, *, name: str | None, locale: str | None, timezone: str | None) -> None:
    """A person's own settings; unknown languages or time zones are refused by the form."""
    from zoneinfo import available_timezones

    from flask import current_app

    errors: dict[str, list[str]] = {}
    if locale is not None and locale not in current_app.config["LANGUAGES"]:
        errors["language"] = [str(_l("Choose one of: %(choices)s.", choices=", ".join(current_app.config["LANGUAGES"])))]
    if timezone is not None and timezone not in available_timezones():
        errors["timezone"] = [str(_l("Unknown time zone %(tz)s.", tz=timezone))]
    if errors:
        raise ValidationFailed(errors=errors)
    if name is not None:
        user.name = name.strip()[:256]
    user.locale = locale or user.locale
    user.timezone = timezone or user.timezone


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user: User, name: str = "") -> str:
    """A new API token for ``user``; the plain value is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), name=name))
    db.session.flush()
    return token


def user_for_token(token: str, *, touch: bool = False) -> User | None:
    """The user a token belongs to, with roles and groups, in one round trip.

    ``touch`` records the use (coarsely, every five minutes): only for requests that write
    anyway, so that reads stay read-only."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    row = db.session.execute(select(ApiToken).where(
        ApiToken.token_hash == _hash_token(token), ApiToken.revoked.is_(False))
        .options(joinedload(ApiToken.user).joinedload(User.roles),
                 joinedload(ApiToken.user).joinedload(User.groups))).unique().scalar()
    if row is None or not row.user.active:
        return None
    now = utcnow()
    if touch and (row.last_used_at is None or (now - row.last_used_at).total_seconds() > 300):
        row.last_used_at = now
    return row.user
