"""Form builder: every field kind from JSON and from an HTML post, pickers, i18n, caching."""
from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.services import form_builder as fb
from app.services.form_specs import FormSpecError, load_spec, merge_spiff_pair, validate_spec

FORMS = Path(__file__).resolve().parents[2] / "forms"

SPEC = {
    "title": {"en": "Everything", "ru": "Всё"},
    "schema": {
        "type": "object",
        "required": ["category", "impact", "summary"],
        "properties": {
            "category": {"type": "string", "title": {"en": "Type", "ru": "Тип"},
                         "enum": ["incident", "service_request"],
                         "enumNames": {"en": ["Incident", "Service request"],
                                       "ru": ["Инцидент", "Запрос на обслуживание"]}},
            "impact": {"type": "integer", "title": "Impact", "minimum": 1, "maximum": 5},
            "summary": {"type": "string", "minLength": 3, "maxLength": 10},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
            "details": {"type": "string", "description": {"en": "What happened", "ru": "Что случилось"}},
            "cost": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100},
            "due_date": {"type": "string", "format": "date"},
            "due_at": {"type": "string", "format": "date-time"},
            "priority": {"type": "integer", "enum": [1, 2, 3], "enumNames": ["Low", "Medium", "High"]},
            "channels": {"type": "array", "items": {"type": "string", "enum": ["mail", "phone", "chat"]},
                         "maxItems": 2, "default": ["mail"]},
            "urgent": {"type": "boolean", "default": False},
            "screenshot": {"type": "string", "format": "file"},
            "assignee": {"type": "string", "format": "user"},
            "team": {"type": "string", "format": "group"},
            "ticket_no": {"type": "string", "readOnly": True, "default": "T-0"},
        },
    },
    "ui": {"order": ["category", "impact", "summary"], "details": {"widget": "textarea"}},
}
VALID = {"category": "incident", "impact": 3, "summary": "Printer"}
USERS, GROUPS, FILES = {"alice", "bob"}, {"Line 1"}, {"att-1"}
RESOLVERS = fb.Resolvers(user_exists=USERS.__contains__, group_exists=GROUPS.__contains__,
                         attachment_usable=FILES.__contains__,
                         user_choices=lambda: [("alice", "Alice A."), "bob"],
                         group_choices=lambda: [{"value": "Line 1", "label": "First line"}])


def check(data, **kw):
    kw.setdefault("resolvers", RESOLVERS)
    return fb.validate_submission(SPEC, data, **kw)


def ok(data, **kw):
    result = check(data, **kw)
    assert result.ok, result.errors
    return result.cleaned


def errors(data, **kw):
    result = check(data, **kw)
    assert not result.ok and result.cleaned is None
    return result.errors


def form_post(**values):
    base = {"category": "incident", "impact": "3", "summary": "Printer"}
    base.update(values)
    return MultiDict([(k, x) for k, v in base.items() for x in (v if isinstance(v, list) else [v])])


# ---------------------------------------------------------------- the whole form

def test_valid_json_gives_json_ready_values_for_every_field():
    cleaned = ok({**VALID, "code": "ABC-12", "details": "Line1\r\nLine2", "cost": 9.5,
                  "due_date": "2024-05-31", "due_at": "2024-05-31T14:30", "priority": 2,
                  "channels": ["phone", "mail", "phone"], "urgent": True, "screenshot": "att-1",
                  "assignee": "alice", "team": "Line 1", "ticket_no": "forged"},
                 tz="Europe/Moscow")
    assert cleaned == {
        "category": "incident", "impact": 3, "summary": "Printer", "code": "ABC-12",
        "details": "Line1\nLine2", "cost": 9.5, "due_date": "2024-05-31",
        "due_at": "2024-05-31T11:30:00+00:00", "priority": 2, "channels": ["phone", "mail"],
        "urgent": True, "screenshot": "att-1", "assignee": "alice", "team": "Line 1",
        "ticket_no": "T-0"}


def test_valid_html_post_gives_the_same_values():
    post = form_post(code="ABC-12", details="Line1\r\nLine2", cost="9.5", due_date="2024-05-31",
                     due_at="2024-05-31T14:30", priority="2", channels=["phone", "mail"], urgent="y",
                     screenshot="att-1", assignee="alice", team="Line 1", csrf_token="x")
    result = check(post, tz="Europe/Moscow")
    assert result.ok, result.errors
    assert result.cleaned["priority"] == 2 and result.cleaned["impact"] == 3
    assert result.cleaned["due_at"] == "2024-05-31T11:30:00+00:00"
    assert result.cleaned["channels"] == ["phone", "mail"] and result.cleaned["urgent"] is True
    assert result.unknown == ("csrf_token",)


def test_minimal_submission_fills_empties_and_defaults():
    assert ok(VALID) == {**VALID, "code": None, "details": None, "cost": None, "due_date": None,
                         "due_at": None, "priority": None, "channels": ["mail"], "urgent": False,
                         "screenshot": None, "assignee": None, "team": None, "ticket_no": "T-0"}


def test_required_fields_missing():
    msg = ["This field is required."]
    assert errors({}) == {"category": msg, "impact": msg, "summary": msg}
    assert errors(MultiDict()) == {"category": msg, "impact": msg, "summary": msg}
    assert errors({"category": "", "impact": None, "summary": "   "}) == {
        "category": msg, "impact": msg, "summary": msg}


def test_zero_and_false_are_values_not_missing():
    spec = {"schema": {"required": ["n", "flag"], "properties": {
        "n": {"type": "integer", "minimum": -5}, "flag": {"type": "boolean"}}}}
    assert fb.validate_submission(spec, {"n": 0, "flag": True}).cleaned == {"n": 0, "flag": True}
    result = fb.validate_submission(spec, {"n": 0, "flag": False})
    assert result.errors == {"flag": ["Check this box to continue."]}


def test_unknown_keys_are_ignored_and_listed():
    result = check({**VALID, "zeta": 1, "alpha": 2})
    assert result.ok and result.unknown == ("alpha", "zeta")
    assert "zeta" not in result.cleaned


@pytest.mark.parametrize("data", [[1, 2], "text", 5])
def test_submission_that_is_not_an_object(data):
    assert errors(data) == {"_form": ["The data must be a JSON object."]}


# ---------------------------------------------------------------- absent, null, current, readOnly

def test_absent_json_keys_keep_current_values_and_null_clears():
    current = {"details": "old", "urgent": True, "channels": ["chat"], "ticket_no": "T-42"}
    cleaned = ok(VALID, current=current)
    assert (cleaned["details"], cleaned["urgent"], cleaned["channels"]) == ("old", True, ["chat"])
    assert cleaned["ticket_no"] == "T-42"
    cleaned = ok({**VALID, "details": None, "urgent": None, "channels": None}, current=current)
    assert (cleaned["details"], cleaned["urgent"], cleaned["channels"]) == (None, False, [])


def test_absent_html_checkbox_and_multiselect_mean_unchecked_and_none():
    current = {"details": "old", "urgent": True, "channels": ["chat"]}
    result = check(form_post(), current=current)
    assert result.cleaned["urgent"] is False and result.cleaned["channels"] == []
    assert result.cleaned["details"] == "old"  # a text input that was not posted keeps its value


def test_read_only_fields_ignore_input_even_when_malformed():
    spec = {"schema": {"properties": {"n": {"type": "integer", "readOnly": True},
                                      "when": {"type": "string", "format": "date", "readOnly": True}}}}
    for data in ({"n": "junk", "when": "junk"}, MultiDict({"n": "junk", "when": "junk"})):
        result = fb.validate_submission(spec, data, current={"n": 7})
        assert result.ok and result.cleaned == {"n": 7, "when": None}


def test_stale_current_value_does_not_block_a_new_one():
    assert ok({**VALID, "priority": 3}, current={"priority": 9, "due_date": "junk"})["priority"] == 3


# ---------------------------------------------------------------- kinds, one by one

@pytest.mark.parametrize("value, message", [
    ("ab", "Must be at least 3 characters long."),
    ("abcdefghijk", "Must be at most 10 characters long."),
    (5, "Must be text."),
    (["a", "b"], "Must be a single value, not a list or an object."),
    ({"a": 1}, "Must be a single value, not a list or an object."),
])
def test_text_invalid(value, message):
    assert errors({**VALID, "summary": value}) == {"summary": [message]}


def test_text_is_stripped_and_pattern_searched():
    assert ok({**VALID, "summary": "  Printer  "})["summary"] == "Printer"
    assert errors({**VALID, "code": "abc-1"}) == {
        "code": ["Must match the pattern ^[A-Z]{3}-[0-9]+$."]}
    assert errors(form_post(code="abc-1")) == {"code": ["Must match the pattern ^[A-Z]{3}-[0-9]+$."]}


@pytest.mark.parametrize("value, expected", [(1, 1), (5, 5), ("4", 4), (" 2 ", 2), (3.0, 3)])
def test_integer_valid(value, expected):
    assert ok({**VALID, "impact": value})["impact"] == expected


@pytest.mark.parametrize("value, message", [
    (0, "Must be at least 1."), (6, "Must be at most 5."), ("6", "Must be at most 5."),
    (2.5, "Must be a whole number."), ("2.5", "Must be a whole number."), (True, "Must be a whole number."),
    ("abc", "Must be a whole number."), ("1_000", "Must be a whole number."),
    ("1e400", "Must be a whole number."),
])
def test_integer_invalid(value, message):
    assert errors({**VALID, "impact": value}) == {"impact": [message]}


@pytest.mark.parametrize("value, result", [
    (9.5, 9.5), ("0.5", 0.5), (99, 99), ("1e1", 10.0),
    (0, "Must be greater than 0."), (100, "Must be less than 100."), ("nan", "Must be a number."),
    ("inf", "Must be a number."), (False, "Must be a number."),
])
def test_number_with_exclusive_bounds(value, result):
    got = check({**VALID, "cost": value})
    assert (got.cleaned["cost"] == result) if got.ok else (got.errors == {"cost": [result]})


def test_date():
    assert ok({**VALID, "due_date": "2024-02-29"})["due_date"] == "2024-02-29"
    message = ["Must be a date such as 2024-05-31 (year-month-day)."]
    for bad in ("2023-02-29", "31.05.2024", "2024-05-31T10:00", "20240531", 20240531):
        assert errors({**VALID, "due_date": bad}) == {"due_date": message}
    assert errors(form_post(due_date="31/05/2024")) == {"due_date": message}


@pytest.mark.parametrize("value, tz, expected", [
    ("2024-05-31T14:30", "Europe/Moscow", "2024-05-31T11:30:00+00:00"),
    ("2024-01-15 09:00:05", "America/New_York", "2024-01-15T14:00:05+00:00"),
    ("2024-05-31T14:30:00+02:00", "Europe/Moscow", "2024-05-31T12:30:00+00:00"),
    ("2024-05-31T14:30:00Z", "Asia/Tokyo", "2024-05-31T14:30:00+00:00"),
    ("2024-05-31T14:30", None, "2024-05-31T14:30:00+00:00"),
])
def test_datetime_is_stored_as_aware_utc(value, tz, expected):
    assert ok({**VALID, "due_at": value}, tz=tz)["due_at"] == expected


def test_datetime_invalid_and_shown_in_the_callers_zone():
    message = ["Must be a date and time such as 2024-05-31T14:30."]
    for bad in ("2024-05-31", "tomorrow", "2024-05-31T25:00", 1717000000):
        assert errors({**VALID, "due_at": bad}) == {"due_at": message}
    form = fb.make_form(SPEC, current={"due_at": "2024-05-31T11:30:00+00:00"}, tz="Europe/Moscow")
    assert 'value="2024-05-31T14:30"' in form["due_at"]()
    assert 'type="datetime-local"' in form["due_at"]()


def test_select_of_strings_and_its_message_in_the_form_locale():
    assert errors({**VALID, "category": "problem"}) == {
        "category": ["Choose one of: Incident, Service request."]}
    assert errors({**VALID, "category": "problem"}, locale="ru") == {
        "category": ["Choose one of: Инцидент, Запрос на обслуживание."]}
    assert errors({**VALID, "category": ["incident"]}) == {
        "category": ["Must be a single value, not a list or an object."]}


@pytest.mark.parametrize("value, expected", [(2, 2), ("3", 3), (" 1 ", 1)])
def test_select_of_integers(value, expected):
    assert ok({**VALID, "priority": value})["priority"] == expected


@pytest.mark.parametrize("value", [4, "4", True, 2.5, "Low"])
def test_select_of_integers_rejects(value):
    assert errors({**VALID, "priority": value}) == {"priority": ["Choose one of: Low, Medium, High."]}


def test_multiselect():
    assert ok({**VALID, "channels": []})["channels"] == []
    assert errors({**VALID, "channels": ["mail", "fax", "pigeon"]}) == {
        "channels": ["Not allowed: fax, pigeon. Choose from: mail, phone, chat."]}
    assert errors({**VALID, "channels": ["mail", "phone", "chat"]}) == {
        "channels": ["Choose at most 2 options."]}
    assert errors({**VALID, "channels": "mail"}) == {"channels": ["Must be a list of choices."]}
    assert errors(form_post(channels=["mail", "fax"])) == {
        "channels": ["Not allowed: fax. Choose from: mail, phone, chat."]}


def test_required_multiselect_and_min_items():
    spec = {"schema": {"required": ["a"], "properties": {
        "a": {"type": "array", "items": {"enum": [1, 2, 3]}},
        "b": {"type": "array", "items": {"enum": ["x", "y"]}, "minItems": 2}}}}
    result = fb.validate_submission(spec, {"a": []})
    assert result.errors == {"a": ["Choose at least one option."], "b": ["Choose at least one option."]}
    result = fb.validate_submission(spec, MultiDict([("a", "2"), ("a", "3"), ("b", "x")]))
    assert result.errors == {"b": ["Choose at least 2 options."]}
    assert fb.validate_submission(spec, {"a": [3, "1"], "b": ["y", "x"]}).cleaned == {
        "a": [3, 1], "b": ["y", "x"]}


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), ("true", True), ("false", False), ("on", True), ("0", False),
])
def test_checkbox_valid(value, expected):
    assert ok({**VALID, "urgent": value})["urgent"] is expected


@pytest.mark.parametrize("value", [1, "maybe", [True]])
def test_checkbox_invalid(value):
    assert list(errors({**VALID, "urgent": value})) == ["urgent"]


def test_required_checkbox_must_be_checked_in_both_channels():
    spec = {"schema": {"required": ["agree"], "properties": {"agree": {"type": "boolean"}}}}
    for data in ({}, {"agree": False}, MultiDict()):
        assert fb.validate_submission(spec, data).errors == {"agree": ["Check this box to continue."]}
    assert fb.validate_submission(spec, MultiDict({"agree": "y"})).cleaned == {"agree": True}


def test_email_uri_and_time():
    spec = {"schema": {"properties": {"mail": {"type": "string", "format": "email", "maxLength": 20},
                                      "link": {"type": "string", "format": "uri"},
                                      "at": {"type": "string", "format": "time"}}}}
    good = {"mail": " a.b@example.org ", "link": "https://example.org/x?y=1", "at": "09:05"}
    assert fb.validate_submission(spec, good).cleaned == {
        "mail": "a.b@example.org", "link": "https://example.org/x?y=1", "at": "09:05:00"}
    bad = fb.validate_submission(spec, MultiDict({"mail": "a@b", "link": "example.org", "at": "9pm"}))
    assert bad.errors == {"mail": ["Must be an e-mail address such as name@example.com."],
                          "link": ["Must be a full address such as https://example.com/page."],
                          "at": ["Must be a time of day such as 14:30."]}
    assert fb.validate_submission(spec, {"mail": "x" * 20 + "@example.org"}).errors == {
        "mail": ["Must be at most 20 characters long."]}
    assert fb.validate_submission(spec, {"at": "14:30+03:00"}).errors == {
        "at": ["Must be a time of day such as 14:30."]}
    form = fb.make_form(spec, current={"at": "09:05:00"})
    assert 'type="time"' in form["at"]() and 'value="09:05"' in form["at"]()
    assert 'type="email"' in form["mail"]() and 'type="url"' in form["link"]()


# ---------------------------------------------------------------- pickers and files

@pytest.mark.parametrize("field, value, message", [
    ("assignee", "mallory", "There is no user with the login mallory."),
    ("team", "Line 9", "There is no group named Line 9."),
    ("screenshot", "att-2", "This attachment does not exist or you may not use it."),
    ("assignee", 42, "Must be a user's login."),
])
def test_pickers_ask_the_resolvers(field, value, message):
    assert errors({**VALID, field: value}) == {field: [message]}


def test_pickers_accept_dict_resolvers_and_do_not_ask_for_empty_values():
    calls = []
    resolvers = {"user_exists": lambda login: calls.append(login) or True}
    assert fb.validate_submission(SPEC, {**VALID, "assignee": " bob "}, resolvers=resolvers).ok
    assert calls == ["bob"]
    assert fb.validate_submission(SPEC, {**VALID, "assignee": ""}, resolvers=None).ok


def test_a_picker_value_without_a_resolver_is_a_programming_error():
    with pytest.raises(fb.ResolverMissing, match="user_exists"):
        fb.validate_submission(SPEC, {**VALID, "assignee": "bob"})


# ---------------------------------------------------------------- translation

def test_messages_go_through_gettext_and_ngettext():
    catalog = {"This field is required.": "Обязательное поле.",
               "Must be at most %(max)s.": "Не больше %(max)s.",
               "Choose one of: %(choices)s.": "Выберите одно из: %(choices)s."}
    plural = []

    def ngettext(singular, plural_form, n):
        plural.append(n)
        return "Не короче %(num)d символов." if n != 1 else singular

    result = fb.validate_submission(SPEC, {"impact": 9, "summary": "ab", "category": "x"}, locale="ru",
                                    gettext=lambda s: catalog.get(s, s), ngettext=ngettext)
    assert result.errors == {"category": ["Выберите одно из: Инцидент, Запрос на обслуживание."],
                             "impact": ["Не больше 5."], "summary": ["Не короче 3 символов."]}
    assert plural == [3]
    assert fb.validate_submission(SPEC, {}, gettext=lambda s: catalog.get(s, s)).errors[
        "impact"] == ["Обязательное поле."]


def test_singular_messages_without_ngettext():
    spec = {"schema": {"properties": {"c": {"type": "string", "maxLength": 1}}}}
    assert fb.validate_submission(spec, {"c": "ab"}).errors == {"c": ["Must be at most 1 character long."]}


def test_labels_follow_the_locale():
    assert fb.build_form_class(SPEC, "ru")._sd_title == "Всё"
    form = fb.make_form(SPEC, locale="ru_RU")
    assert form["category"].label.text == "Тип"
    assert form["details"].description == "Что случилось"
    assert form["due_date"].label.text == "Due date"  # no title: from the name


# ---------------------------------------------------------------- caching

def test_form_classes_are_cached_by_digest_and_locale():
    fb.clear_cache()
    en = fb.build_form_class(SPEC, "en")
    assert fb.build_form_class(dict(SPEC), "en") is en
    assert fb.build_form_class(SPEC, "ru") is not en
    assert fb.cache_info() == {"size": 2, "max": fb.CACHE_SIZE, "hits": 1, "misses": 2}
    changed = {**SPEC, "title": "Other"}
    assert fb.build_form_class(changed, "en") is not en
    assert fb.build_form_class(changed, "en", digest="stored-sha") is fb.build_form_class(
        {"schema": {"properties": {}}}, "en", digest="stored-sha")
    assert en._sd_digest == fb.spec_digest(SPEC)


def test_a_bad_spec_is_not_built():
    with pytest.raises(FormSpecError) as info:
        fb.build_form_class({"schema": {"properties": {"x": {"type": "float"}}}})
    assert info.value.problems == [
        "form: field 'x': unknown type \"float\"; use one of: string, integer, number, boolean, array."]


# ---------------------------------------------------------------- rendering

def test_render_hints():
    hints = {h["name"]: h for h in fb.render_hints(SPEC, "ru", resolvers=RESOLVERS)}
    assert list(hints)[:3] == ["category", "impact", "summary"]
    assert hints["category"] == {
        "name": "category", "kind": "select", "label": "Тип", "help": None, "placeholder": None,
        "required": True, "readonly": False, "widget": "select",
        "choices": [{"value": "incident", "label": "Инцидент"},
                    {"value": "service_request", "label": "Запрос на обслуживание"}],
        "min": None, "max": None, "exclusive_min": False, "exclusive_max": False, "step": None,
        "pattern": None, "default": None}
    assert (hints["impact"]["min"], hints["impact"]["max"], hints["impact"]["step"]) == (1, 5, 1)
    assert (hints["cost"]["min"], hints["cost"]["exclusive_min"], hints["cost"]["step"]) == (0, True, "any")
    assert (hints["summary"]["min"], hints["summary"]["max"]) == (3, 10)
    assert hints["details"]["widget"] == "textarea" and hints["details"]["help"] == "Что случилось"
    assert hints["channels"]["max"] == 2 and hints["channels"]["default"] == ["mail"]
    assert hints["due_at"]["widget"] == "datetime-local"
    assert hints["assignee"]["choices"] == [{"value": "alice", "label": "Alice A."},
                                            {"value": "bob", "label": "bob"}]
    assert hints["team"]["choices"] == [{"value": "Line 1", "label": "First line"}]
    assert hints["ticket_no"]["readonly"] is True and hints["ticket_no"]["required"] is False
    assert fb.render_hints(SPEC)[0]["label"] == "Type"


def test_wtforms_rendering_carries_html_constraints():
    form = fb.make_form(SPEC, current={"channels": ["chat"], "priority": 2, "urgent": True})
    impact = form["impact"]()
    assert all(attr in impact for attr in ('type="number"', 'min="1"', 'max="5"', "required"))
    assert 'maxlength="10"' in form["summary"]()
    assert "<textarea" in form["details"]()
    assert '<option selected value="chat">chat</option>' in form["channels"]()
    assert '<option selected value="2">Medium</option>' in form["priority"]()
    assert '<option selected value=""></option>' in form["category"]()
    assert "checked" in form["urgent"]() and "readonly" in form["ticket_no"]()
    assert 'value="T-0"' in form["ticket_no"]()


def test_radio_and_checkboxes_widgets():
    spec = {"schema": {"properties": {"s": {"enum": ["a", "b"]},
                                      "m": {"type": "array", "items": {"enum": ["x", "y"]}}}},
            "ui": {"s": {"widget": "radio"}, "m": {"widget": "checkboxes"}}}
    form = fb.make_form(spec, current={"s": "b", "m": ["y"]})
    assert 'type="radio"' in form["s"]() and 'checked' in form["s"]()
    assert form["m"]().count('type="checkbox"') == 2


def test_hidden_widget():
    spec = {"schema": {"properties": {"s": {"enum": ["a", "b"]}, "n": {"type": "integer"}}},
            "ui": {"s": {"widget": "hidden"}, "n": {"widget": "hidden"}}}
    form = fb.make_form(spec, current={"s": "b", "n": 3})
    assert form["s"]() == '<input id="s" name="s" type="hidden" value="b">'
    assert form["n"]() == '<input id="n" name="n" type="hidden" value="3">'
    assert fb.validate_submission(spec, MultiDict({"s": "a", "n": "4"})).cleaned == {"s": "a", "n": 4}


def test_a_posted_form_rerenders_what_the_user_typed():
    result = check(form_post(impact="many", due_at="2024-05-31T14:30"), tz="Europe/Moscow")
    assert result.errors == {"impact": ["Must be a whole number."]}
    assert 'value="many"' in result.form["impact"]()
    assert 'value="2024-05-31T14:30"' in result.form["due_at"]()


def test_the_class_mixes_with_flask_wtf():
    import flask
    from flask_wtf import FlaskForm

    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    built = fb.build_form_class(SPEC)
    web_form = type("StageForm", (FlaskForm, built), {})
    with app.test_request_context(method="POST", data=form_post(urgent="y", assignee="bob")):
        with pytest.raises(fb.ResolverMissing):
            web_form().validate()
        form = web_form(meta={"sd_resolvers": RESOLVERS})
        assert form.validate(), form.errors
        cleaned = fb.cleaned_data(form)
        assert (cleaned["urgent"], cleaned["assignee"], cleaned["impact"]) == (True, "bob", 3)


# ---------------------------------------------------------------- shipped forms

def _shipped():
    if not FORMS.is_dir():
        return []
    return sorted(p for p in FORMS.glob("*.json") if not p.name.endswith("-uischema.json"))


def _load(path: Path) -> dict:
    ui = path.with_name(path.name.replace("-schema.json", "-uischema.json"))
    if path.name.endswith("-schema.json") and ui.exists():
        import json
        spec = merge_spiff_pair(json.loads(path.read_bytes()), json.loads(ui.read_bytes()))
        assert validate_spec(spec, path.name) == []
        return spec
    return load_spec(path.read_bytes(), path.name)


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_shipped_form_is_valid_and_builds(path):
    spec = _load(path)
    assert validate_spec(spec, path.name) == []
    allow = fb.Resolvers(user_exists=lambda v: True, group_exists=lambda v: True,
                         attachment_usable=lambda v: True, user_choices=lambda: [],
                         group_choices=lambda: [])
    for locale in ("en", "ru"):
        cls = fb.build_form_class(spec, locale)
        assert [h["name"] for h in fb.render_hints(spec, locale)] == [i.name for i in cls._sd_fields]
        form = fb.make_form(spec, locale=locale)
        assert all(field() for field in form)  # every field renders
        result = fb.validate_submission(spec, {}, locale=locale, resolvers=allow)
        assert result.ok or set(result.errors) <= {i.name for i in cls._sd_fields if i.required}
