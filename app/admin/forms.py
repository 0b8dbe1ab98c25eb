"""WTForms of the admin pages (choices are filled by the views from the database)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..auth.forms import LANGUAGE_NAMES, _timezones
from ..i18n import _l
from ..services.ids import parse_id


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes (works without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:  # choices may change between GET and POST: the service checks
        pass


def _id(value) -> int:
    """A checkbox's or select's id: ASCII digits within INTEGER, else an invalid choice."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    parsed = parse_id(value)
    if parsed is None:
        raise ValueError(value)
    return parsed


def _locale_choices():
    return [SelectChoice("", _l("Default"))] + [SelectChoice(k, v) for k, v in LANGUAGE_NAMES.items()]


def _timezone_choices():
    return [SelectChoice("", _l("Default"))] + _timezones()


def _category_choices():
    return [SelectChoice(k, v) for k, v in (
        ("", _l("Not set")), ("incident", _l("Incident")), ("service_request", _l("Service request")),
        ("complaint", _l("Complaint")), ("change_request", _l("Change request")),
        ("information_request", _l("Information request")))]


def _priority_choices():
    return [SelectChoice("", _l("Not set"))] + [SelectChoice(p, p) for p in ("P1", "P2", "P3", "P4")]


class UserForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired(), Length(max=128)],
                        render_kw={"autocomplete": "off"})
    name = StringField(_l("Name"), validators=[Length(max=256)])
    email = StringField(_l("E-mail"), validators=[Length(max=256)], render_kw={"type": "email"})
    phone = StringField(_l("Phone"), validators=[Length(max=64)], render_kw={"type": "tel"})
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=256)],
                             render_kw={"autocomplete": "new-password"})
    active = BooleanField(_l("Active (may sign in)"), default=True)
    roles = CheckboxesField(_l("Roles"), coerce=_id)
    groups = CheckboxesField(_l("Groups"), coerce=_id)
    manager = StringField(_l("Manager"), validators=[Length(max=128)],
                          render_kw={"list": "manager-logins", "autocomplete": "off"})
    locale = SelectField(_l("Language"), choices=_locale_choices)
    timezone = SelectField(_l("Time zone"), choices=_timezone_choices)


class GroupForm(FlaskForm):
    name = StringField(_l("Group name"), validators=[DataRequired(), Length(max=128)])


class RoleForm(FlaskForm):
    name = StringField(_l("Role name"), validators=[DataRequired(), Length(max=64)])
    permissions = CheckboxesField(_l("Permissions"))


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=255)])
    process_key = SelectField(_l("Process"))
    subject = StringField(_l("Subject"), validators=[Length(max=500)])
    description = TextAreaField(_l("Description"), render_kw={"rows": 4})
    service = StringField(_l("Service"), validators=[Length(max=128)])
    category = SelectField(_l("Category"), choices=_category_choices)
    priority = SelectField(_l("Priority"), choices=_priority_choices)
    group_id = SelectField(_l("Group"), coerce=lambda v: _id(v) if v not in (None, "", "None") else None)
    for_requesters = BooleanField(_l("Offered to requesters on the portal"), default=True)
    position = IntegerField(_l("Position"), default=0, validators=[Optional(), NumberRange(min=0, max=100000)])
    active = BooleanField(_l("Active"), default=True)
