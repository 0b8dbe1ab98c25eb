"""Validating a stage's submitted data against its form spec, with the database's pickers."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from flask_babel import gettext, ngettext
from sqlalchemy import exists, select

from ..errors import ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import Attachment, Group, User
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


_ATTACHMENT_ID = re.compile(r"[0-9]{1,18}")


def attachment_usable(attachment_id: Any, *, ticket_id: int | None = None) -> bool:
    """Does a file field's value name an existing attachment (of ``ticket_id``, when given)?
    The value is an attachment id; anything else (names, paths, URLs) names none."""
    text = str(attachment_id).strip() if attachment_id is not None else ""
    if not _ATTACHMENT_ID.fullmatch(text):
        return False
    condition = [Attachment.id == int(text)]
    if ticket_id is not None:
        condition.append(Attachment.ticket_id == ticket_id)
    return bool(db.session.execute(select(exists().where(*condition))).scalar())


RESOLVERS = Resolvers(user_exists=_user_exists, group_exists=_group_exists, attachment_usable=attachment_usable,
                      user_choices=_user_choices, group_choices=_group_choices)


def resolvers_for(ticket_id: int | None) -> Resolvers:
    """The resolvers for a stage of ``ticket_id``: a file field may name only that ticket's files."""
    if ticket_id is None:
        return RESOLVERS
    return replace(RESOLVERS, attachment_usable=lambda value: attachment_usable(value, ticket_id=ticket_id))


def validate_stage_data(spec: dict | None, data: Any, *, locale: str = "en",
                        current: dict | None = None, tz: str = "UTC", ticket_id: int | None = None) -> dict:
    """Cleaned, JSON-ready values of the form's fields, or ValidationFailed with per-field errors.

    A stage without a form takes no data: nothing outside a form reaches the process.  With
    ``ticket_id``, a file field accepts only an attachment of that ticket (without it: any
    existing attachment).
    """
    if not isinstance(data, dict):
        raise ValidationFailed(errors={"data": [str(_l("The data must be a JSON object."))]})
    if spec is None:
        return {}
    try:
        result = validate_submission(spec, data, locale=locale, current=current, resolvers=resolvers_for(ticket_id),
                                     gettext=gettext, ngettext=ngettext, tz=tz)
    except FormSpecError as err:
        raise ValidationFailed(_l("The stage's form is broken: %(error)s", error=str(err))) from None
    if not result.ok:
        raise ValidationFailed(errors=result.errors)
    return result.cleaned
