"""Form specs: load, normalise and check the JSON files that user tasks name (forms/README.md).

Three input shapes are accepted and normalised to ONE shape::

    {"title": ..., "description": ..., "schema": {"type": "object", "required": [...],
     "properties": {...}}, "ui": {"order": [every field], "<field>": {"widget", "help", ...}}}

* our format (top level has ``schema``, optional ``ui``);
* a plain JSON Schema (top level has ``properties``);
* a spiff-arena / react-jsonschema-form pair (``merge_spiff_pair(schema, uischema)``, or one
  object with ``schema`` and ``uischema``): ``ui:widget``, ``ui:order`` (with ``*``), ``ui:help``,
  ``ui:placeholder``, ``ui:title``, ``ui:readonly`` and ``oneOf: [{const, title}]`` choices.

``normalize_spec`` never raises: whatever it cannot make sense of is left for ``check_spec`` /
``validate_spec`` to report, every problem at once, each naming its field.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .form_spec_checks import KINDS, TEXT_KINDS, WIDGETS, check_field, check_ui, field_kind
from .form_spec_checks import is_int
from .form_spec_checks import localized_ok

__all__ = ["KINDS", "TEXT_KINDS", "WIDGETS", "FieldSpec", "FormSpecError", "Problem", "check_spec",
           "field_kind", "humanize", "iter_fields", "load_spec", "localize", "merge_spiff_pair",
           "normalize_spec", "validate_spec"]

MAX_SPEC_BYTES = 256 * 1024
# rjsf widgets that add nothing over our default input for the field's kind
_RJSF_DROP = {"updown", "range", "checkbox", "date", "datetime", "alt-date", "alt-datetime",
              "email", "uri", "password", "color", "file", "text", "time", "tel"}
_RJSF_KEYS = {"ui:widget": "widget", "ui:help": "help", "ui:description": "help",
              "description": "help", "ui:placeholder": "placeholder", "ui:options": "options"}
# rjsf form-level ui options, also as workflows.form_specs stores them (without "ui:")
_RJSF_FORM_KEYS = {"submitButtonOptions", "globalOptions", "rootFieldId", "classNames", "options",
                   "duplicateKeySuffixSeparator", "enableMarkdownInDescription"}


class Problem(NamedTuple):
    field: str | None
    message: str


class FormSpecError(ValueError):
    """A spec that cannot be used; ``problems`` lists every problem as a sentence."""

    def __init__(self, name: str, problems: list[str]):
        self.name = name
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) or name)


def _identity(s: str) -> str:
    return s


# ---------------------------------------------------------------- localisation

def _norm_locale(loc: Any) -> str:
    return str(loc or "en").replace("-", "_").lower()


def localize(value: Any, locale: Any = "en") -> Any:
    """Pick the text for ``locale`` from a string or a ``{locale: text}`` object.

    Exact locale, then same language (``ru`` for ``ru_RU`` and vice versa), then ``en``,
    then the first entry. Plain values are returned unchanged."""
    if not isinstance(value, Mapping):
        return value
    if not value:
        return None
    table = {_norm_locale(k): v for k, v in value.items()}
    want = _norm_locale(locale)
    for lang in (want, want.split("_")[0]):
        if lang in table:
            return table[lang]
    for lang in (want.split("_")[0], "en"):
        for key, text in table.items():
            if key.split("_")[0] == lang:
                return text
    return next(iter(value.values()))


def humanize(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------- normalisation

def merge_spiff_pair(schema: Mapping, uischema: Mapping | None = None) -> dict:
    """Turn a spiff-arena pair (``x-schema.json`` + ``x-uischema.json``) into our format."""
    return normalize_spec({"schema": copy.deepcopy(schema), "ui": copy.deepcopy(uischema or {})})


def normalize_spec(spec: Any) -> Any:
    """Return a normalised deep copy of ``spec`` (see the module docstring). Idempotent."""
    if not isinstance(spec, Mapping):
        return spec
    spec = copy.deepcopy(dict(spec))
    ui_key = next((k for k in ("uischema", "uiSchema", "ui_schema") if k in spec), None)
    if ui_key and "schema" in spec:
        spec["ui"] = spec.pop(ui_key)
    elif "schema" not in spec and "properties" in spec:
        spec = {"schema": spec, "ui": spec.pop("ui", None) or {}}
    schema = spec.get("schema")
    if isinstance(schema, dict):
        for key in ("title", "description"):
            if key in schema and key not in spec:
                spec[key] = schema[key]
        schema.setdefault("type", "object")
    props = schema.get("properties") if isinstance(schema, dict) else None
    props = props if isinstance(props, dict) else {}
    for prop in props.values():
        if isinstance(prop, dict):
            _normalize_prop(prop)
            if isinstance(prop.get("items"), dict):
                if "enumNames" in prop and "enumNames" not in prop["items"]:
                    prop["items"]["enumNames"] = prop.pop("enumNames")
                _normalize_prop(prop["items"])
    spec["ui"] = _normalize_ui({} if spec.get("ui") is None else spec["ui"], props)
    return spec


def _normalize_prop(prop: dict) -> None:
    if isinstance(prop.get("type"), list):
        types = [t for t in prop["type"] if t != "null"]
        if len(types) == 1:
            prop["type"] = types[0]
    for key in ("oneOf", "anyOf"):
        options = prop.get(key)
        if ("enum" not in prop and isinstance(options, list) and options
                and all(isinstance(o, dict) and "const" in o for o in options)):
            prop["enum"] = [o["const"] for o in options]
            titles = [o.get("title", str(o["const"])) for o in options]
            if any(isinstance(t, Mapping) for t in titles):
                locales = [k for t in titles if isinstance(t, Mapping) for k in t]
                prop["enumNames"] = {loc: [str(localize(t, loc)) for t in titles]
                                     for loc in dict.fromkeys(locales)}
            elif any(o.get("title") is not None for o in options):
                prop["enumNames"] = titles
            del prop[key]
    if "type" not in prop:
        enum = prop.get("enum")
        if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
            prop["type"] = "string"
        elif isinstance(enum, list) and enum and all(is_int(v) for v in enum):
            prop["type"] = "integer"
        elif "format" in prop:
            prop["type"] = "string"
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(prop.get(bound), bool):  # draft-04 style
            if prop.pop(bound) and limit in prop:
                prop[bound] = prop.pop(limit)


def _normalize_ui(ui: Any, props: Mapping) -> Any:
    if not isinstance(ui, dict):
        return ui
    out: dict[str, Any] = {}
    for key, value in ui.items():
        if key in ("order", "ui:order"):
            out["order"] = value
        elif key.startswith("ui:") or (key in _RJSF_FORM_KEYS and key not in props):
            continue  # rjsf form-level presentation (submit button options, ...)
        elif isinstance(value, dict):
            out[key] = _normalize_ui_field(value, props.get(key))
        else:
            out[key] = value
    order = out.get("order", ["*"])
    if isinstance(order, list) and all(isinstance(n, str) for n in order):
        listed = [n for n in order if n != "*"]
        rest = [n for n in props if n not in listed]
        if "*" not in order:
            order = order + ["*"]
        expanded: list[str] = []
        for n in order:
            expanded.extend(rest if n == "*" else [n])
        out["order"] = list(dict.fromkeys(expanded))
    else:
        out["order"] = order
    return out


def _normalize_ui_field(entry: dict, prop: Any) -> dict:
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("ui:readonly", "ui:disabled", "readonly", "disabled"):
            if value is True and isinstance(prop, dict):
                prop["readOnly"] = True
        elif key in ("ui:title", "title"):
            if isinstance(prop, dict):
                prop["title"] = value
        elif key in ("ui:widget", "widget") and value in _RJSF_DROP:
            continue  # the default input of the field's kind does the same
        elif key in _RJSF_KEYS:
            out.setdefault(_RJSF_KEYS[key], value)
        elif not key.startswith("ui:"):
            out[key] = value
    return out


# ---------------------------------------------------------------- fields

class FieldSpec(NamedTuple):
    name: str
    prop: dict
    ui: dict
    required: bool
    kind: str | None


def iter_fields(spec: Mapping) -> list[FieldSpec]:
    """The fields of a normalised spec, in ``ui.order``."""
    schema = spec.get("schema") or {}
    props = schema.get("properties") or {}
    ui = spec.get("ui") or {}
    required = set(schema.get("required") or ())
    order = [n for n in ui.get("order", props) if n in props]
    order += [n for n in props if n not in order]
    out = []
    for name in order:
        prop = props[name]
        entry = ui.get(name) if isinstance(ui.get(name), dict) else {}
        out.append(FieldSpec(name, prop, entry, name in required, field_kind(prop, entry)))
    return out


# ---------------------------------------------------------------- checking

def validate_spec(spec: Any, name: str = "form", *, gettext: Callable[[str], str] | None = None
                  ) -> list[str]:
    """Every problem of ``spec`` as a sentence prefixed with ``name`` (and the field); [] if fine."""
    _ = gettext or _identity
    out = []
    for field, message in check_spec(spec, gettext=gettext):
        if field is None:
            out.append(_("%(file)s: %(message)s") % {"file": name, "message": message})
        else:
            out.append(_("%(file)s: field '%(field)s': %(message)s")
                       % {"file": name, "field": field, "message": message})
    return out


def check_spec(spec: Any, *, gettext: Callable[[str], str] | None = None) -> list[Problem]:
    """Every problem of ``spec`` as ``Problem(field or None, message)``."""
    _ = gettext or _identity
    if not isinstance(spec, Mapping):
        return [Problem(None, _("A form spec must be a JSON object."))]
    spec = normalize_spec(spec)
    problems: list[Problem] = []
    form_msg = problems.append
    for key in ("title", "description"):
        if key in spec and not localized_ok(spec[key]):
            form_msg(Problem(None, _("'%(key)s' must be a text or an object of texts by locale.")
                             % {"key": key}))
    schema = spec.get("schema")
    if not isinstance(schema, Mapping):
        return problems + [Problem(None, _("The spec has no 'schema' object (nor top-level "
                                           "'properties')."))]
    if schema.get("type") != "object":
        form_msg(Problem(None, _("The schema's type must be 'object'.")))
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return problems + [Problem(None, _("The schema has no 'properties' object."))]
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        form_msg(Problem(None, _("'required' must be a list of field names.")))
    else:
        for r in required:
            if r not in props:
                form_msg(Problem(None, _("'required' names an unknown field '%(field)s'.")
                                 % {"field": r}))
    ui = spec.get("ui")
    if not isinstance(ui, Mapping):
        form_msg(Problem(None, _("'ui' must be an object.")))
        ui = {}
    problems += [Problem(f, m) for f, m in check_ui(ui, props, _)]
    for name, prop in props.items():
        entry = ui.get(name) if isinstance(ui.get(name), Mapping) else {}
        problems += [Problem(name, m) for m in check_field(name, prop, entry, _)]
    return problems


# ---------------------------------------------------------------- loading

def _no_duplicates(pairs: list) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def load_spec(raw: bytes | str, name: str = "form", *,
              gettext: Callable[[str], str] | None = None) -> dict:
    """Parse, normalise and check a form spec file; raise ``FormSpecError`` listing every problem."""
    _ = gettext or _identity
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_SPEC_BYTES:
        raise FormSpecError(name, [_("%(file)s: the file is larger than %(kb)d KB.")
                                   % {"file": name, "kb": MAX_SPEC_BYTES // 1024}])
    try:
        data = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_no_duplicates,
                          parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise FormSpecError(name, [_("%(file)s: the file is not UTF-8 text.") % {"file": name}]) from None
    except json.JSONDecodeError as exc:
        raise FormSpecError(name, [_("%(file)s: not valid JSON at line %(line)d, column "
                                     "%(col)d: %(error)s.") % {"file": name, "line": exc.lineno,
                                                               "col": exc.colno, "error": exc.msg}]) from None
    except (ValueError, RecursionError) as exc:
        raise FormSpecError(name, [_("%(file)s: not valid JSON: %(error)s.")
                                   % {"file": name, "error": exc}]) from None
    problems = validate_spec(data, name, gettext=gettext)
    if problems:
        raise FormSpecError(name, problems)
    return normalize_spec(data)
