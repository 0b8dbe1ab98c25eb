"""workflows.bundle.compile_bundle: uploads in, compiled processes and forms (or problems) out."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workflows.bundle import compile_bundle
from workflows.lint_messages import MESSAGES
from workflows.serialization import SERIALIZER, SpecCache, spec_digest
from workflows.types import Bundle, BundleInvalid, CompiledProcess, Problem

DATA = Path(__file__).parent / "data" / "bundle"
REPO = Path(__file__).resolve().parents[2]
CAMUNDA = ("camunda_incident.bpmn", "resolve.json")
SPIFF = ("spiff_request.bpmn", "approval.bpmn", "request-schema.json", "request-uischema.json",
         "fulfil.json", "priority.dmn")
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def files(*names: str) -> dict[str, bytes]:
    return {name: (DATA / name).read_bytes() for name in names}


def problems_of(uploads: dict[str, bytes], **kwargs) -> list[Problem]:
    with pytest.raises(BundleInvalid) as info:
        compile_bundle(uploads, **kwargs)
    for problem in info.value.problems:
        assert problem.file and problem.message == MESSAGES[problem.code].format(**problem.params)
    return info.value.problems


def codes(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.code, p.file) for p in problems]


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def small_process(pid: str, extra_task: str = "") -> bytes:
    return f"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_{pid}">
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="s"/>{extra_task or '<bpmn:userTask id="t" name="Do it"/>'}<bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


# --- compiled results ----------------------------------------------------------------------------------

def test_camunda_bundle():
    bundle = compile_bundle(files(*CAMUNDA))
    assert isinstance(bundle, Bundle) and bundle.problems == []
    process = bundle.processes["incident_camunda"]
    assert isinstance(process, CompiledProcess)
    assert (process.name, process.source_file, process.calls) == ("Incident (Camunda)", "camunda_incident.bpmn", ())
    assert process.digest == spec_digest(process.spec)
    triage, resolve, escalate = process.stages
    assert triage == {"process_id": "incident_camunda", "element_id": "Task_Triage", "name": "Classify the ticket",
                      "lane": "Line 1", "assignee": None,
                      "stage": {"color": "#1E88E5", "background": "#E3F2FD", "icon": "headset", "state": "new",
                                "form": "Task_Triage.form.json"}}
    assert resolve["lane"] == "Line 2" and resolve["stage"]["form"] == "resolve.json"
    assert resolve["assignee"] == "category == 'incident' and 'engineer1' or None"
    assert escalate["stage"]["state"] == "open"
    assert sorted(bundle.forms) == ["Task_Triage.form.json", "resolve.json"]
    assert bundle.forms["resolve.json"]["ui"]["resolution"] == {"widget": "textarea"}
    assert bundle.diagrams == {"camunda_incident.bpmn": (DATA / "camunda_incident.bpmn").read_bytes()}


def test_spiff_bundle_with_call_activity_subprocess_dmn_and_form_pair():
    bundle = compile_bundle(files(*SPIFF))
    request = bundle.processes["service_request"]
    assert request.calls == ("approval",)
    assert sorted(request.spec["subprocess_specs"]) == ["Sub_fulfil", "approval"]
    assert request.spec["subprocess_specs"]["approval"] == bundle.processes["approval"].spec["spec"]
    stages = {(s["process_id"], s["element_id"]): s for s in request.stages}
    assert stages[("service_request", "Task_describe")]["stage"]["form"] == "request-schema.json"
    assert stages[("service_request", "Task_describe")]["assignee"] == "requester"
    assert stages[("Sub_fulfil", "Task_fulfil")]["lane"] == "Line 2"
    assert stages[("approval", "Task_approve")]["lane"] == "Managers"
    form = bundle.forms["request-schema.json"]
    assert form["title"] == "Describe the request"
    assert form["ui"] == {"order": ["what", "needed_by", "urgent"],
                          "what": {"widget": "textarea", "help": "One request per ticket"}}
    assert "request-uischema.json" not in bundle.forms
    assert sorted(bundle.diagrams) == ["approval.bpmn", "priority.dmn", "spiff_request.bpmn"]


def test_specs_deserialize():
    bundle = compile_bundle(files(*SPIFF))
    process = bundle.processes["service_request"]
    spec, subs = SpecCache().get(process.digest, process.spec)
    assert spec.name == "service_request" and set(subs) == {"Sub_fulfil", "approval"}
    assert SERIALIZER.from_dict(json.loads(json.dumps(process.spec["spec"]))).name == "service_request"


def test_call_activity_resolved_from_the_resolver_matches_the_bundle():
    together = compile_bundle(files(*SPIFF)).processes["service_request"]
    approval = compile_bundle(files("approval.bpmn")).processes["approval"]
    alone = compile_bundle(files(*(n for n in SPIFF if n != "approval.bpmn")),
                           resolve_process=lambda pid: approval if pid == "approval" else None)
    request = alone.processes["service_request"]
    assert set(alone.processes) == {"service_request"}
    assert request.digest == together.digest
    assert request.calls == ("approval",)
    assert ("approval", "Task_approve") in {(s["process_id"], s["element_id"]) for s in request.stages}
    request.spec["subprocess_specs"]["approval"]["name"] = "changed"
    assert approval.spec["spec"]["name"] == "approval"  # the resolved spec was copied


def test_unresolvable_call_activity():
    [problem] = problems_of(files(*(n for n in SPIFF if n != "approval.bpmn")))
    assert (problem.code, problem.element_id, problem.file) == ("call.unknown", "Call_approval", "spiff_request.bpmn")


def test_same_files_same_digests_in_other_processes():
    script = ("import json, sys; from pathlib import Path; from workflows.bundle import compile_bundle; "
              f"d = Path({str(DATA)!r}); names = {list(SPIFF + CAMUNDA)!r}; "
              "b = compile_bundle({n: (d / n).read_bytes() for n in names}); "
              "print(json.dumps({k: v.digest for k, v in b.processes.items()}))")
    digests = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, check=True,
                             capture_output=True, text=True).stdout
        digests.append(json.loads(out))
    here = compile_bundle(files(*SPIFF, *CAMUNDA))
    assert digests[0] == digests[1] == {k: v.digest for k, v in here.processes.items()}


def test_business_rule_task_with_a_dmn_file():
    task = '<bpmn:businessRuleTask id="t" camunda:decisionRef="priority_matrix"/>'
    bundle = compile_bundle({"p.bpmn": small_process("p", task), **files("priority.dmn")})
    assert "t" in bundle.processes["p"].spec["spec"]["task_specs"]
    [problem] = problems_of({"p.bpmn": small_process("p", task)})
    assert problem.code == "decision.unknown"


def test_dmn_problems():
    table = (DATA / "priority.dmn").read_bytes()
    literal = table.replace(b'<decisionTable id="DecisionTable_priority" hitPolicy="FIRST">', b"<!--").replace(
        b"</decisionTable>", b"-->")
    two = table.replace(b"</definitions>", b'<decision id="second"/></definitions>')
    bad = table.replace(b"<text>3</text>", b"<text>3 +</text>")
    assert [p.code for p in problems_of({"p.bpmn": small_process("p"), "a.dmn": literal})] == ["dmn.no_table"]
    assert [p.code for p in problems_of({"p.bpmn": small_process("p"), "a.dmn": two})] == ["dmn.many_decisions"]
    [problem] = problems_of({"p.bpmn": small_process("p"), "a.dmn": bad})
    assert (problem.code, problem.element_id) == ("expression.invalid", "LiteralExpression_other")
    wrong = problems_of({"p.bpmn": small_process("p"), "a.dmn": small_process("q")})
    assert [p.code for p in wrong] == ["xml.is_bpmn_not_dmn"]


def test_xml_extension_holds_bpmn_or_dmn():
    bundle = compile_bundle({"p.xml": small_process("p"), "d.xml": (DATA / "priority.dmn").read_bytes()})
    assert list(bundle.processes) == ["p"] and sorted(bundle.diagrams) == ["d.xml", "p.xml"]


def test_duplicate_process_ids_across_files():
    problems = problems_of({"a.bpmn": small_process("p"), "b.bpmn": small_process("p")})
    assert [(p.code, p.file, p.params["other_file"]) for p in problems] == [("process.duplicate", "b.bpmn", "a.bpmn")]


# --- forms ---------------------------------------------------------------------------------------------------

def with_form(name: str, form: object) -> dict[str, bytes]:
    task = (f'<bpmn:userTask id="t"><bpmn:extensionElements><camunda:properties><camunda:property name="form" '
            f'value="{name}"/></camunda:properties></bpmn:extensionElements></bpmn:userTask>')
    data = form if isinstance(form, bytes) else json.dumps(form).encode()
    return {"p.bpmn": small_process("p", task), name: data}


def test_plain_json_schema_is_a_form():
    schema = {"type": "object", "title": "Plain", "properties": {"a": {"type": ["string", "null"]}}}
    bundle = compile_bundle(with_form("plain.json", schema))
    assert bundle.forms["plain.json"] == {"title": "Plain", "schema": schema, "ui": {}}


@pytest.mark.parametrize("form,expected", [
    (b'{"schema": {"type": "object",\n "properties": {}},}', [("form.bad_json", None)]),
    (b"[1, 2]", [("form.not_object", None)]),
    ({"title": "x"}, [("form.no_schema", None)]),
    ({"schema": {"type": "array", "properties": {}}}, [("form.schema_type", None)]),
    ({"schema": {"type": "object", "properties": {
        "a": {"type": "text"}, "b": {"type": "string", "format": "phone"},
        "c": {"type": "array"}, "d": {"type": "string", "enum": []},
        "e": {"type": "string", "enum": ["x", "y"], "enumNames": {"en": ["X"]}},
        "f": {"type": "object", "properties": {}}, "g": {"type": "integer", "minimum": "1"},
        "h": {"type": "string", "title": 5}, "i": "string"},
        "required": ["a", "zz"]}, "ui": {"order": ["a", "nope"]}},
     [("form.field_type", "a"), ("form.field_format", "b"), ("form.field_array", "c"),
      ("form.field_enum", "d"), ("form.field_enum_names", "e"), ("form.field_nested", "f"),
      ("form.field_number", "g"), ("form.field_text", "h"), ("form.field_not_object", "i"),
      ("form.required_unknown", "zz"), ("form.ui_order_unknown", "nope")]),
])
def test_bad_form_specs_name_the_file_and_the_field(form, expected):
    problems = problems_of(with_form("triage.json", form))
    assert [(p.code, p.element_id) for p in problems] == expected
    assert {p.file for p in problems} == {"triage.json"}
    if expected[0][0] == "form.bad_json":
        assert problems[0].line == 2


def test_readme_example_form_is_valid():
    readme = (REPO / "forms" / "README.md").read_text()
    example = json.loads(readme.split("```json", 1)[1].split("```", 1)[0])
    assert compile_bundle(with_form("triage.json", example)).forms["triage.json"]["schema"] == example["schema"]


def test_ui_schema_without_its_schema_and_spiff_arena_metadata():
    uploads = {**with_form("x.json", {"schema": {"type": "object", "properties": {}}}),
               "lonely-uischema.json": b'{"ui:order": []}', "process_model.json": b'{"display_name": "X"}'}
    assert [(p.code, p.file) for p in problems_of(uploads)] == [("form.uischema_orphan", "lonely-uischema.json")]


def test_generated_camunda_form_name_clash():
    uploads = {**files(*CAMUNDA), "Task_Triage.form.json": b'{"schema": {"type": "object", "properties": {}}}'}
    [problem] = problems_of(uploads)
    assert (problem.code, problem.element_id) == ("camunda_form.name_clash", "Task_Triage")


# --- uploads and archives ------------------------------------------------------------------------------------

def test_zip_bundle_with_folders_and_clutter():
    archive = zipped({
        "incident/camunda_incident.bpmn": (DATA / "camunda_incident.bpmn").read_bytes(),
        "incident/forms/resolve.json": (DATA / "resolve.json").read_bytes(),
        "incident/README.md": b"# notes", "incident/preview.png": b"\x89PNG",
        "__MACOSX/incident/._camunda_incident.bpmn": b"\x00\x05\x16\x07",
        "incident/.DS_Store": b"\x00", "incident/": b"",
    })
    bundle = compile_bundle({"incident.zip": archive})
    assert list(bundle.processes) == ["incident_camunda"]
    assert sorted(bundle.forms) == ["Task_Triage.form.json", "resolve.json"]
    assert list(bundle.diagrams) == ["camunda_incident.bpmn"]
    assert bundle.processes["incident_camunda"].digest == \
        compile_bundle(files(*CAMUNDA)).processes["incident_camunda"].digest


def test_zip_bomb_is_stopped():
    zeros = b"\x00" * (600 * 1024)
    archive = zipped({f"f{i}.json": zeros for i in range(4)})
    assert len(archive) < 20_000
    problems = problems_of({"bomb.zip": archive}, max_total_bytes=1024 * 1024, max_file_bytes=1024 * 1024)
    assert ("zip.too_large", "bomb.zip") in codes(problems)
    huge = zipped({"big.bpmn": b" " * (6 * 1024 * 1024)})
    assert codes(problems_of({"huge.zip": huge})) == [("file.too_large", "big.bpmn")]


def test_zip_path_traversal_nested_encrypted_and_corrupt():
    archive = zipped({"../evil.bpmn": small_process("evil"), "/abs.bpmn": small_process("abs"),
                      "C:/windows.bpmn": small_process("win"), "inner.zip": zipped({"a.bpmn": b"<x/>"}),
                      "ok/p.bpmn": small_process("p")})
    problems = problems_of({"bundle.zip": archive})
    assert sorted(p.code for p in problems) == ["zip.nested", "zip.unsafe_path", "zip.unsafe_path",
                                                "zip.unsafe_path"]
    assert all(p.file == "bundle.zip" for p in problems)
    assert "../evil.bpmn" in {p.params.get("entry") for p in problems}
    locked = bytearray(zipped({"p.bpmn": small_process("p")}))
    locked[locked.index(b"PK\x03\x04") + 6] |= 1
    locked[locked.index(b"PK\x01\x02") + 8] |= 1
    assert codes(problems_of({"locked.zip": bytes(locked)})) == [("zip.encrypted", "locked.zip")]
    assert codes(problems_of({"broken.zip": b"PK\x03\x04 not really"})) == [("zip.corrupt", "broken.zip")]


def test_duplicate_names_too_many_files_and_unsupported_types():
    archive = zipped({"a/p.bpmn": small_process("p"), "b/p.bpmn": small_process("q")})
    assert codes(problems_of({"x.zip": archive})) == [("file.duplicate_name", "p.bpmn")]
    many = {f"p{i}.bpmn": small_process(f"p{i}") for i in range(5)}
    assert codes(problems_of(many, max_files=3)) == [("bundle.too_many_files", "p3.bpmn")]
    assert codes(problems_of({"p.bpmn": small_process("p"), "notes.docx": b"PK"})) == [
        ("file.unsupported_type", "notes.docx")]


def test_empty_upload_and_forms_only():
    assert codes(problems_of({})) == [("bundle.empty", "upload")]
    [problem] = problems_of({"triage.json": b'{"schema": {"type": "object", "properties": {}}}'})
    assert (problem.code, problem.file) == ("bundle.no_diagram", "triage.json")


def test_malicious_diagram_in_a_bundle_is_one_problem_among_others():
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<bpmn:definitions xmlns:bpmn="' + BPMN.encode() + b'">&x;</bpmn:definitions>')
    problems = problems_of({"evil.bpmn": xxe, "big.bpmn": small_process("p") + b" " * 2000,
                            "ok.bpmn": small_process("q")}, max_file_bytes=1500)
    assert codes(problems) == [("file.too_large", "big.bpmn"), ("xml.entities", "evil.bpmn")]
