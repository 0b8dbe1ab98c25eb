"""Per-field and ui checks of form specs (used by form_specs.check_spec): every problem is a
sentence that says what is wrong and what is allowed."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import wtforms

KINDS = ("text", "textarea", "email", "uri", "integer", "number", "date", "datetime", "time",
         "select", "multiselect", "checkbox", "file", "user", "group")
TEXT_KINDS = ("text", "textarea", "email", "uri")
WIDGETS = {  # widget -> kinds it may be used with
    "text": {"text"}, "textarea": {"text", "textarea"}, "select": {"select", "multiselect"},
    "radio": {"select"}, "checkboxes": {"multiselect"},
    "hidden": set(KINDS) - {"checkbox", "multiselect"},
}
FORMATS = {"date": "date", "date-time": "datetime", "time": "time", "email": "email", "uri": "uri",
           "file": "file", "user": "user", "group": "group"}
TYPES = ("string", "integer", "number", "boolean", "array")
_RESERVED = {n for n in dir(wtforms.Form) if not n.startswith("_")} | {"Meta"}
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def field_kind(prop: Mapping, ui: Mapping | None = None) -> str | None:
    """The field kind (one of ``KINDS``) of a normalised property, or None if unsupported."""
    t, fmt = prop.get("type"), prop.get("format")
    if t == "array":
        items = prop.get("items")
        return "multiselect" if isinstance(items, Mapping) and "enum" in items else None
    if t == "boolean":
        return "checkbox"
    if t in ("integer", "number"):
        return "select" if "enum" in prop else t
    if t == "string":
        if "enum" in prop:
            return "select"
        if fmt is None:
            return "textarea" if (ui or {}).get("widget") == "textarea" else "text"
        return FORMATS.get(fmt)
    return None


def check_ui(ui: Mapping, props: Mapping, _: Callable) -> list[tuple[str | None, str]]:
    out = []
    order = ui.get("order", [])
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        out.append((None, _("'ui.order' must be a list of field names.")))
    else:
        for n in order:
            if n not in props:
                out.append((None, _("'ui.order' names an unknown field '%(field)s'.") % {"field": n}))
    for key, value in ui.items():
        if key == "order":
            continue
        if key not in props:
            out.append((None, _("'ui' has an entry for an unknown field '%(field)s'.") % {"field": key}))
        elif not isinstance(value, Mapping):
            out.append((key, _("its 'ui' entry must be an object.")))
    return out


def localized_ok(value: Any, of: type = str) -> bool:
    if isinstance(value, Mapping):
        return bool(value) and all(isinstance(k, str) and isinstance(v, of)
                                   for k, v in value.items())
    return isinstance(value, of)


def check_field(name: str, prop: Any, ui: Mapping, _: Callable) -> list[str]:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        return [_("a field name must start with a letter and hold only letters, digits, '_' "
                  "and '-' (use letters, digits and '_' for fields that expressions read).")]
    if name in _RESERVED:
        return [_("'%(name)s' is a reserved name; rename the field.") % {"name": name}]
    if not isinstance(prop, Mapping):
        return [_("its definition must be an object.")]
    out = []
    kind = field_kind(prop, ui)
    t = prop.get("type")
    if t not in TYPES:
        return [_("unknown type %(type)s; use one of: %(allowed)s.")
                % {"type": json.dumps(t), "allowed": ", ".join(TYPES)}]
    if t == "string" and "format" in prop and "enum" not in prop and kind is None:
        return [_("unknown format %(format)s; use one of: %(allowed)s.")
                % {"format": json.dumps(prop["format"]), "allowed": ", ".join(FORMATS)}]
    if t == "array" and kind is None:
        return [_("an array field must list its choices in 'items.enum' (a multi-select).")]
    for key in ("title", "description"):
        if key in prop and not localized_ok(prop[key]):
            out.append(_("'%(key)s' must be a text or an object of texts by locale.")
                       % {"key": key})
    if not isinstance(prop.get("readOnly", False), bool):
        out.append(_("'readOnly' must be true or false."))
    choices = prop.get("items") if kind == "multiselect" else prop
    if kind in ("select", "multiselect"):
        out += _check_enum(choices, _)
    if t in ("integer", "number"):
        out += _check_range(prop, ("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum"),
                            is_num, _)
    if kind in TEXT_KINDS:
        out += _check_range(prop, ("minLength",), ("maxLength",), _nonneg_int, _)
        if "pattern" in prop:
            try:
                re.compile(prop["pattern"])
            except (re.error, TypeError) as exc:
                out.append(_("'pattern' is not a valid regular expression: %(error)s.")
                           % {"error": exc})
    if kind == "multiselect":
        out += _check_range(prop, ("minItems",), ("maxItems",), _nonneg_int, _)
    widget = ui.get("widget")
    if widget is not None and kind not in WIDGETS.get(widget, ()):
        allowed = ", ".join(w for w, kinds in WIDGETS.items() if kind in kinds)
        out.append(_("widget %(widget)s does not fit this field; use one of: %(allowed)s.")
                   % {"widget": json.dumps(widget), "allowed": allowed} if allowed else
                   _("widget %(widget)s does not fit this field; leave 'widget' out.")
                   % {"widget": json.dumps(widget)})
    if "default" in prop and not out:
        out += _check_default(prop, kind, _)
    return out


def _nonneg_int(v: Any) -> bool:
    return is_int(v) and v >= 0


def _check_enum(prop: Mapping, _: Callable) -> list[str]:
    enum = prop.get("enum")
    if not isinstance(enum, list) or not enum:
        return [_("'enum' must be a non-empty list of choices.")]
    t = prop.get("type")
    if t == "integer":
        ok = all(is_int(v) for v in enum)
    elif t == "string":
        ok = all(isinstance(v, str) for v in enum)
    else:
        return [_("choices ('enum') need type 'string' or 'integer'.")]
    if not ok:
        return [_("every choice in 'enum' must be of type '%(type)s'.") % {"type": t}]
    out = []
    if len({str(v) for v in enum}) != len(enum):
        out.append(_("'enum' lists a choice twice."))
    names = prop.get("enumNames")
    if names is not None:
        tables = names.values() if isinstance(names, Mapping) and names else [names]
        if not all(isinstance(n, list) and all(isinstance(x, str) for x in n) for n in tables):
            out.append(_("'enumNames' must be a list of texts or an object of such lists by "
                         "locale."))
        elif any(len(n) != len(enum) for n in tables):
            out.append(_("'enumNames' must have as many names as 'enum' has choices (%(n)d).")
                       % {"n": len(enum)})
    return out


def _check_range(prop: Mapping, lows: tuple, highs: tuple, ok: Callable, _: Callable) -> list[str]:
    out = []
    for key in lows + highs:
        if key in prop and not ok(prop[key]):
            out.append(_("'%(key)s' must be a number.") % {"key": key} if ok is is_num
                       else _("'%(key)s' must be a whole number, 0 or more.") % {"key": key})
    if out:
        return out
    for low in lows:
        for high in highs:
            if low in prop and high in prop:
                a, b = prop[low], prop[high]
                strict = low.startswith("exclusive") or high.startswith("exclusive")
                if a > b or (a == b and strict):
                    out.append(_("'%(low)s' (%(a)s) is greater than '%(high)s' (%(b)s); no value "
                                 "could be entered.") % {"low": low, "a": a, "high": high, "b": b})
    return out


def _check_default(prop: Mapping, kind: str | None, _: Callable) -> list[str]:
    value, t = prop["default"], prop.get("type")
    if kind == "select":
        good = value in prop["enum"] and not isinstance(value, bool)
    elif kind == "multiselect":
        good = isinstance(value, list) and all(v in prop["items"]["enum"] for v in value)
    else:
        good = {"string": lambda v: isinstance(v, str), "integer": is_int, "number": is_num,
                "boolean": lambda v: isinstance(v, bool)}[t](value)
    if good and kind in ("date", "datetime"):
        good = bool((_DATE_RE if kind == "date" else _DATETIME_RE).match(value))
    return [] if good else [_("the 'default' value does not fit the field.")]
