"""Form specs -> WTForms form classes; validation of submitted data from JSON or an HTML post.

Pure WTForms (``wtforms.Form``): no Flask app or request context needed. The web layer may
mix a built class with ``FlaskForm`` for CSRF. Input rules, the same for both channels:

* JSON (a ``dict``, from the REST API): a key that is absent keeps the current value (or the
  default); ``null`` empties the field. Types must fit: text is a string, a checkbox a boolean
  (or "true"/"false"), a multi-select a list; numbers may also come as numeric strings.
* HTML (anything with ``getlist``, e.g. a werkzeug ``MultiDict``): an absent checkbox is
  unchecked and an absent multi-select is empty (browsers send nothing for them); other absent
  fields keep the current value.
* An empty value is ``None`` (``False`` for a checkbox, ``[]`` for a multi-select). Optional
  fields may be empty; constraints apply to the values given. ``required`` on a checkbox means
  it must be checked; ``minItems >= 1`` makes a multi-select required.
* readOnly fields ignore input: their cleaned value is the current one (or the default).
* Keys that name no field are ignored and listed in ``FormResult.unknown``.
* Date-times: naive input (HTML ``datetime-local``) is in the caller's ``tz``; the cleaned value
  is an ISO 8601 string in UTC (``2024-05-31T12:30:00+00:00``). Dates are ``YYYY-MM-DD``, times
  ``HH:MM:SS`` (no zone). ``pattern`` is searched (unanchored, as in JSON Schema) with Python ``re``.

Every message goes through the ``gettext`` (and ``ngettext``) given, default: identity.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import wtforms
from wtforms import widgets
from wtforms.meta import DefaultMeta

from . import form_fields as p
from .form_fields import CheckField, ChoiceField, MultiChoiceField, ScalarField
from .form_validators import ResolverMissing, resolver, validators_for
from .form_specs import FieldSpec, FormSpecError, humanize, iter_fields, localize, normalize_spec
from .form_specs import TEXT_KINDS, validate_spec

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3 takes (value, label) tuples
    SelectChoice = None

__all__ = ["FORM_ERRORS_KEY", "FieldInfo", "FormResult", "ResolverMissing", "Resolvers", "SpecForm",
           "build_form_class", "cache_info", "cleaned_data", "clear_cache", "make_form",
           "render_hints", "spec_digest", "validate_submission"]

FORM_ERRORS_KEY = "_form"
_INPUTS = {"textarea": widgets.TextArea, "date": widgets.DateInput, "time": widgets.TimeInput,
           "datetime": widgets.DateTimeLocalInput, "email": widgets.EmailInput,
           "uri": widgets.URLInput, "integer": lambda: widgets.NumberInput(step="1"),
           "number": lambda: widgets.NumberInput(step="any")}
CACHE_SIZE = 256
_DEFAULT_WIDGET = {"text": "text", "textarea": "textarea", "email": "email", "uri": "url",
                   "integer": "number", "number": "number", "date": "date",
                   "datetime": "datetime-local", "time": "time", "select": "select",
                   "multiselect": "select", "checkbox": "checkbox", "file": "file",
                   "user": "user", "group": "group"}


@dataclass(frozen=True)
class Resolvers:
    """Callbacks that keep this service DB-agnostic (any object or dict with these names works)."""

    user_exists: Callable[[str], bool] | None = None
    group_exists: Callable[[str], bool] | None = None
    attachment_usable: Callable[[str], bool] | None = None  # an existing attachment the actor may use
    user_choices: Callable[[], Iterable] | None = None  # -> [(login, label)] or [login]
    group_choices: Callable[[], Iterable] | None = None


@dataclass(frozen=True, eq=False)
class FieldInfo:
    """One field of a built form, localised; what templates and the API need to show it."""

    name: str
    kind: str
    label: str
    help: str | None
    placeholder: str | None
    required: bool
    readonly: bool
    widget: str
    choices: tuple  # ((value, label), ...) for select and multiselect
    prop: Mapping
    default: Any

    @property
    def empty(self) -> Any:
        return [] if self.kind == "multiselect" else False if self.kind == "checkbox" else None


@dataclass(frozen=True)
class FormResult:
    cleaned: dict | None  # JSON-ready values of every spec field; None when there are errors
    errors: dict[str, list[str]]
    unknown: tuple[str, ...] = ()
    form: Any = field(default=None, repr=False, compare=False)  # the bound form, for re-rendering

    @property
    def ok(self) -> bool:
        return not self.errors


class _Translations:
    def __init__(self, gettext: Callable, ngettext: Callable | None):
        self._gettext, self._ngettext = gettext, ngettext

    def gettext(self, string: str) -> str:
        return self._gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if self._ngettext is not None:
            return self._ngettext(singular, plural, n)
        return self._gettext(singular if n == 1 else plural)


class SpecForm(wtforms.Form):
    """Base of every built form class; ``_sd_fields`` describes its fields in order."""

    _sd_fields: tuple[FieldInfo, ...] = ()
    _sd_digest = ""
    _sd_locale = "en"
    _sd_title: str | None = None

    class Meta(DefaultMeta):
        sd_json = False
        sd_tz: tzinfo = timezone.utc
        sd_resolvers: Any = None
        sd_gettext: Callable | None = None
        sd_ngettext: Callable | None = None

        def get_translations(self, form):
            if self.sd_gettext is None:
                return super().get_translations(form)
            return _Translations(self.sd_gettext, self.sd_ngettext)


# ---------------------------------------------------------------- building and caching

_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()
_stats = {"hits": 0, "misses": 0}


def spec_digest(spec: Any) -> str:
    """sha256 of the canonical JSON of ``spec`` (the cache key with the locale)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _stats.update(hits=0, misses=0)


def cache_info() -> dict:
    with _lock:
        return {"size": len(_cache), "max": CACHE_SIZE, **_stats}


def build_form_class(spec: Mapping, locale: str = "en", *, digest: str | None = None
                     ) -> type[SpecForm]:
    """The WTForms class for ``spec`` in ``locale``, cached by (digest, locale).

    Raises ``FormSpecError`` if the spec has problems (see ``form_specs.validate_spec``)."""
    key = (digest or spec_digest(spec), str(locale or "en"))
    with _lock:
        cls = _cache.get(key)
        if cls is not None:
            _cache.move_to_end(key)
            _stats["hits"] += 1
            return cls
    normalized = normalize_spec(spec)
    problems = validate_spec(normalized, "form")
    if problems:
        raise FormSpecError("form", problems)
    infos = tuple(_field_info(f, key[1]) for f in iter_fields(normalized))
    attrs: dict[str, Any] = {"_sd_fields": infos, "_sd_digest": key[0], "_sd_locale": key[1],
                             "_sd_title": localize(normalized.get("title"), key[1])}
    for info in infos:
        attrs[info.name] = _unbound(info)
    cls = type(f"SpecForm_{key[0][:12]}", (SpecForm,), attrs)
    with _lock:
        _stats["misses"] += 1
        _cache[key] = cls
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return cls


def _field_info(f: FieldSpec, locale: str) -> FieldInfo:
    prop, ui, kind = f.prop, f.ui, f.kind
    readonly = prop.get("readOnly") is True
    required = f.required or (kind == "multiselect" and prop.get("minItems", 0) >= 1)
    choices: tuple = ()
    if kind in ("select", "multiselect"):
        source = prop["items"] if kind == "multiselect" else prop
        names = localize(source.get("enumNames"), locale) or [str(v) for v in source["enum"]]
        choices = tuple(zip(source["enum"], names))
    return FieldInfo(
        name=f.name, kind=kind, label=localize(prop.get("title"), locale) or humanize(f.name),
        help=localize(ui.get("help"), locale) or localize(prop.get("description"), locale),
        placeholder=localize(ui.get("placeholder"), locale), required=required and not readonly,
        readonly=readonly, widget=ui.get("widget") or _DEFAULT_WIDGET[kind], choices=choices,
        prop=prop, default=prop.get("default"))


def _unbound(info: FieldInfo):
    kw: dict[str, Any] = {"label": info.label, "description": info.help or "", "sd": info,
                          "validators": validators_for(info), "default": info.default}
    render_kw: dict[str, Any] = {}
    if info.placeholder:
        render_kw["placeholder"] = info.placeholder
    if info.kind in ("select", "multiselect"):
        pairs = [(str(v), label) for v, label in info.choices]
        if info.kind == "select" and info.widget == "select":
            pairs.insert(0, ("", ""))  # nothing preselected by the browser
        opts = [SelectChoice(v, label) if SelectChoice else (v, label) for v, label in pairs]
        kw.update(choices=opts, coerce=p.Coerce(info.choices))
        if info.widget in ("radio", "checkboxes"):
            kw.update(widget=widgets.ListWidget(prefix_label=False),
                      option_widget=widgets.RadioInput() if info.widget == "radio"
                      else widgets.CheckboxInput())
        cls = ChoiceField if info.kind == "select" else MultiChoiceField
    elif info.kind == "checkbox":
        cls = CheckField
    else:
        cls = ScalarField
        kw["widget"] = _INPUTS[info.kind]() if info.kind in _INPUTS else widgets.TextInput()
    if info.widget == "hidden":
        kw["widget"] = widgets.HiddenInput()
    if info.readonly:
        render_kw["readonly" if cls is ScalarField else "disabled"] = True
    kw["render_kw"] = render_kw or None
    return cls(**kw)


# ---------------------------------------------------------------- use

class _JSONInput:
    """A JSON object as WTForms formdata: each key holds ONE value (a list stays one value)."""

    def __init__(self, data: Mapping):
        self._data = data

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __iter__(self):
        return iter(self._data)

    def getlist(self, key: str) -> list:
        return [self._data[key]] if key in self._data else []


def _as_tz(tz: str | tzinfo | None) -> tzinfo:
    if tz is None or tz == "UTC":
        return timezone.utc
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _initial(cls: type[SpecForm], current: Mapping | None) -> dict:
    current = current or {}
    return {i.name: current[i.name] if current.get(i.name) is not None else i.default
            for i in cls._sd_fields}


def make_form(spec: Mapping, *, locale: str = "en", formdata: Any = None,
              current: Mapping | None = None, resolvers: Any = None,
              gettext: Callable[[str], str] | None = None, ngettext: Callable | None = None,
              tz: str | tzinfo | None = "UTC", digest: str | None = None) -> SpecForm:
    """A bound form: ``formdata`` is a JSON object (dict), a MultiDict, or None to just show
    ``current`` data (JSON-ready values as stored) with defaults for what is missing."""
    cls = build_form_class(spec, locale, digest=digest)
    is_json = formdata is not None and not hasattr(formdata, "getlist")
    if is_json:
        formdata = _JSONInput(formdata)
    meta = {"sd_json": is_json, "sd_tz": _as_tz(tz), "sd_resolvers": resolvers,
            "sd_gettext": gettext or (lambda s: s), "sd_ngettext": ngettext}
    return cls(formdata=formdata, data=_initial(cls, current), meta=meta)


def cleaned_data(form: SpecForm, current: Mapping | None = None) -> dict:
    """JSON-ready values of every field of a validated ``form`` (readOnly: current or default)."""
    current = current or {}
    out = {}
    for info in form._sd_fields:
        if info.readonly:
            value = current.get(info.name)
            out[info.name] = json.loads(json.dumps(info.default if value is None else value,
                                                   default=str))
        else:
            out[info.name] = p.to_json(form[info.name].data)
    return out


def validate_submission(spec: Mapping, submitted: Any, *, locale: str = "en",
                        current: Mapping | None = None, resolvers: Any = None,
                        gettext: Callable[[str], str] | None = None,
                        ngettext: Callable | None = None, tz: str | tzinfo | None = "UTC",
                        digest: str | None = None) -> FormResult:
    """Validate ``submitted`` (JSON object or MultiDict) against ``spec``.

    ``current`` holds the data the fields have now (task data); it fills absent keys and is
    the value of readOnly fields. Raises ``FormSpecError`` for a bad spec and
    ``ResolverMissing`` when a picker or file value cannot be checked."""
    _ = gettext or (lambda s: s)
    if submitted is None:
        submitted = {}
    if not hasattr(submitted, "getlist") and not isinstance(submitted, Mapping):
        return FormResult(None, {FORM_ERRORS_KEY: [str(_("The data must be a JSON object."))]})
    form = make_form(spec, locale=locale, formdata=submitted, current=current,
                     resolvers=resolvers, gettext=gettext, ngettext=ngettext, tz=tz, digest=digest)
    names = {i.name for i in form._sd_fields}
    unknown = tuple(sorted({str(k) for k in submitted.keys()} - names))
    if not form.validate():
        errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        return FormResult(None, errors, unknown, form)
    return FormResult(cleaned_data(form, current), {}, unknown, form)


def render_hints(spec: Mapping, locale: str = "en", *, resolvers: Any = None,
                 digest: str | None = None) -> list[dict]:
    """Field descriptors for an HTML template and the REST API, in display order."""
    return [_hint(info, resolvers) for info in build_form_class(spec, locale, digest=digest)._sd_fields]


def _hint(info: FieldInfo, resolvers: Any) -> dict:
    prop, kind = info.prop, info.kind
    lo, hi = ("minItems", "maxItems") if kind == "multiselect" else (
        ("minLength", "maxLength") if kind in TEXT_KINDS else ("minimum", "maximum"))
    hint = {"name": info.name, "kind": kind, "label": info.label, "help": info.help,
            "placeholder": info.placeholder, "required": info.required,
            "readonly": info.readonly, "widget": info.widget, "choices": None,
            "min": prop.get(lo, prop.get("exclusiveMinimum") if lo == "minimum" else None),
            "max": prop.get(hi, prop.get("exclusiveMaximum") if hi == "maximum" else None),
            "exclusive_min": lo == "minimum" and lo not in prop and "exclusiveMinimum" in prop,
            "exclusive_max": hi == "maximum" and hi not in prop and "exclusiveMaximum" in prop,
            "step": {"integer": 1, "number": "any"}.get(kind), "pattern": prop.get("pattern"),
            "default": info.default}
    if kind not in ("integer", "number", "multiselect", *TEXT_KINDS):
        hint.update(min=None, max=None, exclusive_min=False, exclusive_max=False)
    if info.choices:
        hint["choices"] = [{"value": v, "label": label} for v, label in info.choices]
    elif kind in ("user", "group"):
        source = resolver(resolvers, f"{kind}_choices")
        if source is not None:
            hint["choices"] = [p.choice_pair(c) for c in source()]
    return hint
