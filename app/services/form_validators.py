"""Validators of form spec fields (attached by form_builder). Every message goes through the
field's ``gettext``/``ngettext``: the translations the form instance was made with."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wtforms.validators import StopValidation, ValidationError

from .form_spec_checks import TEXT_KINDS

RESOLVER = {"file": "attachment_usable", "user": "user_exists", "group": "group_exists"}


class ResolverMissing(RuntimeError):
    """A picker or file field got a value but the caller passed no callback to check it."""


def num(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def resolver(resolvers: Any, name: str):
    if resolvers is None:
        return None
    if isinstance(resolvers, Mapping):
        return resolvers.get(name)
    return getattr(resolvers, name, None)


def is_empty(field) -> bool:
    return field.data is None or field.data == [] or (field.sd.kind == "checkbox" and not field.data)


class Required:
    field_flags = {"required": True}

    def __call__(self, form, field):
        if is_empty(field):
            kind = field.sd.kind
            if kind == "checkbox":
                raise StopValidation(field.gettext("Check this box to continue."))
            if kind == "multiselect":
                raise StopValidation(field.gettext("Choose at least one option."))
            raise StopValidation(field.gettext("This field is required."))


def skip_if_empty(form, field):
    if is_empty(field):
        raise StopValidation()


class Length:
    def __init__(self, lo: int | None, hi: int | None):
        self.lo, self.hi = lo, hi
        self.field_flags = {k: v for k, v in (("minlength", lo), ("maxlength", hi)) if v is not None}

    def __call__(self, form, field):
        n = len(field.data)
        if self.lo is not None and n < self.lo:
            raise ValidationError(field.ngettext(
                "Must be at least %(num)d character long.", "Must be at least %(num)d characters long.",
                self.lo) % {"num": self.lo})
        if self.hi is not None and n > self.hi:
            raise ValidationError(field.ngettext(
                "Must be at most %(num)d character long.", "Must be at most %(num)d characters long.",
                self.hi) % {"num": self.hi})


class Pattern:
    def __init__(self, pattern: str):
        self.pattern, self.regex = pattern, re.compile(pattern)

    def __call__(self, form, field):
        if not self.regex.search(field.data):
            raise ValidationError(field.gettext("Must match the pattern %(pattern)s.")
                                  % {"pattern": self.pattern})


class Range:
    def __init__(self, prop: Mapping):
        self.lo, self.hi = prop.get("minimum"), prop.get("maximum")
        self.xlo, self.xhi = prop.get("exclusiveMinimum"), prop.get("exclusiveMaximum")
        self.field_flags = {k: v for k, v in (("min", self.lo), ("max", self.hi)) if v is not None}

    def __call__(self, form, field):
        x = field.data
        if self.lo is not None and x < self.lo:
            raise ValidationError(field.gettext("Must be at least %(min)s.") % {"min": num(self.lo)})
        if self.xlo is not None and x <= self.xlo:
            raise ValidationError(field.gettext("Must be greater than %(min)s.") % {"min": num(self.xlo)})
        if self.hi is not None and x > self.hi:
            raise ValidationError(field.gettext("Must be at most %(max)s.") % {"max": num(self.hi)})
        if self.xhi is not None and x >= self.xhi:
            raise ValidationError(field.gettext("Must be less than %(max)s.") % {"max": num(self.xhi)})


class Items:
    def __init__(self, lo: int | None, hi: int | None):
        self.lo, self.hi = lo, hi

    def __call__(self, form, field):
        n = len(field.data)
        if self.lo is not None and n < self.lo:
            raise ValidationError(field.ngettext(
                "Choose at least %(num)d option.", "Choose at least %(num)d options.", self.lo)
                % {"num": self.lo})
        if self.hi is not None and n > self.hi:
            raise ValidationError(field.ngettext(
                "Choose at most %(num)d option.", "Choose at most %(num)d options.", self.hi)
                % {"num": self.hi})


class Exists:
    """Asks the caller's resolver whether a login, group name or attachment id is usable."""

    def __init__(self, kind: str):
        self.kind = kind

    def __call__(self, form, field):
        name = RESOLVER[self.kind]
        check = resolver(getattr(form.meta, "sd_resolvers", None), name)
        if check is None:
            raise ResolverMissing(f"field {field.name!r} needs the {name!r} resolver")
        if not check(field.data):
            value = {"value": field.data}
            raise ValidationError({
                "user": field.gettext("There is no user with the login %(value)s.") % value,
                "group": field.gettext("There is no group named %(value)s.") % value,
                "file": field.gettext("This attachment does not exist or you may not use it."),
            }[self.kind])


def validators_for(info) -> list:
    if info.readonly:
        return []
    prop, kind = info.prop, info.kind
    out: list = [Required() if info.required else skip_if_empty]
    if kind in TEXT_KINDS:
        if "minLength" in prop or "maxLength" in prop:
            out.append(Length(prop.get("minLength"), prop.get("maxLength")))
        if "pattern" in prop:
            out.append(Pattern(prop["pattern"]))
    elif kind in ("integer", "number"):
        out.append(Range(prop))
    elif kind == "multiselect" and ("minItems" in prop or "maxItems" in prop):
        out.append(Items(prop.get("minItems"), prop.get("maxItems")))
    elif kind in RESOLVER:
        out.append(Exists(kind))
    return out
