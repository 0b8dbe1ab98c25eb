"""Lint problems speak the admin's language (DESIGN §4): every template of
workflows/lint_messages.py has a Russian translation with the same placeholders, and the API,
the service and the CLI render problems in the caller's (or the desk's default) language."""
import io
import json
import os
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import refresh

from app.services.definitions import problems_to_dicts
from app.services.lint_i18n import (CONSTRAINT_EXPECTED, FIXED_DETAILS, localize_problem,
                                    localize_problems)
from workflows.bundle import compile_bundle
from workflows.lint_messages import EXPRESSION_KINDS, MESSAGES, make_problem
from workflows.types import BundleInvalid, Problem

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "app" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
DATA = ROOT / "tests" / "data"
TRIGGERS = ("message", "signal", "timer", "conditional", "cancel", "error", "escalation", "terminate")
CYRILLIC = re.compile("[а-яё]", re.I)

BAD_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="bad" name="Bad" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="gw" name="Approved?">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>yes</bpmn:outgoing><bpmn:outgoing>no</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>
    <bpmn:sequenceFlow id="yes" name="Yes" sourceRef="gw" targetRef="end">
      <bpmn:conditionExpression>${approved}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" name="No" sourceRef="gw" targetRef="end"/>
    <bpmn:complexGateway id="cx" name="Complex"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(scope="module")
def catalog():
    with CATALOG.open("rb") as f:
        return read_po(f, locale="ru")


def _fields(template: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _bad_problems() -> list[Problem]:
    with pytest.raises(BundleInvalid) as info:
        compile_bundle({"bad.bpmn": BAD_BPMN.encode()})
    return info.value.problems


def _by_code(dicts: list[dict]) -> dict[str, dict]:
    return {d["code"]: d for d in dicts}


# ------------------------------------------------------------------------- the catalog

def test_every_template_and_word_has_a_russian_translation(catalog):
    words = [*MESSAGES.values(), *EXPRESSION_KINDS, *CONSTRAINT_EXPECTED, *FIXED_DETAILS]
    untranslated = [w for w in words if catalog.get(w) is None or not catalog.get(w).string]
    untranslated += [t for t in TRIGGERS if catalog.get(t, context="event trigger") is None
                     or not catalog.get(t, context="event trigger").string]
    assert not untranslated, f"translate in {CATALOG.name}: {untranslated}"
    assert len(MESSAGES) >= 100  # the whole table, not a sample


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_translation_keeps_the_placeholders(catalog, code):
    template = MESSAGES[code]
    russian = catalog.get(template).string
    assert _fields(russian) == _fields(template), code
    params = {name: f"<{name}>" for name in _fields(template)}
    rendered = russian.format(**params)  # braces balanced, every placeholder known
    assert CYRILLIC.search(rendered) and rendered != template.format(**params)
    assert "{{" not in rendered and rendered.count("{") == template.format(**params).count("{")


# ------------------------------------------------------------------------- the service

def test_problems_render_in_the_request_language(app):
    problems = _bad_problems()
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = problems_to_dicts(problems)
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        russian = problems_to_dicts(problems)
    assert [d["message"] for d in english] == [p.message for p in problems]
    for en, ru in zip(english, russian, strict=True):
        assert set(ru) >= {"file", "element_id", "element_name", "line", "message", "code", "params"}
        assert {k: v for k, v in ru.items() if k != "message"} == {k: v for k, v in en.items() if k != "message"}
        assert ru["message"] != en["message"] and CYRILLIC.search(ru["message"]), ru
    ru = _by_code(russian)
    assert ru["element.unsupported"]["message"].startswith("«Complex» — это bpmn:complexGateway")
    assert ru["gateway.missing_condition"]["message"].startswith(
        "У потока управления «No», выходящего из шлюза «Approved?», нет условия")
    # the kind of expression is translated as well
    assert ru["expression.juel"]["message"].startswith(
        "Элемент «Yes»: в поле «условие» записано выражение Camunda (${approved})")


def test_fixed_vocabulary_params_are_translated(app):
    problems = [
        make_problem("expression.empty", "a.bpmn", element_id="t", name="Wait", what="timer"),
        make_problem("expression.invalid", "a.bpmn", name="Do it", what="pre-script", script_line="2",
                     detail="not allowed"),
        make_problem("camunda_form.bad_constraint", "a.bpmn", field="days", name="Approve",
                     constraint="max", expected="whole number", value="ten"),
        make_problem("event.unsupported_definition", "a.bpmn", name="Start", kind="startEvent",
                     definition="linkEventDefinition", allowed="message, signal, timer, conditional"),
        make_problem("stage.bad_state", "a.bpmn", name="Triage", value="busy", allowed="new, open"),
    ]
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        ru = [d["message"] for d in localize_problems(problems)]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        en = [d["message"] for d in localize_problems(problems)]
    assert en == [p.message for p in problems]
    assert ru == [
        "Элемент «Wait»: поле «время таймера» пустое — введите выражение на Python.",
        "Элемент «Do it»: поле «скрипт до выполнения (pre-script)» нельзя использовать (строка 2): "
        "это не разрешено",
        "Поле формы «days» (элемент «Approve»): для ограничения «max» нужно целое число (указано «ten»).",
        "«Start» — это bpmn:startEvent с определением bpmn:linkEventDefinition, а такие события Stagedesk "
        "выполнять не умеет; здесь допустимы такие типы события: сообщение, сигнал, таймер, условие.",
        # values an admin types (stage states) stay as they are
        "Свойство stage.state у «Triage» равно «busy»: используйте одно из значений: new, open.",
    ]


def test_unknown_codes_and_broken_params_keep_the_original_message(app):
    plain = {"file": "f.json", "element_id": "x", "element_name": "x", "line": None, "message": "As is."}
    unknown = Problem(file="a.bpmn", message="Something new.", code="no.such.code", params={})
    missing_param = Problem(file="a.bpmn", message="English.", code="process.no_start", params={})
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert localize_problem(plain) == plain
        assert localize_problem(unknown)["message"] == "Something new."
        assert localize_problem(missing_param)["message"] == "English."


@pytest.mark.parametrize(("default", "russian"), [("ru", True), ("en", False)], ids=["ru", "en"])
def test_outside_a_request_the_desks_default_language_applies(app, monkeypatch, default, russian):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", default)
    problems = _bad_problems()
    with app.app_context():
        messages = [d["message"] for d in problems_to_dicts(problems)]
    assert bool(CYRILLIC.search(" ".join(messages))) is russian
    if not russian:
        assert messages == [p.message for p in problems]


# ------------------------------------------------------------------------- API and CLI

def _upload(files: dict[str, bytes]):
    return {"files": [(io.BytesIO(content), name) for name, content in files.items()]}


def test_api_422_speaks_the_callers_language(app, db, make):
    token = make.token(make.user("pa_i18n", roles=("process_admin",)))
    client = app.test_client()
    bodies = {}
    for lang in ("ru", "en"):
        refresh()  # the db fixture keeps one app context for the test; Babel caches the locale on it
        res = client.post("/api/v1/process-definitions", data=_upload({"bad.bpmn": BAD_BPMN.encode()}),
                          content_type="multipart/form-data",
                          headers={"Authorization": f"Bearer {token}", "Accept-Language": lang})
        assert res.status_code == 422, res.get_json()
        bodies[lang] = res.get_json()
    ru, en = bodies["ru"], bodies["en"]
    assert ru["message"] == "Диаграммы нельзя развернуть; исправьте перечисленные ошибки."
    assert en["message"] == "The diagrams cannot be deployed; fix the problems listed."
    assert len(ru["errors"]) == len(en["errors"]) >= 3
    for r, e in zip(ru["errors"], en["errors"], strict=True):
        assert set(r) >= {"file", "element_id", "element_name", "line", "message"}
        assert (r["file"], r["element_id"], r["line"]) == (e["file"], e["element_id"], e["line"])
        assert CYRILLIC.search(r["message"]) and r["message"] != e["message"]
    assert _by_code(en["errors"])["element.unsupported"]["message"].startswith("'Complex' is a bpmn:complexGateway")
    assert _by_code(ru["errors"])["element.unsupported"]["message"].startswith("«Complex» — это bpmn:complexGateway")


def test_api_422_form_spec_problems_are_translated_too(app, db, make):
    """The app's own form checks (form_specs.check_spec) use gettext: Russian as well."""
    token = make.token(make.user("pa_i18n_forms", roles=("process_admin",)))
    files = {p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))}
    form = json.loads(files["mini_triage.json"])
    form["ui"] = {"solve_at_line1": {"widget": "radio"}}
    files["mini_triage.json"] = json.dumps(form).encode()
    client = app.test_client()
    messages = {}
    for lang in ("ru", "en"):
        refresh()
        res = client.post("/api/v1/process-definitions", data=_upload(files), content_type="multipart/form-data",
                          headers={"Authorization": f"Bearer {token}", "Accept-Language": lang})
        assert res.status_code == 422, res.get_json()
        messages[lang] = [e["message"] for e in res.get_json()["errors"]]
    assert messages["en"] and all('widget "radio"' in m for m in messages["en"])
    assert len(messages["ru"]) == len(messages["en"])
    assert all(CYRILLIC.search(m) and "\"radio\"" in m for m in messages["ru"]), messages["ru"]


@pytest.mark.parametrize(("default", "expected"), [
    ("ru", "«Complex» — это bpmn:complexGateway"), ("en", "'Complex' is a bpmn:complexGateway")], ids=["ru", "en"])
def test_cli_deploy_prints_problems_in_the_default_language(app, db, tmp_path, monkeypatch, default, expected):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", default)
    refresh()
    bad = tmp_path / "bad.bpmn"
    bad.write_text(BAD_BPMN)
    result = app.test_cli_runner().invoke(args=["deploy", str(bad)])
    assert result.exit_code == 1
    assert expected in result.output, result.output


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "Диаграммы нельзя развернуть"), ({"STAGEDESK_BABEL_DEFAULT_LOCALE": "en"}, "'Complex' is a bpmn")],
    ids=["default-ru", "env-en"])
def test_flask_deploy_command_russian_by_default(tmp_path, env, expected):
    """The real ``flask --app app deploy``: Russian unless STAGEDESK_BABEL_DEFAULT_LOCALE says otherwise."""
    bad = tmp_path / "bad.bpmn"
    bad.write_text(BAD_BPMN)
    environ = {k: v for k, v in os.environ.items() if k != "STAGEDESK_BABEL_DEFAULT_LOCALE"}
    environ.update({"STAGEDESK_INSTANCE": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                    **env})
    result = subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "app", "deploy", str(bad)],
                            cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert expected in result.stderr, result.stderr
    if not env:
        assert "«Complex» — это bpmn:complexGateway" in result.stderr
