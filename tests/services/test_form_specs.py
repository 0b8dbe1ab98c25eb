"""Form specs: localisation, normalisation (plain JSON Schema, spiff-arena pairs), checks, loading."""
from __future__ import annotations

import copy
import json

import pytest

from app.services.form_specs import (FormSpecError, check_spec, field_kind, iter_fields, load_spec,
                                     localize, merge_spiff_pair, normalize_spec, validate_spec)

README_SPEC = {
    "title": {"en": "Classify the ticket", "ru": "Классификация обращения"},
    "schema": {
        "type": "object",
        "required": ["category", "impact"],
        "properties": {
            "category": {"type": "string", "title": {"en": "Type", "ru": "Тип"},
                         "enum": ["incident", "service_request"],
                         "enumNames": {"en": ["Incident", "Service request"],
                                       "ru": ["Инцидент", "Запрос на обслуживание"]}},
            "impact": {"type": "integer", "title": "Impact", "minimum": 1, "maximum": 3},
            "comment": {"type": "string", "title": "Comment", "maxLength": 4000},
        },
    },
    "ui": {"order": ["category", "impact", "comment"], "comment": {"widget": "textarea"}},
}


def spec_with(**props):
    return {"schema": {"type": "object", "properties": props}}


# ---------------------------------------------------------------- localisation

@pytest.mark.parametrize("locale, expected", [
    ("ru", "Тип"), ("ru_RU", "Тип"), ("ru-RU", "Тип"), ("RU", "Тип"),
    ("de", "Type"), (None, "Type"),
])
def test_localize_picks_exact_then_language_then_en(locale, expected):
    assert localize({"en": "Type", "ru": "Тип"}, locale) == expected


def test_localize_matches_a_regional_key_and_falls_back_to_the_first():
    assert localize({"pt_BR": "Tipo", "ru": "Тип"}, "pt") == "Tipo"
    assert localize({"de": "Art", "fr": "Genre"}, "ja") == "Art"
    assert localize({"en": "x", "en_GB": "y"}, "en_GB") == "y"
    assert localize("plain", "ru") == "plain"
    assert localize({}, "ru") is None
    assert localize({"en": ["A", "B"], "ru": ["А", "Б"]}, "ru") == ["А", "Б"]


# ---------------------------------------------------------------- normalisation and kinds

def test_readme_example_is_valid_and_normalised():
    assert validate_spec(README_SPEC, "triage.json") == []
    spec = normalize_spec(README_SPEC)
    assert spec["ui"]["order"] == ["category", "impact", "comment"]
    assert spec == normalize_spec(spec)  # idempotent
    assert README_SPEC["ui"] == {"order": ["category", "impact", "comment"],
                                 "comment": {"widget": "textarea"}}  # input untouched


def test_order_is_completed_with_unlisted_fields():
    spec = normalize_spec({"schema": {"properties": {"a": {"type": "string"}, "b": {"type": "string"},
                                                     "c": {"type": "string"}}},
                           "ui": {"order": ["c"]}})
    assert spec["ui"]["order"] == ["c", "a", "b"]
    assert [f.name for f in iter_fields(spec)] == ["c", "a", "b"]


@pytest.mark.parametrize("prop, ui, kind", [
    ({"type": "string"}, {}, "text"),
    ({"type": "string"}, {"widget": "textarea"}, "textarea"),
    ({"type": "integer"}, {}, "integer"),
    ({"type": "number"}, {}, "number"),
    ({"type": "string", "format": "date"}, {}, "date"),
    ({"type": "string", "format": "date-time"}, {}, "datetime"),
    ({"type": "string", "enum": ["a"]}, {}, "select"),
    ({"type": "integer", "enum": [1, 2]}, {}, "select"),
    ({"type": "array", "items": {"type": "string", "enum": ["a"]}}, {}, "multiselect"),
    ({"type": "boolean"}, {}, "checkbox"),
    ({"type": "string", "format": "file"}, {}, "file"),
    ({"type": "string", "format": "user"}, {}, "user"),
    ({"type": "string", "format": "group"}, {}, "group"),
    ({"type": "object"}, {}, None),
    ({"type": "string", "format": "email"}, {}, "email"),
    ({"type": "string", "format": "uri"}, {}, "uri"),
    ({"type": "string", "format": "time"}, {}, "time"),
    ({"type": "string", "format": "color"}, {}, None),
])
def test_field_kind(prop, ui, kind):
    assert field_kind(prop, ui) == kind


def test_plain_json_schema_is_accepted():
    plain = {"title": "Feedback", "type": "object", "required": ["rating"],
             "properties": {"rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                            "note": {"type": "string"}}}
    spec = normalize_spec(plain)
    assert spec["title"] == "Feedback"
    assert spec["schema"]["properties"]["rating"]["type"] == "integer"
    assert spec["ui"]["order"] == ["rating", "note"]
    assert validate_spec(plain, "feedback.json") == []


def test_spiff_pair_is_merged():
    schema = {"title": "Approve", "type": "object", "required": ["decision"], "properties": {
        "decision": {"type": "string", "title": "Decision",
                     "oneOf": [{"const": "yes", "title": "Approve"}, {"const": "no", "title": "Reject"}]},
        "reason": {"type": "string", "title": "Reason"},
        "amount": {"type": "number", "title": "Amount"},
        "ticket": {"type": "string", "title": "Ticket"},
    }}
    uischema = {"ui:order": ["decision", "*"], "ui:submitButtonOptions": {"norender": True},
                "reason": {"ui:widget": "textarea", "ui:help": "Why?", "ui:placeholder": "…"},
                "amount": {"ui:widget": "updown"},
                "ticket": {"ui:readonly": True, "ui:title": "Ticket number"}}
    spec = merge_spiff_pair(schema, uischema)
    assert validate_spec(spec, "approve") == []
    props = spec["schema"]["properties"]
    assert props["decision"]["enum"] == ["yes", "no"]
    assert props["decision"]["enumNames"] == ["Approve", "Reject"]
    assert props["ticket"]["readOnly"] is True and props["ticket"]["title"] == "Ticket number"
    assert spec["ui"]["order"] == ["decision", "reason", "amount", "ticket"]
    assert spec["ui"]["reason"] == {"widget": "textarea", "help": "Why?", "placeholder": "…"}
    assert spec["ui"]["amount"] == {}
    assert spec["title"] == "Approve"
    assert [f.kind for f in iter_fields(spec)] == ["select", "textarea", "number", "text"]
    # the same pair in one object
    assert normalize_spec({"schema": schema, "uischema": uischema}) == spec


def test_ui_as_workflows_stores_a_converted_spiff_pair():
    """workflows.form_specs strips "ui:" from every key of an uploaded uischema."""
    spec = {"title": "", "schema": {"properties": {
        "amount": {"type": "number"}, "note": {"type": "string"}, "ref": {"type": "string"},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "enumNames": ["A", "B"]}}},
        "ui": {"order": ["note", "*"], "submitButtonOptions": {"norender": True},
               "amount": {"widget": "updown"}, "note": {"widget": "textarea", "description": "Say"},
               "ref": {"disabled": True, "title": "Reference"}}}
    assert validate_spec(spec, "pair") == []
    spec = normalize_spec(spec)
    assert spec["ui"] == {"order": ["note", "amount", "ref", "tags"], "amount": {},
                          "note": {"widget": "textarea", "help": "Say"}, "ref": {}}
    props = spec["schema"]["properties"]
    assert props["ref"] == {"type": "string", "readOnly": True, "title": "Reference"}
    assert props["tags"]["items"]["enumNames"] == ["A", "B"]


def test_one_of_with_localised_titles_and_draft4_exclusive_bounds():
    prop = {"oneOf": [{"const": 1, "title": {"en": "Low", "ru": "Низкий"}},
                      {"const": 2, "title": {"en": "High", "ru": "Высокий"}}]}
    spec = normalize_spec(spec_with(p=prop, n={"type": "number", "minimum": 0,
                                               "exclusiveMinimum": True}))
    p = spec["schema"]["properties"]["p"]
    assert p["type"] == "integer" and p["enum"] == [1, 2]
    assert p["enumNames"] == {"en": ["Low", "High"], "ru": ["Низкий", "Высокий"]}
    assert spec["schema"]["properties"]["n"] == {"type": "number", "exclusiveMinimum": 0}


# ---------------------------------------------------------------- problems

def _problems(mutate):
    spec = copy.deepcopy(README_SPEC)
    mutate(spec)
    return validate_spec(spec, "triage.json")


def _props(spec):
    return spec["schema"]["properties"]


@pytest.mark.parametrize("mutate, expected", [
    (lambda s: _props(s)["impact"].update(type="integr"),
     "triage.json: field 'impact': unknown type \"integr\"; use one of: string, integer, number, "
     "boolean, array."),
    (lambda s: _props(s)["comment"].update(format="datetime"),
     "field 'comment': unknown format \"datetime\"; use one of: date, date-time, time, email, uri, "
     "file, user, group."),
    (lambda s: _props(s)["category"].update(enum=[]),
     "field 'category': 'enum' must be a non-empty list of choices."),
    (lambda s: _props(s)["category"].update(enumNames={"en": ["Incident"], "ru": ["Инцидент", "Запрос"]}),
     "field 'category': 'enumNames' must have as many names as 'enum' has choices (2)."),
    (lambda s: _props(s)["category"].update(enumNames=["Incident"]),
     "'enumNames' must have as many names as 'enum' has choices (2)."),
    (lambda s: _props(s)["category"].update(enum=["a", 1]),
     "field 'category': every choice in 'enum' must be of type 'string'."),
    (lambda s: _props(s)["category"].update(enum=["a", "a"]), "'enum' lists a choice twice."),
    (lambda s: _props(s)["impact"].update(minimum=5),
     "field 'impact': 'minimum' (5) is greater than 'maximum' (3); no value could be entered."),
    (lambda s: _props(s)["impact"].update(minimum=None, exclusiveMinimum=3),
     "'minimum' must be a number."),
    (lambda s: (_props(s)["impact"].pop("minimum"), _props(s)["impact"].update(exclusiveMinimum=3)),
     "'exclusiveMinimum' (3) is greater than 'maximum' (3)"),
    (lambda s: _props(s)["comment"].update(minLength=10, maxLength=5),
     "'minLength' (10) is greater than 'maxLength' (5)"),
    (lambda s: _props(s)["comment"].update(maxLength=-1),
     "'maxLength' must be a whole number, 0 or more."),
    (lambda s: _props(s)["comment"].update(pattern="(abc"),
     "field 'comment': 'pattern' is not a valid regular expression: missing ), unterminated "
     "subpattern at position 0."),
    (lambda s: _props(s).update(tags={"type": "array", "items": {"enum": ["a", "b"]},
                                      "minItems": 3, "maxItems": 1}),
     "'minItems' (3) is greater than 'maxItems' (1)"),
    (lambda s: _props(s).update(tags={"type": "array", "items": {"type": "string"}}),
     "field 'tags': an array field must list its choices in 'items.enum' (a multi-select)."),
    (lambda s: s["ui"]["order"].append("severity"),
     "triage.json: 'ui.order' names an unknown field 'severity'."),
    (lambda s: s["ui"].update(severity={"widget": "radio"}),
     "'ui' has an entry for an unknown field 'severity'."),
    (lambda s: s["ui"].update(impact={"widget": "textarea"}),
     "field 'impact': widget \"textarea\" does not fit this field; use one of: hidden."),
    (lambda s: s["ui"].update(category={"widget": "slider"}),
     "widget \"slider\" does not fit this field; use one of: select, radio, hidden."),
    (lambda s: (_props(s).update(ok={"type": "boolean"}), s["ui"].update(ok={"widget": "hidden"})),
     "field 'ok': widget \"hidden\" does not fit this field; leave 'widget' out."),
    (lambda s: s["schema"]["required"].append("severity"),
     "'required' names an unknown field 'severity'."),
    (lambda s: _props(s).update(data={"type": "string"}),
     "field 'data': 'data' is a reserved name; rename the field."),
    (lambda s: _props(s).update({"due date": {"type": "string"}}),
     "field 'due date': a field name must start with a letter and hold only letters, digits, '_' "
     "and '-'"),
    (lambda s: _props(s).update({"_secret": {"type": "string"}}), "a field name must start"),
    (lambda s: _props(s)["impact"].update(default="2"),
     "field 'impact': the 'default' value does not fit the field."),
    (lambda s: _props(s)["category"].update(default="problem"),
     "the 'default' value does not fit the field."),
    (lambda s: _props(s).update(due={"type": "string", "format": "date", "default": "tomorrow"}),
     "field 'due': the 'default' value does not fit the field."),
    (lambda s: _props(s)["impact"].update(title={"en": 5}),
     "'title' must be a text or an object of texts by locale."),
    (lambda s: _props(s)["impact"].update(readOnly="yes"), "'readOnly' must be true or false."),
    (lambda s: _props(s).update(amount={"type": "number", "enum": [1.5, 2]}),
     "choices ('enum') need type 'string' or 'integer'."),
    (lambda s: s.update(ui=[]), "triage.json: 'ui' must be an object."),
    (lambda s: s["schema"].update(type="array"), "The schema's type must be 'object'."),
])
def test_validate_spec_reports_the_problem(mutate, expected):
    problems = _problems(mutate)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("spec, expected", [
    ([1, 2], "x.json: A form spec must be a JSON object."),
    ({"title": "No schema"}, "x.json: The spec has no 'schema' object (nor top-level 'properties')."),
    ({"schema": {"type": "object"}}, "x.json: The schema has no 'properties' object."),
    ({"schema": {"properties": []}}, "x.json: The schema has no 'properties' object."),
])
def test_validate_spec_reports_a_bad_shape(spec, expected):
    assert validate_spec(spec, "x.json") == [expected]


def test_every_problem_is_reported_at_once_with_its_field():
    spec = copy.deepcopy(README_SPEC)
    _props(spec)["impact"]["minimum"] = 9
    _props(spec)["comment"]["pattern"] = "("
    spec["ui"]["order"].append("ghost")
    problems = check_spec(spec)
    assert {p.field for p in problems} == {None, "impact", "comment"}
    assert len(validate_spec(spec, "t.json")) == 3


def test_validate_spec_translates_its_messages():
    catalog = {"%(file)s: field '%(field)s': %(message)s": "%(file)s: поле «%(field)s»: %(message)s",
               "'enum' must be a non-empty list of choices.": "список 'enum' пуст."}
    spec = copy.deepcopy(README_SPEC)
    _props(spec)["category"]["enum"] = []
    problems = validate_spec(spec, "t.json", gettext=lambda s: catalog.get(s, s))
    assert problems == ["t.json: поле «category»: список 'enum' пуст."]


# ---------------------------------------------------------------- loading

def test_load_spec_returns_the_normalised_spec():
    spec = load_spec(json.dumps(README_SPEC).encode(), "triage.json")
    assert spec == normalize_spec(README_SPEC)
    assert load_spec("\ufeff" + json.dumps(README_SPEC), "bom.json") == spec


def test_load_spec_accepts_plain_schema_and_a_spiff_pair_object():
    plain = {"properties": {"ok": {"type": "boolean", "title": "OK"}}}
    assert load_spec(json.dumps(plain).encode(), "p.json")["ui"]["order"] == ["ok"]
    pair = {"schema": {"properties": {"note": {"type": "string"}}},
            "uiSchema": {"note": {"ui:widget": "textarea"}}}
    assert load_spec(json.dumps(pair).encode(), "pair.json")["ui"]["note"] == {"widget": "textarea"}


@pytest.mark.parametrize("raw, expected", [
    (b'{"schema": ', "bad.json: not valid JSON at line 1, column 12: Expecting value."),
    (b'{"a": 1, "a": 2}', "bad.json: not valid JSON: the key 'a' appears twice in one object."),
    (b'{"schema": {"properties": {"n": {"type": "number", "maximum": NaN}}}}',
     "bad.json: not valid JSON: NaN is not allowed in JSON."),
    (b"\xff\xfe{}", "bad.json: the file is not UTF-8 text."),
    (b" " * (256 * 1024 + 1), "bad.json: the file is larger than 256 KB."),
    (b'{"schema": {"properties": {"x": {"type": "strin"}}}}',
     "bad.json: field 'x': unknown type \"strin\"; use one of: string, integer, number, boolean, array."),
])
def test_load_spec_raises_with_every_problem(raw, expected):
    with pytest.raises(FormSpecError) as info:
        load_spec(raw, "bad.json")
    assert info.value.problems == [expected]
    assert info.value.name == "bad.json"
