"""Bad input never crashes or loses anything.

Every bad upload gives the lint list — API 422 ``{message, errors: [{file, element_id,
element_name, line, message}]}``, CLI exit 1 printing the same problems — never a 500 or a stack
trace, and writes nothing.  Bad ticket and task requests get a JSON error with a human message.
"""
from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

DATA = Path(__file__).resolve().parent.parent / "data"
BAD = DATA / "bad"

#: what an error body must never show: stack traces, Python reprs, library internals, HTML pages
LEAKS = [re.compile(p, re.IGNORECASE) for p in (
    r"Traceback \(most recent call last\)", r'File "[^"]+", line \d+', r"<class '", r" object at 0x[0-9a-f]+",
    r"\b[A-Z]\w*(?:Error|Exception)\(", r"<!doctype html", r"<html", r"root:x:0:0", r"\bsqlalchemy\b", r"\bpsycopg\b",
    r"\bwerkzeug\b", r"\blxml\b")]


# --- helpers -------------------------------------------------------------------------------------

def bad(name: str) -> bytes:
    return (BAD / name).read_bytes()


def mini() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))}


def upload(files: dict[str, bytes]):
    return {"files": [(io.BytesIO(content), name) for name, content in files.items()]}


def post_files(client, files: dict[str, bytes], *, lang: str | None = "en", data=None):
    """POST /process-definitions with ``files``; ``lang`` None: the desk's default language."""
    headers = {"Accept-Language": lang} if lang else {}
    res = client.post("/process-definitions", data=data if data is not None else upload(files),
                      content_type="multipart/form-data", headers=headers)
    # werkzeug's test client spools big multipart bodies to a temporary file it never closes
    res.request.environ["wsgi.input"].close()
    return res


def assert_no_leak(text: str) -> None:
    for pattern in LEAKS:
        assert not pattern.search(text), f"error output leaks {pattern.pattern!r}: {text[:2000]}"


def assert_json_error(res, status: int) -> dict:
    """``res`` is a JSON error with a human message and nothing a user should not see."""
    raw = res.get_data(as_text=True)
    assert res.status_code == status, (res.status_code, raw[:2000])
    assert res.is_json, f"{res.status_code} answered {res.content_type}: {raw[:500]}"
    body = res.get_json()
    assert isinstance(body, dict), raw[:500]
    assert isinstance(body.get("message"), str) and len(body["message"].strip()) > 3, body
    assert_no_leak(raw)
    errors = body.get("errors")
    if isinstance(errors, dict):  # field errors: {field: [message]}
        for messages in errors.values():
            assert messages and all(isinstance(m, (str, dict)) for m in messages), errors
    return body


def written(db) -> dict[str, int]:
    """Row counts of everything a deployment may write."""
    from app.models import DefinitionForm, Deployment, DeploymentFile, Form, Group, ProcessDefinition, Spec

    return {m.__name__: db.session.execute(select(func.count()).select_from(m)).scalar()
            for m in (ProcessDefinition, Deployment, DeploymentFile, Form, DefinitionForm, Spec, Group)}


def light_user(login: str, roles: tuple[str, ...], groups: tuple[str, ...] = ()):
    """A user without a password (API tokens only): no slow password hashing."""
    from app.services.users import save_user

    return save_user(login, roles=list(roles), groups=list(groups), email=f"{login}@example.test")


def diagram(pid: str, padding: int = 0) -> bytes:
    """A valid one-task diagram; ``padding`` bytes of comment make it as large as wanted."""
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_{pid}" '
            f'targetNamespace="http://stagedesk.test/bad">\n'
            f'  <bpmn:process id="{pid}" isExecutable="true">\n'
            f'    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>\n'
            f'    <bpmn:task id="t" name="Work"><bpmn:incoming>f1</bpmn:incoming>'
            f'<bpmn:outgoing>f2</bpmn:outgoing></bpmn:task>\n'
            f'    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>\n'
            f'    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>\n'
            f'    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>\n'
            f'  </bpmn:process>\n').encode()
    tail = b"</bpmn:definitions>\n"
    if padding:
        head += b"<!--" + b"x" * padding + b"-->\n"
    return head + tail


def zipped(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buf.getvalue()


def lying_zip() -> bytes:
    """A zip whose headers claim a 100-byte entry that really inflates to 20 MB."""
    data = bytearray(zipped({"liar.bpmn": b" " * (20 * 1024 * 1024)}))
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 100)  # uncompressed size in the local header
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # ... and in the central directory
    return bytes(data)


# --- the corpus ----------------------------------------------------------------------------------

@dataclass
class Case:
    files: dict[str, bytes]
    file: str                      # the file the relevant problem names
    says: str                      # words of its message
    element_id: str | None = None  # for element problems: the element ...
    lines: tuple[int, ...] = ()    # ... and its line (any of these; () = no line expected)


def _cases() -> dict[str, Case]:
    big = 5 * 1024 * 1024  # workflows.xmlsafe.DEFAULT_MAX_BYTES
    return {
        "malformed xml": Case({"malformed.bpmn": bad("malformed.bpmn")}, "malformed.bpmn",
                              "not well-formed XML", lines=(5, 6)),
        "xxe external entity": Case({"xxe.bpmn": bad("xxe.bpmn")}, "xxe.bpmn", "XML entities", lines=(2,)),
        "billion laughs": Case({"billion_laughs.bpmn": bad("billion_laughs.bpmn")}, "billion_laughs.bpmn",
                               "XML entities", lines=(2,)),
        "external dtd": Case({"external_dtd.bpmn": bad("external_dtd.bpmn")}, "external_dtd.bpmn",
                             "external DTD", lines=(2,)),
        "over the size limit": Case({"huge.bpmn": diagram("bad_huge", padding=big)}, "huge.bpmn",
                                    "more than the limit"),
        "not bpmn xml": Case({"not_bpmn.bpmn": bad("not_bpmn.bpmn")}, "not_bpmn.bpmn",
                             "not a BPMN diagram", lines=(2,)),
        "no start event": Case({"no_start.bpmn": bad("no_start.bpmn")}, "no_start.bpmn", "no start event",
                               element_id="bad_no_start", lines=(4,)),
        "unsupported element": Case({"unsupported.bpmn": bad("unsupported.bpmn")}, "unsupported.bpmn",
                                    "complexGateway", element_id="odd", lines=(6,)),
        "script syntax error": Case({"script_syntax.bpmn": bad("script_syntax.bpmn")}, "script_syntax.bpmn",
                                    "Syntax error", element_id="calc", lines=(6, 8)),
        "script forbidden name": Case({"script_forbidden.bpmn": bad("script_forbidden.bpmn")},
                                      "script_forbidden.bpmn", "__import__", element_id="shell", lines=(6, 8)),
        "missing form file": Case({"missing_form.bpmn": bad("missing_form.bpmn")}, "missing_form.bpmn",
                                  "nowhere_to_be_found.json", element_id="fill", lines=(7, 8, 9)),
        "form is not json": Case({"uses_form.bpmn": bad("uses_form.bpmn"), "bad_form.json": bad("bad_form.json")},
                                 "bad_form.json", "not valid JSON", lines=(3,)),
        "form without schema next to a good bundle": Case(
            {**mini(), "form_without_schema.json": bad("form_without_schema.json")},
            "form_without_schema.json", "schema"),
        "empty file": Case({"empty.bpmn": b""}, "empty.bpmn", "empty"),
        "unknown file type next to a good bundle": Case({**mini(), "notes.txt": bad("notes.txt")}, "notes.txt",
                                                        "cannot be deployed"),
        "zip bomb, one entry": Case({"bomb.zip": zipped({"bomb.bpmn": b" " * (60 * 1024 * 1024)})}, "bomb.bpmn",
                                    "more than the limit"),
        "zip bomb, many entries": Case({"bombs.zip": zipped({f"b{i}.bpmn": diagram(f"bad_b{i}", 4 * 1024 * 1024)
                                                            for i in range(14)})}, "bombs.zip", "zip bomb"),
        "zip lying about its size": Case({"liar.zip": lying_zip()}, "liar.zip", "cannot be read"),
        "zip path traversal": Case({"evil.zip": zipped({**{f"ok/{k}": v for k, v in mini().items()},
                                                        "../../../tmp/evil.bpmn": diagram("bad_evil"),
                                                        "/etc/evil2.bpmn": diagram("bad_evil2")})},
                                   "evil.zip", "../../../tmp/evil.bpmn"),
        "corrupt zip": Case({"broken.zip": b"PK\x03\x04 this is not really a zip"}, "broken.zip", "cannot be read"),
    }


CASES = _cases()


def _relevant(errors: list[dict], case: Case) -> dict:
    found = [e for e in errors if e.get("file") == case.file and case.says.lower() in (e.get("message") or "").lower()]
    assert found, f"no problem for {case.file} saying {case.says!r} in {errors}"
    return found[0]


# --- deploying bad files through the API and the CLI ---------------------------------------------

@pytest.fixture()
def procadmin(db):
    return light_user("b_pa", ("process_admin",))


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_bad_upload_is_the_lint_list_via_api(api, db, procadmin, name):
    case = CASES[name]
    before = written(db)
    res = post_files(api.as_(procadmin), case.files)
    body = assert_json_error(res, 422)
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    for err in errors:
        assert set(err) >= {"file", "element_id", "element_name", "line", "message"}, err
        assert isinstance(err["message"], str) and err["message"].strip()
    problem = _relevant(errors, case)
    if case.element_id:
        assert problem["element_id"] == case.element_id, problem
    if case.lines:
        assert problem["line"] in case.lines, problem
    assert written(db) == before  # nothing written


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_bad_upload_is_the_same_list_via_cli(app, api, db, procadmin, tmp_path, name):
    case = CASES[name]
    # the CLI speaks the desk's default language: ask the API in the same one
    api_errors = post_files(api.as_(procadmin), case.files, lang=None).get_json()["errors"]
    paths = []
    for file_name, content in case.files.items():
        path = tmp_path / file_name
        path.write_bytes(content)
        paths.append(str(path))
    before = written(db)
    result = app.test_cli_runner().invoke(args=["deploy", *paths])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert_no_leak(result.output)
    for problem in api_errors:  # the same problems as the API's 422
        assert problem["message"] in result.output, result.output
        if problem["file"]:
            assert problem["file"] in result.output
        if problem["line"]:
            assert f"line {problem['line']}" in result.output
        if problem["element_id"]:
            assert (problem["element_name"] or problem["element_id"]) in result.output
    assert written(db) == before


def test_cli_with_only_files_of_unknown_type_names_them(app, db, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_bytes(bad("notes.txt"))
    before = written(db)
    result = app.test_cli_runner().invoke(args=["deploy", str(notes)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "notes.txt" in result.output, result.output  # which file was refused, not "no files were sent"
    assert_no_leak(result.output)
    assert written(db) == before


def test_a_bad_file_among_good_ones_writes_nothing_and_the_good_bundle_still_deploys(api, db, procadmin):
    before = written(db)
    files = {**mini(), "script_syntax.bpmn": bad("script_syntax.bpmn"), "xxe.bpmn": bad("xxe.bpmn")}
    res = post_files(api.as_(procadmin), files)
    body = assert_json_error(res, 422)
    assert {e["file"] for e in body["errors"]} == {"script_syntax.bpmn", "xxe.bpmn"}  # every problem at once
    assert written(db) == before
    ok = post_files(api.as_(procadmin), mini())
    assert ok.status_code == 201, ok.get_json()


def test_a_bad_new_version_keeps_the_deployed_one_working(app, api, db, procadmin, tmp_path):
    assert post_files(api.as_(procadmin), mini()).status_code == 201
    broken = {**mini(), "mini.bpmn": mini()["mini.bpmn"].replace(b"solve_at_line1 == True", b"solve_at_line1 ==")}
    before = written(db)
    body = assert_json_error(post_files(api.as_(procadmin), broken), 422)
    problem = _relevant(body["errors"], Case({}, "mini.bpmn", "cannot be used"))
    assert problem["element_id"] == "f_solved" and problem["line"], problem
    (tmp_path / "mini.bpmn").write_bytes(broken["mini.bpmn"])
    result = app.test_cli_runner().invoke(args=["deploy", str(tmp_path / "mini.bpmn")])
    assert result.exit_code == 1 and "mini.bpmn" in result.output, result.output
    assert written(db) == before
    detail = api.as_(procadmin).get("/process-definitions/mini").get_json()
    assert detail["active_version"] == 1 and [v["version"] for v in detail["versions"]] == [1]
    assert b"solve_at_line1 == True" in detail["xml"].encode()
    requester = light_user("b_req2", ("requester",))
    res = api.as_(requester).post("/tickets", json={"process": "mini", "subject": "Still works"})
    assert res.status_code == 201 and res.get_json()["process"] == {"key": "mini", "version": 1}


def test_upload_over_max_content_length_is_a_json_413(app, api, db, procadmin):
    before = written(db)
    limit = app.config["MAX_CONTENT_LENGTH"]
    payload = diagram("bad_toolarge", padding=limit + 1024)
    res = post_files(api.as_(procadmin), {"big.bpmn": payload})
    assert_json_error(res, 413)
    assert written(db) == before


def test_an_empty_multipart_part_is_a_clear_error(api, db, procadmin):
    before = written(db)
    res = post_files(api.as_(procadmin), {}, data={"files": [(io.BytesIO(b""), "")]})
    body = assert_json_error(res, 422)
    assert body["errors"] and all(e["message"] for e in body["errors"])
    assert written(db) == before


def test_deploy_with_a_json_body_instead_of_files_is_a_clear_error(api, db, procadmin):
    res = api.as_(procadmin).post("/process-definitions", json={"files": ["mini.bpmn"]})
    body = assert_json_error(res, 422)
    assert body["errors"][0]["message"]


# --- bad requests to tickets and tasks -----------------------------------------------------------

@pytest.fixture()
def desk(db, make):
    staff = {"procadmin": light_user("b_procadmin", ("process_admin",)),
             "supervisor": light_user("b_supervisor", ("supervisor",), ("Line 1", "Line 2")),
             "operator": light_user("b_operator", ("operator",), ("Line 1",)),
             "requester": light_user("b_requester", ("requester",))}
    make.deploy(mini(), staff["procadmin"])
    return staff


def _ticket(api, desk) -> dict:
    res = api.as_(desk["requester"]).post("/tickets", json={"process": "mini", "subject": "Mail is down"})
    assert res.status_code == 201, res.get_json()
    return res.get_json()


@pytest.mark.parametrize("payload, field_name", [
    ({"process": "mini", "subject": 12345}, "subject"),
    ({"process": "mini", "subject": ["a", "list"]}, "subject"),
    ({"process": "mini", "subject": "x", "data": [1, 2, 3]}, "data"),
    ({"process": "mini", "subject": "x", "data": "text"}, "data"),
    ({"process": {"key": "mini"}, "subject": "x"}, "process"),
    ({"process": "mini", "subject": "x", "priority": ["P1"]}, "priority"),
    ({"process": "mini", "subject": "x", "description": {"html": "<b>x</b>"}}, "description"),
    ({"process": "mini", "subject": "x", "channel": "carrier pigeon"}, "channel"),
    ({"process": "mini", "subject": "x", "data": {"blob": "x" * (70 * 1024)}}, "data"),
    ({"process": "mini", "subject": None}, "subject"),
], ids=["subject number", "subject list", "data list", "data string", "process object", "priority list",
        "description object", "unknown channel", "data too large", "subject null"])
def test_ticket_with_wrong_types_is_a_field_error(api, desk, payload, field_name):
    before = _count_tickets()
    res = api.as_(desk["requester"]).post("/tickets", json=payload)
    body = assert_json_error(res, 422)
    assert isinstance(body["errors"], dict) and field_name in body["errors"], body
    assert _count_tickets() == before


def _count_tickets() -> int:
    from app.extensions import db
    from app.models import Instance, Ticket

    return (db.session.execute(select(func.count()).select_from(Ticket)).scalar()
            + db.session.execute(select(func.count()).select_from(Instance)).scalar())


@pytest.mark.parametrize("raw, content_type, status", [
    ("process=mini&subject=x", "text/plain", 422),
    ("process=mini&subject=x", "application/x-www-form-urlencoded", 422),
    ("{not json at all", "application/json", 400),
    ('{"process": "mini", "subject": "x"', "application/json", 400),
    ("", "application/json", 422),
    ("[1, 2, 3]", "application/json", 422),
    ('"just a string"', "application/json", 422),
    ("\xff\xfe\x00garbage", "application/json", 400),
], ids=["text body", "form body", "broken json", "truncated json", "empty json", "json list", "json string",
        "binary garbage"])
def test_ticket_with_a_body_that_is_not_a_json_object_is_a_clear_error(api, desk, raw, content_type, status):
    before = _count_tickets()
    res = api.as_(desk["requester"]).post("/tickets", data=raw.encode("latin-1"), content_type=content_type)
    assert_json_error(res, status)
    assert _count_tickets() == before


@pytest.mark.parametrize("raw", ["{not json at all", '{"process": "mini", "subject": "x"'],
                         ids=["broken", "truncated"])
def test_broken_json_body_says_that_it_is_not_json(api, desk, raw):
    res = api.as_(desk["requester"]).post("/tickets", data=raw, content_type="application/json",
                                          headers={"Accept-Language": "en"})
    body = assert_json_error(res, 400)
    # the client must learn what is wrong: not "some fields are not valid" with no field named
    said = body["message"] + " " + json.dumps(body.get("errors") or {})
    assert "json" in said.lower(), body


@pytest.mark.parametrize("method, path, payload", [
    ("get", "/tasks/987654321", None),
    ("post", "/tasks/987654321/complete", {"data": {"priority": "P3"}}),
    ("get", "/tickets/987654321", None),
    ("post", "/tickets/987654321/messages", {"body": "hello"}),
    ("get", "/instances/987654321", None),
    ("get", "/process-definitions/no_such_process", None),
    ("get", "/tasks/not-a-number", None),
    ("post", "/tasks/not-a-number/complete", {"data": {}}),
    ("get", "/no/such/endpoint", None),
], ids=["task", "complete task", "ticket", "message", "instance", "definition", "task id not a number",
        "complete task id not a number", "unknown endpoint"])
def test_unknown_ids_are_json_404(api, desk, method, path, payload):
    client = api.as_(desk["supervisor"])
    res = client.post(path, json=payload) if method == "post" else client.get(path)
    assert_json_error(res, 404)


@pytest.mark.parametrize("payload", [
    {"data": [1, 2]},
    {"data": "priority=P1"},
    {"data": 42},
    [{"priority": "P1"}],
    "P1",
], ids=["data list", "data string", "data number", "body list", "body string"])
def test_completing_with_data_not_an_object_is_422_and_changes_nothing(api, desk, payload):
    ticket = _ticket(api, desk)
    task_id = ticket["open_stages"][0]["task_id"]
    op = api.as_(desk["operator"])
    res = op.post(f"/tasks/{task_id}/complete", json=payload)
    assert_json_error(res, 422)
    assert op.get(f"/tasks/{task_id}").get_json()["status"] == "open"
    # the stage still works
    ok = op.post(f"/tasks/{task_id}/complete", json={"data": {"priority": "P3", "solve_at_line1": False}})
    assert ok.status_code == 200, ok.get_json()


@pytest.mark.parametrize("data, field_name", [
    ({"priority": 5}, "priority"),
    ({"priority": "P3", "solve_at_line1": "maybe"}, "solve_at_line1"),
    ({"priority": {"nested": "P3"}}, "priority"),
], ids=["number for enum", "string for boolean", "object for string"])
def test_completing_with_wrong_field_types_is_a_field_error(api, desk, data, field_name):
    ticket = _ticket(api, desk)
    task_id = ticket["open_stages"][0]["task_id"]
    res = api.as_(desk["operator"]).post(f"/tasks/{task_id}/complete", json={"data": data})
    body = assert_json_error(res, 422)
    assert field_name in body["errors"], body


@pytest.mark.parametrize("payload, status", [
    ({"body": 12}, 422),
    ({"body": ["hi"]}, 422),
    ({}, 422),
    ({"body": "<script>alert(1)</script>"}, 422),
    ({"body": "hi", "internal": "perhaps"}, 422),
], ids=["body number", "body list", "no body", "only a script", "internal not a boolean"])
def test_message_with_wrong_types_is_a_field_error(api, desk, payload, status):
    ticket = _ticket(api, desk)
    res = api.as_(desk["requester"]).post(f"/tickets/{ticket['id']}/messages", json=payload)
    assert_json_error(res, status)


def test_query_parameters_of_the_wrong_type_are_field_errors(api, desk):
    sup = api.as_(desk["supervisor"])
    for path in ("/tasks?scope=group&limit=lots", "/tasks?scope=group&cursor=abc", "/tasks?scope=group&limit=-5",
                 "/instances?status=exploded", "/instances?overdue=perhaps"):
        assert_json_error(sup.get(path), 422)
