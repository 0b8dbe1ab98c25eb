"""The shipped process library (``bpmn/`` + ``forms/``): structure and layout.

Every diagram is schema-valid BPMN, parses with SpiffWorkflow's ``SpiffBpmnParser``, has a
stage with all five properties on every user task, known lanes, a sane BPMN DI layout and
forms in the documented format.  The scenarios are in ``test_shipped_scenarios.py``; see
``bpmn/README.md``.
"""
from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

ROOT = Path(__file__).resolve().parents[2]
BPMN_DIR = ROOT / "bpmn"
FORMS_DIR = ROOT / "forms"
DIAGRAMS = sorted(BPMN_DIR.glob("*.bpmn"))
FORMS = sorted(FORMS_DIR.glob("*.json"))
PROCESSES = {"incident", "escalation", "service_request", "approval", "subtask"}

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
STAGE_PROPERTIES = ("stage.color", "stage.background", "stage.icon", "stage.state", "form")
STATES = {"new", "open", "in_progress", "waiting", "resolved", "closed", "cancelled"}
LANES = {"Line 1", "Line 2", "Line 3", "Vendor", "Requester", "Approvers"}
COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
#: Bootstrap Icons names the library uses, each checked against bootstrap-icons 1.13.2;
#: a new icon goes here after the same check (or is found in node_modules, see below)
KNOWN_ICONS = {"headset", "tags", "signpost-split", "wrench", "person-check", "search", "tools",
               "hourglass-split", "mortarboard", "check2-circle", "star", "arrow-up-circle",
               "building", "patch-check", "list-check", "cart-check", "kanban", "clipboard-check"}
ICONS_DIR = ROOT / "node_modules" / "bootstrap-icons" / "icons"
ICONS_CSS = ROOT / "app" / "static" / "vendor" / "bootstrap-icons" / "bootstrap-icons.min.css"
FIELD_TYPES = {"string", "number", "integer", "boolean", "array"}
FIELD_FORMATS = {"date", "date-time", "file", "user", "group"}
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
FLOW_NODE_TAGS = ("startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent",
                  "boundaryEvent", "userTask", "scriptTask", "callActivity", "exclusiveGateway",
                  "parallelGateway", "inclusiveGateway", "task", "manualTask", "serviceTask",
                  "sendTask", "receiveTask", "businessRuleTask", "subProcess", "eventBasedGateway")


def _xml_parser():
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _tree(path: Path):
    return etree.parse(str(path), _xml_parser())


@pytest.fixture(scope="module")
def parser():
    p = SpiffBpmnParser()
    for path in DIAGRAMS:
        p.add_bpmn_xml(_tree(path), filename=path.name)
    return p


@pytest.fixture(scope="module")
def trees():
    return {path.stem: _tree(path) for path in DIAGRAMS}


def _user_tasks(tree):
    return tree.getroot().xpath(".//bpmn:process//bpmn:userTask", namespaces=NS)


def _properties(task):
    return {p.get("name"): p.get("value") for p in task.xpath(
        "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS)}


def _icon_exists(icon: str) -> bool:
    """Against the installed bootstrap-icons when there, else the checked list above."""
    if ICONS_DIR.is_dir():
        return (ICONS_DIR / f"{icon}.svg").is_file()
    if ICONS_CSS.is_file():
        return f".bi-{icon}::before" in ICONS_CSS.read_text(encoding="utf-8")
    return icon in KNOWN_ICONS


def _luminance(color: str) -> float:
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# --- files, schema, parsing ---------------------------------------------------------------


def test_the_library_is_complete(parser):
    assert {p.stem for p in DIAGRAMS} == PROCESSES
    assert set(parser.get_process_ids()) == PROCESSES
    assert set(parser.get_subprocess_specs("incident")) == {"escalation"}
    assert set(parser.get_subprocess_specs("service_request")) == {"approval"}


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_diagram_is_schema_valid(path):
    """BPMN 2.0 XSD (with DI) plus SpiffWorkflow's extension schema."""
    SpiffBpmnParser(validator=VALIDATOR).add_bpmn_xml(_tree(path), filename=path.name)


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_one_executable_process_per_file_named_after_it(path):
    processes = _tree(path).getroot().xpath("./bpmn:process", namespaces=NS)
    assert [p.get("id") for p in processes] == [path.stem]
    assert processes[0].get("isExecutable") == "true"


def test_compile_bundle_accepts_the_library():
    from workflows import bundle
    files = {p.name: p.read_bytes() for p in DIAGRAMS + FORMS}
    try:
        compiled = bundle.compile_bundle(files)
    except bundle.BundleInvalid as exc:
        pytest.fail("\n".join(str(p.to_dict()) for p in exc.problems))
    assert set(compiled.processes) == PROCESSES
    assert set(compiled.forms) == {p.name for p in FORMS}


# --- stages -------------------------------------------------------------------------------


def _all_stages(trees):
    for name, tree in sorted(trees.items()):
        for task in _user_tasks(tree):
            yield name, task, _properties(task)


def test_every_user_task_is_a_complete_stage(trees):
    problems = []
    for name, task, props in _all_stages(trees):
        where = f"{name}:{task.get('id')}"
        missing = [p for p in STAGE_PROPERTIES if not props.get(p)]
        if missing:
            problems.append(f"{where} misses {missing}")
            continue
        for key in ("stage.color", "stage.background"):
            if not COLOR.match(props[key]):
                problems.append(f"{where} {key}={props[key]!r}")
        if COLOR.match(props["stage.color"]) and COLOR.match(props["stage.background"]):
            ratio = _contrast(props["stage.color"], props["stage.background"])
            if ratio < 4.5:
                problems.append(f"{where} contrast {ratio:.2f} < 4.5")
        if props["stage.state"] not in STATES:
            problems.append(f"{where} state {props['stage.state']!r}")
        icon = props["stage.icon"]
        if not _icon_exists(icon):
            problems.append(f"{where} unknown icon {icon!r}")
        if not (FORMS_DIR / props["form"]).is_file():
            problems.append(f"{where} form {props['form']} missing")
        if not task.get("name"):
            problems.append(f"{where} has no name")
        unknown = set(props) - set(STAGE_PROPERTIES) - {"assignee"}
        if unknown:
            problems.append(f"{where} unknown properties {unknown}")
        if "assignee" in props:
            compile(props["assignee"], where, "eval")
    assert not problems, "\n".join(problems)


def test_assignee_expressions_pass_the_sandbox(trees):
    from workflows import sandbox
    for name, task, props in _all_stages(trees):
        if "assignee" in props:
            assert sandbox.check_source(props["assignee"], "eval") == [], (name, task.get("id"))


def test_spiff_reads_the_stage_properties(parser):
    """What the app reads: ``task_spec.extensions['properties']`` and ``task_spec.lane``."""
    seen = 0
    for pid in PROCESSES:
        for spec in parser.get_spec(pid).task_specs.values():
            if type(spec).__name__ == "UserTask":
                props = spec.extensions.get("properties", {})
                assert set(STAGE_PROPERTIES) <= set(props), (pid, spec.bpmn_id)
                assert spec.lane in LANES, (pid, spec.bpmn_id, spec.lane)
                seen += 1
    assert seen >= 18


def test_lanes_are_support_groups_and_hold_every_node(trees):
    for name, tree in trees.items():
        process = tree.getroot().find("bpmn:process", NS)
        lanes = process.xpath("./bpmn:laneSet/bpmn:lane", namespaces=NS)
        assert lanes, name
        assert {lane.get("name") for lane in lanes} <= LANES, name
        in_lanes = [ref.text for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)]
        nodes = [e.get("id") for tag in FLOW_NODE_TAGS for e in process.findall(f"bpmn:{tag}", NS)]
        assert sorted(in_lanes) == sorted(nodes), name


def test_merges_are_exclusive_gateways_and_nothing_runs_in_parallel(trees):
    """Loops stay simple: paths only meet at exclusive gateways; no parallel branches."""
    for name, tree in trees.items():
        process = tree.getroot().find("bpmn:process", NS)
        assert not process.xpath("./bpmn:parallelGateway|./bpmn:inclusiveGateway"
                                 "|./bpmn:eventBasedGateway", namespaces=NS), name
        incoming: dict[str, int] = {}
        for flow in process.findall("bpmn:sequenceFlow", NS):
            incoming[flow.get("targetRef")] = incoming.get(flow.get("targetRef"), 0) + 1
        for node_id, count in incoming.items():
            if count > 1:
                node = process.xpath(f"./*[@id='{node_id}']")[0]
                assert etree.QName(node).localname == "exclusiveGateway", (name, node_id)


def test_messages(trees):
    root = trees["incident"].getroot()
    messages = {m.get("id"): m.get("name") for m in root.findall("bpmn:message", NS)}
    assert messages == {"requester_reply": "requester_reply", "notify_requester": "notify_requester"}
    boundaries = root.xpath(".//bpmn:boundaryEvent", namespaces=NS)
    assert {b.get("attachedToRef") for b in boundaries} == {"wait_identify", "wait_resolve"}
    for boundary in boundaries:
        assert boundary.get("cancelActivity") == "true"
        definition = boundary.find("bpmn:messageEventDefinition", NS)
        assert definition.get("messageRef") == "requester_reply"
        waiting = root.xpath(f".//bpmn:userTask[@id='{boundary.get('attachedToRef')}']",
                             namespaces=NS)[0]
        assert _properties(waiting)["stage.state"] == "waiting"
        assert waiting.get("name") == "Waiting for the requester"
    for name, tree in trees.items():
        for throw in tree.getroot().xpath(".//bpmn:intermediateThrowEvent", namespaces=NS):
            definition = throw.find("bpmn:messageEventDefinition", NS)
            assert definition.get("messageRef") == "notify_requester", (name, throw.get("id"))
            payload = definition.find("bpmn:extensionElements/spiffworkflow:messagePayload", NS)
            assert '"template"' in payload.text


# --- forms ----------------------------------------------------------------------------------


def _bilingual(value, where):
    assert isinstance(value, dict) and set(value) >= {"en", "ru"}, where
    assert value["en"].strip() and CYRILLIC.search(value["ru"]), where


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.name)
def test_form_spec(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert set(doc) == {"title", "schema", "ui"}
    _bilingual(doc["title"], path.name)
    schema = doc["schema"]
    assert schema["type"] == "object"
    fields = schema["properties"]
    assert fields
    assert set(schema.get("required", [])) <= set(fields)
    assert doc["ui"]["order"] == list(fields)
    if "description" in schema:
        _bilingual(schema["description"], path.name)
    for name, field in fields.items():
        where = f"{path.name}:{name}"
        assert field["type"] in FIELD_TYPES, where
        assert field.get("format", "date") in FIELD_FORMATS, where
        _bilingual(field["title"], where)
        if "description" in field:
            _bilingual(field["description"], where)
        free_text = "enum" not in field and field.get("format") not in ("date", "date-time", "file")
        if field["type"] == "string" and free_text:
            assert 0 < field["maxLength"] <= 10000, where
        if field["type"] in ("integer", "number"):
            assert field["minimum"] <= field["maximum"], where
        if field["type"] == "boolean":
            assert name not in schema.get("required", []), f"{where}: a checkbox is never required"
            assert field.get("default") is False, where
        if "enum" in field:
            assert set(field["enumNames"]) >= {"en", "ru"}, where
            for names in field["enumNames"].values():
                assert len(names) == len(field["enum"]), where
            if field["type"] == "integer":
                assert all(field["minimum"] <= v <= field["maximum"] for v in field["enum"]), where
        widget = doc["ui"].get(name, {}).get("widget")
        assert widget in (None, "textarea"), where
        if widget:
            assert field["type"] == "string", where


def test_every_form_is_used(trees):
    used = {props["form"] for _, _, props in _all_stages(trees)}
    assert used == {p.name for p in FORMS}


def test_forms_pass_the_projects_form_checker():
    from workflows import form_specs
    forms, problems = form_specs.read_forms({p.name: p.read_bytes() for p in FORMS}, {})
    assert problems == []
    assert set(forms) == {p.name for p in FORMS}


# --- layout (BPMN DI) -----------------------------------------------------------------------


def _bounds(shape):
    b = shape.find("dc:Bounds", NS)
    return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def _inside(inner, outer, slack=0.0):
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return x >= ox - slack and y >= oy - slack and x + w <= ox + ow + slack and y + h <= oy + oh + slack


def _overlap(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _on_border(point, box, slack=1.0):
    x, y = point
    bx, by, bw, bh = box
    inside = bx - slack <= x <= bx + bw + slack and by - slack <= y <= by + bh + slack
    near = min(abs(x - bx), abs(x - bx - bw), abs(y - by), abs(y - by - bh)) <= slack
    return inside and near


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_layout(trees, name):
    root = trees[name].getroot()
    process = root.find("bpmn:process", NS)
    collaboration = root.find("bpmn:collaboration", NS)
    participant = collaboration.find("bpmn:participant", NS)
    assert participant.get("processRef") == name
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == collaboration.get("id")
    shapes = {s.get("bpmnElement"): s for s in plane.findall("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in plane.findall("bpmndi:BPMNEdge", NS)}
    pool = _bounds(shapes[participant.get("id")])
    assert shapes[participant.get("id")].get("isHorizontal") == "true"

    lanes = process.xpath("./bpmn:laneSet/bpmn:lane", namespaces=NS)
    lane_boxes = {}
    for lane in lanes:
        shape = shapes[lane.get("id")]
        assert shape.get("isHorizontal") == "true"
        box = lane_boxes[lane.get("id")] = _bounds(shape)
        assert _inside(box, pool)
        assert box[0] >= pool[0] + 20, "a band for the pool's name"
    ordered = sorted(lane_boxes.values(), key=lambda b: b[1])
    for upper, lower in zip(ordered, ordered[1:]):
        assert upper[1] + upper[3] == lower[1] and upper[0] == lower[0] and upper[2] == lower[2]
    assert ordered[0][1] == pool[1] and ordered[-1][1] + ordered[-1][3] == pool[1] + pool[3]

    lane_of = {ref.text: lane.get("id") for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)}
    nodes = {e.get("id"): e for tag in FLOW_NODE_TAGS for e in process.findall(f"bpmn:{tag}", NS)}
    boxes = {}
    for node_id, node in nodes.items():
        assert node_id in shapes, f"{node_id} has no shape"
        box = boxes[node_id] = _bounds(shapes[node_id])
        if etree.QName(node).localname == "boundaryEvent":
            host = _bounds(shapes[node.get("attachedToRef")])
            assert _overlap(box, host), f"{node_id} sits on its host's border"
        else:
            assert _inside(box, lane_boxes[lane_of[node_id]]), f"{node_id} outside its lane"
    plain = [n for n in boxes if etree.QName(nodes[n]).localname != "boundaryEvent"]
    for a, b in combinations(plain, 2):
        assert not _overlap(boxes[a], boxes[b]), f"{a} overlaps {b}"

    for flow in process.findall("bpmn:sequenceFlow", NS):
        edge = edges[flow.get("id")]
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.findall("di:waypoint", NS)]
        assert len(points) >= 2
        assert _on_border(points[0], boxes[flow.get("sourceRef")]), flow.get("id")
        assert _on_border(points[-1], boxes[flow.get("targetRef")]), flow.get("id")
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            assert x0 == x1 or y0 == y1, f"{flow.get('id')} is not orthogonal"
            assert _inside((min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)), pool)
