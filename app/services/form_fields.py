"""Fields of built forms: WTForms field classes and their values: parsing (JSON values and HTML
strings alike), display and JSON output. Each field carries ``sd`` (form_builder.FieldInfo).
Every message uses the field's ``gettext`` (the translations the form instance was made with)."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timezone
from typing import TYPE_CHECKING, Any

from wtforms.fields import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import StopValidation

if TYPE_CHECKING:
    from .form_builder import FieldInfo

TRUE = {"true", "on", "yes", "y", "1"}
FALSE = {"false", "off", "no", "n", "0", ""}
_NUM_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DT_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_TIME_RE = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\Z")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+\Z")
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+\Z")
_MAX_LISTED = 15


def _tz(field):
    return getattr(field.meta, "sd_tz", None) or timezone.utc


def _choice_list(field) -> str:
    labels = [label for _, label in field.sd.choices]
    text = ", ".join(labels[:_MAX_LISTED])
    return text + (", …" if len(labels) > _MAX_LISTED else "")


# ---------------------------------------------------------------- parsers: value -> Python


def _text(field, value):
    if not isinstance(value, str):
        raise ValueError(field.gettext("Must be text."))
    value = value.replace("\r\n", "\n") if field.sd.kind == "textarea" else value.strip()
    return value if value.strip() else None


def _email(field, value):
    value = _text(field, value)
    if value is not None and not _EMAIL_RE.match(value):
        raise ValueError(field.gettext("Must be an e-mail address such as name@example.com."))
    return value


def _uri(field, value):
    value = _text(field, value)
    if value is not None and not _URI_RE.match(value):
        raise ValueError(field.gettext("Must be a full address such as https://example.com/page."))
    return value


def _number(field, value):
    integer = field.sd.kind == "integer"
    bad = field.gettext("Must be a whole number.") if integer else field.gettext("Must be a number.")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _NUM_RE.match(text):
            raise ValueError(bad)
        try:
            value = int(text)
        except ValueError:
            value = float(text)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(bad)
    if isinstance(value, float):
        if not math.isfinite(value) or (integer and not value.is_integer()):
            raise ValueError(bad)
        if integer:
            value = int(value)
    return value


def _date(field, value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _DATE_RE.match(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
    raise ValueError(field.gettext("Must be a date such as 2024-05-31 (year-month-day)."))


def _datetime(field, value):
    moment = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _DT_RE.match(text):
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                pass
    if moment is None:
        raise ValueError(field.gettext("Must be a date and time such as 2024-05-31T14:30."))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_tz(field))
    return moment.astimezone(timezone.utc)


def _time(field, value):
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _TIME_RE.match(text):
            try:
                return time.fromisoformat(text)
            except ValueError:
                pass
    raise ValueError(field.gettext("Must be a time of day such as 14:30."))


def _reference(field, value):
    if not isinstance(value, str):
        raise ValueError({"user": field.gettext("Must be a user's login."),
                          "group": field.gettext("Must be a group's name."),
                          "file": field.gettext("Must be an attachment id.")}[field.sd.kind])
    return value.strip() or None


def lookup(field, value):
    """The enum value ``value`` stands for (HTML sends "2" for 2), or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    key = value.strip() if isinstance(value, str) else str(value)
    return next((v for v, _ in field.sd.choices if str(v) == key), None)


def _select(field, value):
    if isinstance(value, str) and not value.strip():
        return None
    found = lookup(field, value)
    if found is None:
        raise ValueError(field.gettext("Choose one of: %(choices)s.") % {"choices": _choice_list(field)})
    return found


def parse_multi(field, items) -> list:
    found = [lookup(field, item) for item in items]
    bad = [str(item) for item, v in zip(items, found) if v is None]
    if bad:
        raise ValueError(field.gettext("Not allowed: %(values)s. Choose from: %(choices)s.")
                         % {"values": ", ".join(bad), "choices": _choice_list(field)})
    return list(dict.fromkeys(found))


def _checkbox(field, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise ValueError(field.gettext("Must be true or false."))


PARSERS = {
    "text": _text, "textarea": _text, "email": _email, "uri": _uri, "time": _time,
    "integer": _number, "number": _number, "date": _date,
    "datetime": _datetime, "select": _select, "checkbox": _checkbox, "file": _reference,
    "user": _reference, "group": _reference,
    "multiselect": lambda f, v: parse_multi(f, v if isinstance(v, list) else [v]),
}


def display(field) -> str:
    """The text an HTML input shows for the field's value (date-times in the caller's tz)."""
    data = field.data
    if data is None:
        return ""
    if isinstance(data, datetime):
        local = data.astimezone(_tz(field)).replace(tzinfo=None)
        return local.isoformat(timespec="minutes" if not (local.second or local.microsecond)
                               else "seconds")
    if isinstance(data, time):
        return data.isoformat(timespec="minutes" if not (data.second or data.microsecond) else "auto")
    if isinstance(data, date):
        return data.isoformat()
    return str(data)


def to_json(value: Any) -> Any:
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    return list(value) if isinstance(value, (list, tuple)) else value


def choice_pair(choice: Any) -> dict:
    if isinstance(choice, Mapping):
        return {"value": choice["value"], "label": choice.get("label", choice["value"])}
    if isinstance(choice, (tuple, list)):
        return {"value": choice[0], "label": choice[1]}
    return {"value": choice, "label": str(choice)}

# ---------------------------------------------------------------- fields


class _Spec:
    """Mixin: one parser for JSON values and HTML strings; readOnly fields ignore input."""

    absent_is_empty = False  # in an HTML post

    def __init__(self, *args, sd: FieldInfo, **kwargs):
        self.sd = sd
        super().__init__(*args, **kwargs)

    def process_data(self, value):
        try:
            self.data = self.sd.empty if value is None else PARSERS[self.sd.kind](self, value)
        except (ValueError, TypeError):
            self.data = self.sd.empty  # stale stored data must not block a new submission

    def process_formdata(self, valuelist):
        if self.sd.readonly:
            return
        if not valuelist:
            if self.absent_is_empty and not getattr(self.meta, "sd_json", False):
                self.data = self.sd.empty
            return
        self.data = self.sd.empty
        value = valuelist[0]
        if isinstance(value, (list, dict)):
            raise ValueError(self.gettext("Must be a single value, not a list or an object."))
        if value is not None:
            self.data = PARSERS[self.sd.kind](self, value)

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()


class ScalarField(_Spec, StringField):
    def _value(self):
        if self.raw_data and isinstance(self.raw_data[0], str):
            return self.raw_data[0]
        return display(self)


class ChoiceField(_Spec, SelectField):
    def _value(self):  # for the "hidden" widget
        return "" if self.data is None else str(self.data)


class CheckField(_Spec, BooleanField):
    absent_is_empty = True


class MultiChoiceField(_Spec, SelectMultipleField):
    absent_is_empty = True

    def process_formdata(self, valuelist):
        if self.sd.readonly:
            return
        if getattr(self.meta, "sd_json", False):
            if not valuelist:
                return
            if valuelist[0] is not None and not isinstance(valuelist[0], list):
                self.data = []
                raise ValueError(self.gettext("Must be a list of choices."))
            valuelist = valuelist[0] or []
        self.data = []
        self.data = parse_multi(self, [v for v in valuelist if v != ""])


class Coerce:
    """Option value (a string in HTML) -> the typed enum value."""

    def __init__(self, choices: tuple):
        self.map = {"": None, **{str(v): v for v, _ in choices}}

    def __call__(self, value: Any) -> Any:
        key = str(value)
        if key not in self.map:
            raise ValueError(value)
        return self.map[key]
