"""workflows.lint: every problem at once, each pinned to an element and its line."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from workflows.bundle import compile_bundle
from workflows.lint_messages import MESSAGES
from workflows.specs import engine_detail, engine_problem
from workflows.types import BundleInvalid, CompiledProcess, Problem
from workflows.xmlsafe import parse_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
HEAD = (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="{BPMN}" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="x">\n')


def diagram(body: str, defs: str = "", executable: str = "true", pid: str = "p") -> bytes:
    return (HEAD + f'<bpmn:process id="{pid}" name="Test process" isExecutable="{executable}">\n'
            + body + "\n</bpmn:process>\n" + defs + "\n</bpmn:definitions>\n").encode()


def linear(task: str = '<bpmn:userTask id="t" name="Work"/>', extra: str = "", pid: str = "p",
           **kwargs) -> bytes:
    """start -> (the element with id "t") -> end, plus ``extra`` elements."""
    return diagram(f"""<bpmn:startEvent id="start"/>
{task}
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t"/>
<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="end"/>
{extra}""", pid=pid, **kwargs)


def problems_of(files: dict[str, bytes], **kwargs) -> list[Problem]:
    try:
        compile_bundle(files, **kwargs)
    except BundleInvalid as exc:
        for problem in exc.problems:
            assert problem.message == MESSAGES[problem.code].format(**problem.params)
            assert "Traceback" not in problem.message and "<Element" not in problem.message
        return exc.problems
    return []


def found(data: bytes, **kwargs) -> list[tuple[str, str | None]]:
    return [(p.code, p.element_id) for p in problems_of({"d.bpmn": data}, **kwargs)]


def test_a_clean_diagram_has_no_problems():
    assert found(linear()) == []


# --- what the file is ----------------------------------------------------------------------------

@pytest.mark.parametrize("xml,code", [
    (b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>', "xml.is_dmn"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>', "xml.is_svg"),
    (b"<html><body>Not found</body></html>", "xml.is_html"),
    (b'<definitions xmlns="http://schema.omg.org/spec/BPMN/2.0"/>', "xml.old_bpmn_namespace"),
    (b'<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion/></project>', "xml.not_bpmn"),
    (b"<definitions/>", "xml.not_bpmn"),
])
def test_non_bpmn_xml_says_what_the_file_looks_like(xml, code):
    [problem] = problems_of({"upload.bpmn": xml})
    assert problem.code == code and problem.file == "upload.bpmn" and problem.line == 1
    if code == "xml.not_bpmn":
        assert "<bpmn:definitions" in problem.message


def test_not_executable_process_gets_an_actionable_message():
    [problem] = problems_of({"d.bpmn": linear(executable="false")})
    assert problem.code == "bpmn.not_executable"
    assert 'isExecutable="true"' in problem.message and "process properties" in problem.message
    assert problem.element_id == "p" and problem.element_name == "Test process" and problem.line == 3


def test_no_process_and_no_start_event():
    assert found((HEAD + "</bpmn:definitions>").encode()) == [("bpmn.no_process", "defs")]
    data = diagram('<bpmn:userTask id="t"/><bpmn:endEvent id="e"/>'
                   '<bpmn:sequenceFlow id="f" sourceRef="t" targetRef="e"/>')
    [problem] = problems_of({"d.bpmn": data})
    assert (problem.code, problem.element_id, problem.line) == ("process.no_start", "p", 3)
    assert "add a start event" in problem.message


# --- elements -----------------------------------------------------------------------------------

def test_unsupported_elements_and_triggers():
    data = linear('<bpmn:complexGateway id="t" name="Complex"/>', extra="""
<bpmn:intermediateThrowEvent id="link" name="Go to"><bpmn:linkEventDefinition id="ld" name="x"/></bpmn:intermediateThrowEvent>
<bpmn:boundaryEvent id="comp" attachedToRef="w"><bpmn:compensateEventDefinition id="cd"/></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="nothing" attachedToRef="w"/>
<bpmn:boundaryEvent id="lost" attachedToRef="nowhere"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:task id="w"/>""")
    assert found(data) == [("element.unsupported", "t"), ("event.unsupported_definition", "link"),
                           ("event.unsupported_definition", "comp"),
                           ("event.boundary_without_definition", "nothing"),
                           ("event.boundary_unattached", "lost")]
    [complex_gateway] = [p for p in problems_of({"d.bpmn": data}) if p.element_id == "t"]
    assert complex_gateway.element_name == "Complex" and "bpmn:complexGateway" in complex_gateway.message


def test_script_syntax_error_and_forbidden_code():
    data = linear('<bpmn:scriptTask id="t" name="Compute"><bpmn:script>x = (1 +</bpmn:script></bpmn:scriptTask>',
                  extra='<bpmn:scriptTask id="evil" name="Evil"><bpmn:script>import os\nos.system("id")'
                        '</bpmn:script></bpmn:scriptTask>')
    problems = problems_of({"d.bpmn": data})
    syntax = [p for p in problems if p.element_id == "t"]
    forbidden = [p for p in problems if p.element_id == "evil"]
    assert [p.code for p in syntax] == ["expression.invalid"]
    assert syntax[0].element_name == "Compute" and syntax[0].params["what"] == "script"
    assert forbidden and all(p.code == "expression.invalid" for p in forbidden)
    assert "import" in forbidden[0].message.lower()


def test_script_problems_point_at_the_line_in_the_file():
    script = "total = 0\nfor item in items:\n    total += item.__dict__\n"
    data = linear(f'<bpmn:scriptTask id="t"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>')
    [problem] = problems_of({"d.bpmn": data})
    assert problem.params["script_line"] == "3"
    assert problem.line == 5 + 2  # the script starts on line 5 of the file


def test_scripts_in_other_languages_and_missing_scripts():
    data = linear('<bpmn:scriptTask id="t" scriptFormat="groovy"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>',
                  extra='<bpmn:scriptTask id="empty"/>')
    assert found(data) == [("script.language", "t"), ("script.missing", "empty")]


def test_gateway_flows_need_conditions_or_a_default():
    body = """<bpmn:startEvent id="start"/>
<bpmn:exclusiveGateway id="g" name="Which way?" default="{default}"/>
<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/><bpmn:endEvent id="c"/>
<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="g"/>
<bpmn:sequenceFlow id="fa" name="A" sourceRef="g" targetRef="a"><bpmn:conditionExpression>x == 1</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="fb" name="B" sourceRef="g" targetRef="b"/>
<bpmn:sequenceFlow id="fc" name="C" sourceRef="g" targetRef="c"/>"""
    problems = problems_of({"d.bpmn": diagram(body.format(default="fc"))})
    assert [(p.code, p.element_id, p.element_name) for p in problems] == [
        ("gateway.missing_condition", "fb", "B")]
    assert "Which way?" in problems[0].message and "default flow" in problems[0].message
    assert found(diagram(body.format(default="nope"))) == [
        ("gateway.bad_default", "g"), ("gateway.missing_condition", "fb"),
        ("gateway.missing_condition", "fc")]


def test_conditions_on_flows_leaving_tasks_and_multiple_outgoing_flows():
    data = linear(extra='<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e2">'
                        '<bpmn:conditionExpression>x</bpmn:conditionExpression></bpmn:sequenceFlow>')
    assert found(data) == [("task.multiple_outgoing", "t"), ("flow.condition_not_on_gateway", "f3")]


def test_sequence_flows_to_and_from_missing_elements():
    data = linear(extra='<bpmn:sequenceFlow id="f3" sourceRef="ghost" targetRef="end"/>'
                        '<bpmn:sequenceFlow id="f4" sourceRef="t"/>')
    assert found(data) == [("task.multiple_outgoing", "t"), ("flow.unknown_source", "f3"),
                           ("flow.no_target", "f4")]


@pytest.mark.parametrize("expression,code", [
    ("${amount > 1000 &amp;&amp; !vip}", "expression.juel"),
    ("= amount > 1000", "expression.feel"),
    ("amount >", "expression.invalid"),
])
def test_camunda_and_broken_conditions(expression, code):
    body = f"""<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="g" default="fb"/>
<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>
<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="g"/>
<bpmn:sequenceFlow id="fa" sourceRef="g" targetRef="a"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{expression}</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="b"/>"""
    [problem] = problems_of({"d.bpmn": diagram(body)})
    assert (problem.code, problem.element_id) == (code, "fa")
    if code == "expression.juel":
        assert problem.params["suggestion"] == "amount > 1000 and not vip"


def test_timers():
    data = linear(extra="""<bpmn:boundaryEvent id="b1" attachedToRef="t" cancelActivity="false"><bpmn:timerEventDefinition/></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="b2" attachedToRef="t" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration>${duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="b3" attachedToRef="t" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDate>sla_due("resolution"</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="b4" attachedToRef="t" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:endEvent id="e2"/>
<bpmn:sequenceFlow id="g1" sourceRef="b1" targetRef="e2"/><bpmn:sequenceFlow id="g2" sourceRef="b2" targetRef="e2"/>
<bpmn:sequenceFlow id="g3" sourceRef="b3" targetRef="e2"/><bpmn:sequenceFlow id="g4" sourceRef="b4" targetRef="e2"/>""")
    assert found(data) == [("timer.empty", "b1"), ("expression.juel", "b2"), ("expression.invalid", "b3")]


def test_loops_and_multi_instance():
    data = linear('<bpmn:userTask id="t"><bpmn:multiInstanceLoopCharacteristics camunda:collection="items"/></bpmn:userTask>',
                  extra="""<bpmn:task id="l"><bpmn:standardLoopCharacteristics/></bpmn:task>
<bpmn:task id="m"><bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>len(items</bpmn:loopCardinality>
<bpmn:completionCondition>done ==</bpmn:completionCondition></bpmn:multiInstanceLoopCharacteristics></bpmn:task>""")
    assert found(data) == [("loop.no_cardinality", "t"), ("loop.no_condition", "l"),
                           ("expression.invalid", "m"), ("expression.invalid", "m")]


def test_service_tasks_business_rules_and_data_stores():
    data = linear('<bpmn:serviceTask id="t" camunda:class="org.example.Delegate"/>', extra="""
<bpmn:businessRuleTask id="br1"/><bpmn:businessRuleTask id="br2" camunda:decisionRef="missing_decision"/>
<bpmn:dataStoreReference id="dsr" name="CMDB" dataStoreRef="ds"/>""", defs='<bpmn:dataStore id="ds" name="CMDB"/>')
    assert found(data) == [("service.no_operator", "t"), ("decision.not_named", "br1"),
                           ("decision.unknown", "br2"), ("data_store.unsupported", "dsr")]


def test_data_associations_must_reach_a_data_object():
    data = linear('<bpmn:task id="t"><bpmn:dataInputAssociation id="a"><bpmn:sourceRef>ref</bpmn:sourceRef>'
                  '<bpmn:targetRef>x</bpmn:targetRef></bpmn:dataInputAssociation></bpmn:task>',
                  extra='<bpmn:dataObjectReference id="ref" name="Request" dataObjectRef="gone"/>')
    [problem] = problems_of({"d.bpmn": data})
    assert (problem.code, problem.element_id, problem.params["ref"]) == ("data.unresolved", "t", "Request")


@pytest.mark.timeout(20)
def test_data_object_of_a_grandparent_scope_is_reported_not_hung():
    # SpiffWorkflow's parser loops forever on this; the linter reports it and never lets it try.
    inner = """<bpmn:subProcess id="{id}"><bpmn:startEvent id="{id}s"/>{body}<bpmn:endEvent id="{id}e"/>
<bpmn:sequenceFlow id="{id}f1" sourceRef="{id}s" targetRef="{first}"/>
<bpmn:sequenceFlow id="{id}f2" sourceRef="{first}" targetRef="{id}e"/></bpmn:subProcess>"""
    task = ('<bpmn:task id="deep"><bpmn:dataOutputAssociation id="a"><bpmn:targetRef>ref</bpmn:targetRef>'
            '</bpmn:dataOutputAssociation></bpmn:task>')
    level2 = inner.format(id="s2", body=task, first="deep")
    level1 = inner.format(id="t", body=level2, first="s2")
    data = linear(level1, extra='<bpmn:dataObject id="obj"/><bpmn:dataObjectReference id="ref" dataObjectRef="obj"/>')
    assert found(data) == [("data.too_far", "deep")]
    # ... nor does SpiffWorkflow get to parse it when a clean process calls it
    caller = linear('<bpmn:callActivity id="t" calledElement="p"/>', pid="caller")
    problems = problems_of({"callee.bpmn": data, "caller.bpmn": caller})
    assert [(p.file, p.code, p.element_id) for p in problems] == [("callee.bpmn", "data.too_far", "deep")]


# --- stages, forms, calls, messages ---------------------------------------------------------------

def stage_task(props: str, task_id: str = "t") -> str:
    return (f'<bpmn:userTask id="{task_id}" name="Stage"><bpmn:extensionElements><camunda:properties>{props}'
            '</camunda:properties></bpmn:extensionElements></bpmn:userTask>')


def test_stage_properties():
    props = ('<camunda:property name="stage.color" value="blue"/><camunda:property name="stage.background" value="#FFF"/>'
             '<camunda:property name="stage.state" value="pending"/><camunda:property name="stage.icon" value="Head Set"/>'
             '<camunda:property name="stage.colour" value="#000000"/><camunda:property name="assignee" value="pick("/>')
    problems = problems_of({"d.bpmn": linear(stage_task(props))})
    assert [p.code for p in problems] == ["stage.unknown_property", "stage.bad_state", "stage.bad_color",
                                          "stage.bad_icon", "expression.invalid"]
    bad_colour = problems[2]
    assert bad_colour.params == {"name": "Stage", "property": "stage.color", "value": "blue"}
    assert "#RRGGBB" in bad_colour.message and bad_colour.element_id == "t" and bad_colour.line


def test_forms_must_exist_in_the_bundle_or_the_resolver():
    data = linear(stage_task('<camunda:property name="form" value="triage.json"/>'))
    [problem] = problems_of({"d.bpmn": data})
    assert (problem.code, problem.element_id, problem.params["form"]) == ("stage.form_missing", "t", "triage.json")
    form = b'{"schema": {"type": "object", "properties": {"a": {"type": "string"}}}}'
    assert problems_of({"d.bpmn": data, "triage.json": form}) == []
    asked = []
    assert problems_of({"d.bpmn": data}, resolve_form=lambda name: asked.append(name) or {"schema": {}}) == []
    assert asked == ["triage.json"]


def test_call_activities():
    caller = linear('<bpmn:callActivity id="t" name="Approve" calledElement="approval"/>',
                    extra='<bpmn:callActivity id="none"/>', pid="caller")
    problems = problems_of({"caller.bpmn": caller})
    assert [(p.code, p.element_id) for p in problems] == [("call.unknown", "t"), ("call.no_called_element", "none")]
    assert "'approval'" in problems[0].message
    callee = linear(pid="approval", executable="false")
    codes = [p.code for p in problems_of({"caller.bpmn": caller, "callee.bpmn": callee})]
    assert "call.not_executable" in codes and "call.unknown" not in codes


def test_call_activity_resolved_by_the_caller():
    callee = compile_bundle({"a.bpmn": linear(pid="approval")}).processes["approval"]
    asked = []

    def resolve(pid: str) -> CompiledProcess | None:
        asked.append(pid)
        return callee if pid == "approval" else None

    caller = linear('<bpmn:callActivity id="t" calledElement="approval"/>', pid="caller")
    bundle = compile_bundle({"caller.bpmn": caller}, resolve_process=resolve)
    assert bundle.processes["caller"].calls == ("approval",)
    assert "approval" in asked


def test_messages_must_be_defined_and_named():
    data = linear(extra="""<bpmn:boundaryEvent id="b1" attachedToRef="t"><bpmn:messageEventDefinition messageRef="nope"/></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="b2" attachedToRef="t"><bpmn:messageEventDefinition messageRef="m_unnamed"/></bpmn:boundaryEvent>
<bpmn:intermediateCatchEvent id="c1"><bpmn:messageEventDefinition/></bpmn:intermediateCatchEvent>
<bpmn:boundaryEvent id="b3" name="Replied" attachedToRef="t"><bpmn:messageEventDefinition messageRef="m_reply"/></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="b4" attachedToRef="t"><bpmn:signalEventDefinition signalRef="no_signal"/></bpmn:boundaryEvent>
<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="g1" sourceRef="b1" targetRef="e2"/>
<bpmn:sequenceFlow id="g2" sourceRef="b2" targetRef="e2"/><bpmn:sequenceFlow id="g3" sourceRef="b3" targetRef="e2"/>
<bpmn:sequenceFlow id="g4" sourceRef="b4" targetRef="e2"/>""",
                  defs='<bpmn:message id="m_unnamed"/><bpmn:message id="m_reply" name="requester_reply"/>')
    assert found(data) == [("ref.unknown", "b1"), ("message.no_name", "b2"), ("message.no_name", "c1"),
                           ("ref.unknown", "b4")]


def test_duplicate_ids_and_subprocess_shape():
    data = linear('<bpmn:subProcess id="t" name="Collapsed"/>', extra='<bpmn:task id="start"/>')
    assert found(data) == [("subprocess.start_count", "t"), ("subprocess.no_end", "t"),
                           ("bpmn.duplicate_id", "start")]


def test_every_problem_is_reported_at_once():
    data = linear(stage_task('<camunda:property name="stage.color" value="red"/>'), extra="""
<bpmn:scriptTask id="s1"><bpmn:script>x = (</bpmn:script></bpmn:scriptTask>
<bpmn:complexGateway id="cg"/><bpmn:callActivity id="ca" calledElement="elsewhere"/>""")
    assert found(data) == [("stage.bad_color", "t"), ("expression.invalid", "s1"),
                           ("element.unsupported", "cg"), ("call.unknown", "ca")]


# --- what SpiffWorkflow rejects ----------------------------------------------------------------------

def test_engine_rejections_become_problems_on_the_element():
    data = linear(extra='<bpmn:boundaryEvent id="cancel" name="Cancelled" attachedToRef="t">'
                        '<bpmn:cancelEventDefinition/></bpmn:boundaryEvent><bpmn:endEvent id="e2"/>'
                        '<bpmn:sequenceFlow id="g1" sourceRef="cancel" targetRef="e2"/>')
    [problem] = problems_of({"d.bpmn": data})
    assert (problem.code, problem.element_id, problem.element_name) == ("element.engine_rejected", "t", "Work")
    assert problem.line == 5
    assert "Cancel Events may only be used with transactions" in problem.message


def test_engine_details_never_show_reprs():
    tree = parse_xml(linear(), "d.bpmn")
    process = tree.getroot()[0]
    ids = {e.get("id"): e for e in tree.getroot().iter() if e.get("id")}
    exc = ValidationException("Cannot resolve dataInputAssociation <Element {x}sourceRef at 0x7f00>. ",
                              id="t")
    problem = engine_problem(exc, "d.bpmn", ids, process)
    assert problem.element_id == "t" and problem.line == 5
    assert problem.params["detail"] == "Cannot resolve dataInputAssociation an element"
    assert "KeyError" in engine_detail(ValidationException("KeyError('value')"))
    assert "(" not in engine_detail(ValidationException("KeyError('value')")).split("(", 1)[1][:-1]
    other = engine_problem(RuntimeError("boom <object at 0x1>"), "d.bpmn", ids, process)
    assert other.code == "process.engine_error" and other.element_id == "p"
    assert "0x1" not in other.message and "RuntimeError" in other.message


# --- the templates ---------------------------------------------------------------------------------------

def test_every_template_renders_and_every_code_used_exists():
    for code, template in MESSAGES.items():
        names = {field for _, field, _, _ in string.Formatter().parse(template) if field}
        assert template.format(**{name: "x" for name in names}), code
    source = "".join(p.read_text() for p in (Path(__file__).parents[2] / "workflows").glob("*.py"))
    used = set(re.findall(r'make_problem\(\s*"([a-z_]+\.[a-z_]+)"', source))
    used |= set(re.findall(r'self\.add\(\s*"([a-z_]+\.[a-z_]+)"', source))
    used |= set(re.findall(r'problem\(\s*"([a-z_]+\.[a-z_]+)"', source))
    assert used and used <= set(MESSAGES), used - set(MESSAGES)


def test_problem_to_dict_has_the_api_fields_and_translation_keys():
    [problem] = problems_of({"d.bpmn": linear(executable="false")})
    data = problem.to_dict()
    assert {"file", "element_id", "element_name", "line", "message", "code", "params"} <= set(data)
    assert data["message"] == MESSAGES[data["code"]].format(**data["params"])
