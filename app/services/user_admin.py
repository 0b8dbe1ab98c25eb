"""The admin page's domain logic: users, support groups, roles and managers (DESIGN §8).

Rules kept here, not in the views:

- a person cannot manage themselves, directly or through the chain of managers;
- the last active user holding ``manage_users`` can neither lose it nor be deactivated
  (nobody could administer the desk any more);
- built-in roles are read-only; custom roles name only known permissions;
- a group whose queue still holds open stages is not deleted (its work would vanish from
  every queue): finish or reassign them first, or rename the group instead.

Every change is written to the audit trail (events without a ticket) and logged.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Iterable
from zoneinfo import available_timezones

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.security import generate_password_hash

from ..errors import Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import Group, Role, TicketTemplate, User, WorkItem, user_groups, user_roles
from ..permissions import MANAGE_USERS, PERMISSIONS
from . import audit
from .users import LOGIN_RE, ensure_builtin_roles
from .search import ESCAPE, like_escape

log = logging.getLogger(__name__)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_NAME_RE = re.compile(r"^[\w .-]{2,64}$")
PAGE_SIZE = 50


@dataclass
class UserFields:
    """What the admin form sends for a user (``password`` empty: keep the current one)."""

    login: str
    name: str = ""
    email: str = ""
    phone: str = ""
    password: str = ""
    active: bool = True
    role_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()
    manager: str = ""  # login, empty: nobody
    locale: str = ""
    timezone: str = ""


def _log(actor: User | None, kind: str, data: dict) -> None:
    audit.record(None, kind, actor, data=data)
    log.info("%s by %s: %s", kind, actor.login if actor else "-", data)


# --- users -------------------------------------------------------------------------------

def list_users(*, q: str = "", after: str | None = None, limit: int = PAGE_SIZE) -> tuple[list[User], str | None]:
    """Users ordered by login, ``limit`` per page; keyset pagination by login (``after``)."""
    limit = max(1, min(limit, 200))
    query = select(User).options(selectinload(User.roles), selectinload(User.groups),
                                 selectinload(User.manager))
    text = (q or "").strip()
    if text:
        pattern = f"%{like_escape(text.lower())}%"
        query = query.where(or_(func.lower(User.login).like(pattern, escape=ESCAPE),
                                func.lower(User.name).like(pattern, escape=ESCAPE),
                                func.lower(User.email).like(pattern, escape=ESCAPE),
                                User.phone.like(f"%{like_escape(text)}%", escape=ESCAPE)))
    if after:
        query = query.where(User.login > after)
    rows = list(db.session.execute(query.order_by(User.login).limit(limit + 1)).scalars())
    next_cursor = rows[limit - 1].login if len(rows) > limit else None
    return rows[:limit], next_cursor


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("User %(id)s does not exist.", id=user_id))
    return user


def direct_subordinates(user: User) -> list[User]:
    return list(db.session.execute(select(User).where(User.manager_id == user.id).order_by(User.login)).scalars())


def subordinate_ids(user: User, *, max_depth: int = 32) -> set[int]:
    """Ids of everyone ``user`` manages, directly or down the chain (one query per level)."""
    found: set[int] = set()
    level = {user.id}
    for _ in range(max_depth):
        level = set(db.session.execute(select(User.id).where(User.manager_id.in_(level))).scalars()) - found - {user.id}
        if not level:
            break
        found |= level
    return found


def _manager_chain(user_id: int | None) -> set[int]:
    """``user_id`` and every manager above it."""
    chain: set[int] = set()
    current = user_id
    while current is not None and current not in chain:
        chain.add(current)
        current = db.session.execute(select(User.manager_id).where(User.id == current)).scalar()
    return chain


def _admin_role_ids(overrides: dict[int, Iterable[str] | None] | None = None) -> set[int]:
    """Roles granting ``manage_users``; ``overrides`` maps a role id to its future permissions
    (None: the role is about to be deleted)."""
    overrides = overrides or {}
    ids = set()
    for role_id, perms in db.session.execute(select(Role.id, Role.permissions)).all():
        perms = overrides.get(role_id, perms) if role_id in overrides else perms
        if perms is not None and MANAGE_USERS in perms:
            ids.add(role_id)
    return ids


def _active_admin_ids(role_ids: set[int]) -> set[int]:
    if not role_ids:
        return set()
    return set(db.session.execute(select(user_roles.c.user_id).join(User, User.id == user_roles.c.user_id)
                                  .where(user_roles.c.role_id.in_(role_ids), User.active.is_(True))).scalars())


def _beyond(actor: User, permissions: set[str]) -> list[str]:
    """The permissions in ``permissions`` that ``actor`` does not hold: an administrator of
    users may hand out (or take back) only what they hold themselves — no self-promotion."""
    return sorted(permissions - set(actor.permissions))


def _last_admin_error() -> ValidationFailed:
    return ValidationFailed(_l("Nobody else could manage users then."), errors={"_form": [str(_l(
        "This is the last active person who may manage users: give the permission to someone else first."))]})


def save_user(actor: User, user: User | None, fields: UserFields) -> User:
    """Create (``user`` None) or update a user from the admin form; ValidationFailed lists
    every problem at once, by field."""
    errors: dict[str, list[str]] = {}
    login = (fields.login or "").strip()
    if not LOGIN_RE.match(login):
        errors["login"] = [str(_l("Use 2–128 letters, digits, dots, dashes, underscores or @."))]
    else:
        clash = db.session.execute(select(User.id).where(func.lower(User.login) == login.lower())).scalar()
        if clash is not None and (user is None or clash != user.id):
            errors["login"] = [str(_l("The login %(login)s is taken.", login=login))]
    email = (fields.email or "").strip()
    if email and not EMAIL_RE.match(email):
        errors["email"] = [str(_l("Write an e-mail address such as name@example.com."))]
    if fields.password and len(fields.password) < 8:
        errors["password"] = [str(_l("Use at least 8 characters."))]
    roles = _roles_by_id(fields.role_ids, errors)
    groups = _groups_by_id(fields.group_ids, errors)
    manager = None
    if fields.manager.strip():
        manager = db.session.execute(select(User).where(User.login == fields.manager.strip())).scalar()
        if manager is None:
            errors["manager"] = [str(_l("There is no user with the login %(login)s.", login=fields.manager.strip()))]
        elif user is not None and user.id in _manager_chain(manager.id):
            errors["manager"] = [str(_l(
                "%(manager)s is managed by %(user)s (directly or through their managers): a person "
                "cannot manage themselves. Choose someone outside their team.",
                manager=manager.login, user=user.login))]
    from flask import current_app

    if fields.locale and fields.locale not in current_app.config["LANGUAGES"]:
        errors["locale"] = [str(_l("Choose one of: %(choices)s.", choices=", ".join(current_app.config["LANGUAGES"])))]
    if fields.timezone and fields.timezone not in available_timezones():
        errors["timezone"] = [str(_l("Unknown time zone %(tz)s.", tz=fields.timezone))]
    beyond = _beyond(actor, {p for r in roles for p in (r.permissions or ())})
    if beyond:
        errors["roles"] = [str(_l("You cannot give permissions you do not hold yourself: %(names)s.",
                                  names=", ".join(beyond)))]
    if user is not None and user.id != actor.id and _beyond(actor, set(user.permissions)):
        raise Forbidden(_l("%(login)s holds permissions you do not: only someone who holds them all may "
                           "change this account.", login=user.login))
    if not errors and user is not None:
        was_admin = user.active and MANAGE_USERS in user.permissions
        will_be_admin = fields.active and any(MANAGE_USERS in (r.permissions or ()) for r in roles)
        if was_admin and not will_be_admin and not (_active_admin_ids(_admin_role_ids()) - {user.id}):
            raise _last_admin_error()
    if errors:
        raise ValidationFailed(errors=errors)

    created = user is None
    if created:
        user = User(login=login)
        db.session.add(user)
    before = _user_snapshot(user) if not created else {}
    user.login = login
    user.name = (fields.name or "").strip()[:256] or login
    user.email = email or None
    user.phone = (fields.phone or "").strip()[:64] or None
    user.active = bool(fields.active)
    user.roles = roles
    user.groups = groups
    user.manager = manager
    user.locale = fields.locale or None
    user.timezone = fields.timezone or None
    if fields.password:
        user.password_hash = generate_password_hash(fields.password)
    db.session.flush()
    after = _user_snapshot(user)
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if fields.password:
        changes["password"] = ["***", "***"]  # that it changed, never the value
    _log(actor, "admin.user.created" if created else "admin.user.updated", {"login": login, "changes": changes})
    return user


def _user_snapshot(user: User) -> dict:
    return {"login": user.login, "name": user.name, "email": user.email, "phone": user.phone,
            "active": user.active, "roles": sorted(r.name for r in user.roles),
            "groups": sorted(g.name for g in user.groups),
            "manager": user.manager.login if user.manager else None, "locale": user.locale,
            "timezone": user.timezone}


def _roles_by_id(ids: Iterable[int], errors: dict) -> list[Role]:
    ids = set(ids)
    roles = list(db.session.execute(select(Role).where(Role.id.in_(ids))).scalars()) if ids else []
    if len(roles) != len(ids):
        errors["roles"] = [str(_l("A chosen role no longer exists; reload the page."))]
    return roles


def _groups_by_id(ids: Iterable[int], errors: dict) -> list[Group]:
    ids = set(ids)
    groups = list(db.session.execute(select(Group).where(Group.id.in_(ids))).scalars()) if ids else []
    if len(groups) != len(ids):
        errors["groups"] = [str(_l("A chosen group no longer exists; reload the page."))]
    return groups


def active_user_logins(limit: int = 2000) -> list[tuple[str, str]]:
    """(login, name) of active users, for the manager picker."""
    return list(db.session.execute(select(User.login, User.name).where(User.active.is_(True))
                                   .order_by(User.login).limit(limit)).all())


# --- groups ------------------------------------------------------------------------------

@dataclass
class GroupRow:
    group: Group
    members: int
    open_items: int


def list_groups() -> list[GroupRow]:
    """Groups with their member and open-stage counts (three queries, whatever the number)."""
    groups = list(db.session.execute(select(Group).order_by(Group.name)).scalars())
    members = dict(db.session.execute(select(user_groups.c.group_id, func.count())
                                      .group_by(user_groups.c.group_id)).all())
    open_items = dict(db.session.execute(select(WorkItem.group_id, func.count()).where(
        WorkItem.status == "open", WorkItem.group_id.is_not(None)).group_by(WorkItem.group_id)).all())
    return [GroupRow(g, members.get(g.id, 0), open_items.get(g.id, 0)) for g in groups]


def get_group(group_id: int) -> Group:
    group = db.session.get(Group, group_id)
    if group is None:
        raise NotFound(_l("Group %(id)s does not exist.", id=group_id))
    return group


def save_group(actor: User, group: Group | None, name: str) -> Group:
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise ValidationFailed(errors={"name": [str(_l("Write a name of 1–128 characters."))]})
    clash = db.session.execute(select(Group.id).where(func.lower(Group.name) == name.lower())).scalar()
    if clash is not None and (group is None or clash != group.id):
        raise ValidationFailed(errors={"name": [str(_l("A group named %(name)s exists already.", name=name))]})
    if group is None:
        group = Group(name=name)
        db.session.add(group)
        db.session.flush()
        _log(actor, "admin.group.created", {"name": name})
    elif group.name != name:
        old = group.name
        group.name = name
        db.session.flush()
        _log(actor, "admin.group.renamed", {"changes": {"name": [old, name]}})
    return group


def delete_group(actor: User, group: Group) -> None:
    """Refused while stages wait in the group's queue: deleting would drop them out of every
    queue (their ``group_id`` would go empty) and nobody would see them."""
    from ..errors import Conflict

    open_items = db.session.execute(select(func.count()).select_from(WorkItem).where(
        WorkItem.group_id == group.id, WorkItem.status == "open")).scalar()
    if open_items:
        raise Conflict(_l(
            "%(count)s open stages are in the queue of %(name)s. Complete or reassign them first "
            "(or rename the group instead of deleting it).", count=open_items, name=group.name))
    templates = db.session.execute(select(func.count()).select_from(TicketTemplate).where(
        TicketTemplate.group_id == group.id)).scalar()
    name = group.name
    for user in _users_with(user_groups.c.group_id, group.id):
        user.groups.remove(group)
    db.session.delete(group)
    db.session.flush()
    _log(actor, "admin.group.deleted", {"name": name, "templates_unlinked": templates})


def _users_with(column, value: int) -> list[User]:
    return list(db.session.execute(select(User).where(User.id.in_(
        select(column.table.c.user_id).where(column == value)))).scalars())


# --- roles -------------------------------------------------------------------------------

def list_roles() -> list[Role]:
    ensure_builtin_roles()
    return list(db.session.execute(select(Role).order_by(Role.builtin.desc(), Role.name)).scalars())


def role_user_counts() -> dict[int, int]:
    return dict(db.session.execute(select(user_roles.c.role_id, func.count())
                                   .group_by(user_roles.c.role_id)).all())


def get_role(role_id: int) -> Role:
    role = db.session.get(Role, role_id)
    if role is None:
        raise NotFound(_l("Role %(id)s does not exist.", id=role_id))
    return role


def _refuse_builtin(role: Role) -> None:
    from ..errors import Conflict

    if role.builtin:
        raise Conflict(_l("Built-in roles cannot be changed; create a custom role instead."))


def save_role(actor: User, role: Role | None, name: str, permissions: Iterable[str]) -> Role:
    if role is not None:
        _refuse_builtin(role)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not ROLE_NAME_RE.match(name):
        errors["name"] = [str(_l("Use 2–64 letters, digits, spaces, dots, dashes or underscores."))]
    else:
        clash = db.session.execute(select(Role.id).where(func.lower(Role.name) == name.lower())).scalar()
        if clash is not None and (role is None or clash != role.id):
            errors["name"] = [str(_l("A role named %(name)s exists already.", name=name))]
    perms = sorted(set(permissions))
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown:
        errors["permissions"] = [str(_l("Unknown permissions: %(names)s.", names=", ".join(unknown)))]
    elif _beyond(actor, set(perms) | set(role.permissions or () if role is not None else ())):
        errors["permissions"] = [str(_l("You cannot give permissions you do not hold yourself: %(names)s.",
                                        names=", ".join(_beyond(actor, set(perms) | set(
                                            role.permissions or () if role is not None else ())))))]
    if errors:
        raise ValidationFailed(errors=errors)
    if role is not None and MANAGE_USERS in (role.permissions or ()) and MANAGE_USERS not in perms:
        if not _active_admin_ids(_admin_role_ids({role.id: perms})):
            raise _last_admin_error()
    created = role is None
    if created:
        role = Role(name=name, builtin=False, permissions=perms)
        db.session.add(role)
        before = {}
    else:
        before = {"name": role.name, "permissions": sorted(role.permissions or [])}
        role.name = name
        role.permissions = perms
    db.session.flush()
    after = {"name": name, "permissions": perms}
    _log(actor, "admin.role.created" if created else "admin.role.updated",
         {"role": name, "changes": {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}})
    return role


def delete_role(actor: User, role: Role) -> None:
    _refuse_builtin(role)
    if MANAGE_USERS in (role.permissions or ()) and not _active_admin_ids(_admin_role_ids({role.id: None})):
        raise _last_admin_error()
    name = role.name
    for user in _users_with(user_roles.c.role_id, role.id):
        user.roles.remove(role)  # through the ORM, so that loaded users forget the role at once
    db.session.delete(role)
    db.session.flush()
    _log(actor, "admin.role.deleted", {"role": name})
