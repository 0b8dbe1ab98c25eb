"""Validating a stage's submitted data against its form spec, with the database's pickers."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext, ngettext
from sqlalchemy import exists, select

from ..errors import ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import Group, User
from .form_builder import Resolvers, validate_submission
from .form_specs import FormSpecError


def _user_exists(login: str) -> bool:
    return bool(db.session.execute(select(exists().where(User.login == login, User.active.is_(True)))).scalar())


def _group_exists(name: str) -> bool:
    return bool(db.session.execute(select(exists().where(Group.name == name))).scalar())


def _user_choices():
    return [(u.login, u.display_name) for u in db.session.execute(
        select(User).where(User.active.is_(True)).order_by(User.login).limit(500)).scalars()]


def _group_choices():
    return [(g.name, g.name) for g in db.session.execute(select(Group).order_by(Group.name)).scalars()]


def _no_attachments(_attachment_id: str) -> bool:
    # Attachments arrive with the desk/portal issue; until then no id refers to one.
    return False


RESOLVERS = Resolvers(user_exists=_user_exists, group_exists=_group_exists, attachment_usable=_no_attachments,
                      user_choices=_user_choices, group_choices=_group_choices)


def validate_stage_data(spec: dict | None, data: Any, *, locale: str = "en",
                        current: dict | None = None, tz: str = "UTC") -> dict:
    """Cleaned, JSON-ready values of the form's fields, or ValidationFailed with per-field errors.

    A stage without a form takes no data: nothing outside a form reaches the process.
    """
    if not isinstance(data, dict):
        raise ValidationFailed(errors={"data": [str(_l("The data must be a JSON object."))]})
    if spec is None:
        return {}
    try:
        result = validate_submission(spec, data, locale=locale, current=current, resolvers=RESOLVERS,
                                     gettext=gettext, ngettext=ngettext, tz=tz)
    except FormSpecError as err:
        raise ValidationFailed(_l("The stage's form is broken: %(error)s", error=str(err))) from None
    if not result.ok:
        raise ValidationFailed(errors=result.errors)
    return result.cleaned
