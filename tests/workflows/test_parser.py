"""workflows.parser and workflows.camunda_forms: one place for stage properties and forms."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from workflows.camunda_forms import convert_form_data, form_name
from workflows.form_specs import form_problems
from workflows.parser import (StagedeskParser, is_iso_literal, normalize_timer_expression,
                              task_properties)
from workflows.xmlsafe import parse_xml

DATA = Path(__file__).parent / "data" / "bundle"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN}


def parsed(*names: str) -> StagedeskParser:
    parser = StagedeskParser()
    for name in names:
        parser.add_bpmn_xml(parse_xml((DATA / name).read_bytes(), name), filename=name)
    return parser


def task_spec(parser, process_id: str, name: str):
    return parser.get_spec(process_id).task_specs[name]


def element(xml: str, element_id: str):
    tree = parse_xml(xml.encode(), "x.bpmn")
    return tree.getroot().xpath(f"//*[@id='{element_id}']")[0]


def test_camunda_properties_land_in_task_spec_extensions():
    parser = parsed("camunda_incident.bpmn")
    triage = task_spec(parser, "incident_camunda", "Task_Triage")
    assert triage.extensions["properties"] == {
        "stage.color": "#1E88E5", "stage.background": "#E3F2FD", "stage.icon": "headset",
        "stage.state": "new", "form": "Task_Triage.form.json"}
    resolve = task_spec(parser, "incident_camunda", "Task_Resolve")
    assert resolve.extensions["properties"]["form"] == "resolve.json"
    assert resolve.extensions["properties"]["assignee"].startswith("category ==")


def test_spiff_properties_and_spiff_arena_form_files():
    parser = parsed("spiff_request.bpmn", "approval.bpmn")
    describe = task_spec(parser, "service_request", "Task_describe")
    props = describe.extensions["properties"]
    assert props["stage.state"] == "waiting"
    assert props["form"] == "request-schema.json"  # from spiffworkflow:formJsonSchemaFilename
    assert describe.extensions["formUiSchemaFilename"] == "request-uischema.json"
    assert describe.prescript == "attempts = 1" and describe.postscript == "described = True"


def test_lanes_are_set_by_the_parser_including_inside_subprocesses():
    parser = parsed("spiff_request.bpmn", "approval.bpmn")
    assert task_spec(parser, "service_request", "Task_describe").lane == "Line 1"
    parser.get_spec("service_request")
    assert parser.get_spec("Sub_fulfil").task_specs["Task_fulfil"].lane == "Line 2"
    assert task_spec(parsed("camunda_incident.bpmn"), "incident_camunda", "Task_Resolve").lane == "Line 2"


def test_spiff_properties_win_and_conflicts_are_reported():
    node = element(f"""<definitions xmlns="{BPMN}" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
        xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">
      <userTask id="t"><extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="stage.color" value="#111111"/>
        </spiffworkflow:properties>
        <camunda:properties><camunda:property name="stage.color" value="#222222"/>
          <camunda:property name="stage.icon" value="bug"/></camunda:properties>
      </extensionElements></userTask></definitions>""", "t")
    props, conflicts = task_properties(node)
    assert props == {"stage.color": "#111111", "stage.icon": "bug"}
    assert conflicts == [("stage.color", "#111111", "#222222")]


def test_camunda_form_key_naming_a_json_file_is_the_form():
    node = element(f"""<definitions xmlns="{BPMN}" xmlns:camunda="http://camunda.org/schema/1.0/bpmn">
      <userTask id="t" camunda:formKey="deployment:forms/triage.json"/>
      <userTask id="u" camunda:formKey="embedded:app:forms/x.html"/></definitions>""", "t")
    assert task_properties(node)[0] == {"form": "triage.json"}
    assert task_properties(node.getnext())[0] == {}


@pytest.mark.parametrize("text,literal", [
    ("PT4H", True), ("P1D", True), ("P1Y2M10DT2H30M", True), ("R3/PT10M", True),
    ("R/P1D", True), ("2025-01-31", True), ("2025-01-31T09:00:00Z", True),
    ("2025-01-31T09:00:00+03:00", True), ("P", False), ("PT", False),
    ('sla_due("resolution")', False), ('"PT4H"', False), ("timedelta(hours=4)", False),
])
def test_iso_literals(text, literal):
    assert is_iso_literal(text) is literal
    expected = f'"{text}"' if literal else text
    assert normalize_timer_expression(text) == expected


def test_timer_literals_are_quoted_and_expressions_kept():
    parser = parsed("camunda_incident.bpmn")
    sla = task_spec(parser, "incident_camunda", "Event_SlaBreached")
    assert sla.event_definition.expression == '"PT4H"'
    parser = parsed("spiff_request.bpmn", "approval.bpmn")
    sla = task_spec(parser, "service_request", "Event_sla")
    assert sla.event_definition.expression == 'sla_due("response")'


def test_camunda_form_data_becomes_a_form_spec():
    tree = parse_xml((DATA / "camunda_incident.bpmn").read_bytes(), "camunda_incident.bpmn")
    task = tree.getroot().xpath("//bpmn:userTask[@id='Task_Triage']", namespaces=NS)[0]
    spec, problems = convert_form_data(task, "camunda_incident.bpmn")
    assert problems == []
    assert form_name("Task_Triage") == "Task_Triage.form.json"
    assert spec["title"] == "Classify the ticket"
    fields = spec["schema"]["properties"]
    assert fields["category"] == {"type": "string", "title": "Type", "enum": ["incident", "service_request"],
                                  "enumNames": ["Incident", "Service request"], "default": "incident"}
    assert fields["impact"] == {"type": "integer", "title": "Impact", "default": 2, "minimum": 1,
                                "maximum": 3}
    assert fields["summary"]["minLength"] == 5 and fields["summary"]["maxLength"] == 200
    assert fields["vip"] == {"type": "boolean", "title": "VIP requester", "default": False}
    assert fields["noticed_on"] == {"type": "string", "format": "date", "title": "Noticed on"}
    assert spec["schema"]["required"] == ["impact", "summary"]
    assert spec["ui"] == {"order": ["category", "impact", "summary", "vip", "noticed_on"],
                          "vip": {"readonly": True}}
    assert form_problems(spec, "Task_Triage.form.json") == []


def test_camunda_form_data_problems_name_the_task_and_the_field():
    node = element(f"""<definitions xmlns="{BPMN}" xmlns:camunda="http://camunda.org/schema/1.0/bpmn">
      <userTask id="t" name="Triage"><extensionElements><camunda:formData>
        <camunda:formField id="a" type="customType"/>
        <camunda:formField id="b" type="long"><camunda:validation>
          <camunda:constraint name="min" config="one"/>
          <camunda:constraint name="validator" config="x"/></camunda:validation></camunda:formField>
        <camunda:formField id="my field" type="string"/>
        <camunda:formField id="b" type="string"/>
        <camunda:formField id="c" type="enum"/>
        <camunda:formField id="d" type="boolean" defaultValue="maybe"/>
        <camunda:formField id="e" type="string" defaultValue="${{initiator}}"/>
      </camunda:formData></extensionElements></userTask></definitions>""", "t")
    spec, problems = convert_form_data(node, "x.bpmn")
    assert [(p.code, p.params["field"]) for p in problems] == [
        ("camunda_form.bad_type", "a"), ("camunda_form.bad_constraint", "b"),
        ("camunda_form.unknown_constraint", "b"), ("camunda_form.bad_id", "my field"),
        ("camunda_form.duplicate_field", "b"), ("camunda_form.no_values", "c"),
        ("camunda_form.bad_default", "d")]
    assert all(p.element_id == "t" and p.element_name == "Triage" and p.line for p in problems)
    assert "default" not in spec["schema"]["properties"]["e"]  # expressions are not defaults


def test_business_rule_task_with_camunda_decision_ref_and_a_dmn_file():
    parser = StagedeskParser()
    parser.add_dmn_xml(parse_xml((DATA / "priority.dmn").read_bytes(), "priority.dmn"), "priority.dmn")
    xml = f"""<definitions xmlns="{BPMN}" xmlns:camunda="http://camunda.org/schema/1.0/bpmn">
      <process id="p" isExecutable="true">
        <startEvent id="s"/><businessRuleTask id="b" camunda:decisionRef="priority_matrix"/>
        <endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="b"/><sequenceFlow id="f2" sourceRef="b" targetRef="e"/>
      </process></definitions>"""
    parser.add_bpmn_xml(parse_xml(xml.encode(), "p.bpmn"), filename="p.bpmn")
    assert parser.get_spec("p").task_specs["b"].dmnEngine.decision_table.id == "DecisionTable_priority"


def test_data_stores_do_not_abort_the_file():
    xml = f"""<definitions xmlns="{BPMN}"><dataStore id="ds" name="CMDB"/>
      <process id="p" isExecutable="true"><startEvent id="s"/></process></definitions>"""
    parser = StagedeskParser()
    parser.add_bpmn_xml(parse_xml(xml.encode(), "p.bpmn"), filename="p.bpmn")
    assert "s" in parser.get_spec("p").task_specs


def test_every_bpmn_parser_class_is_extended():
    for tag, (parser_class, _spec) in StagedeskParser.OVERRIDE_PARSER_CLASSES.items():
        assert parser_class.__name__.startswith("Stagedesk"), etree.QName(tag).localname
