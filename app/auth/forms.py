"""WTForms of the auth blueprint."""
from __future__ import annotations

from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..i18n import _l

LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}


def language_choices() -> list[SelectChoice]:
    return [SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()]


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired(), Length(max=128)],
                        render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me signed in"))
    next = HiddenField()


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=language_choices)
    next = HiddenField()


def _timezones() -> list[SelectChoice]:
    return [SelectChoice(z, z) for z in sorted(available_timezones())
            if "/" in z and not z.startswith(("Etc/", "SystemV/"))]


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=256)])
    language = SelectField(_l("Language"), choices=language_choices)
    timezone = SelectField(_l("Time zone"), choices=_timezones)
