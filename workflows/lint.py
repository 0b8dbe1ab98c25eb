"""Lint uploaded diagrams: report EVERY problem at once, each pinned to an element.

``lint_bpmn`` checks what SpiffWorkflow's parser would reject (and what it would silently get
wrong) on our safe-parsed tree, so each problem names the element, its line and what to
change.  SpiffWorkflow itself then parses only the processes found clean (see
``workflows.specs``): its parser stops at the first error and loops forever on some broken
data references, so it must never see what we already know is wrong.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from .lint_expressions import (code_problems, expression_problems, message_payload_problems,
                               property_problems)
from .lint_messages import element_label, local_name, make_problem
from .parser import BPMN_NS, NSMAP, StagedeskParser, decision_ref
from .types import CompiledProcess, Problem

FLOW_NODES = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "implicitThrowEvent", "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask",
    "receiveTask", "businessRuleTask", "subProcess", "transaction", "adHocSubProcess", "callActivity",
    "callChoreography", "choreographyTask", "subChoreography", "exclusiveGateway", "inclusiveGateway",
    "parallelGateway", "complexGateway", "eventBasedGateway",
})
SUPPORTED = frozenset(etree.QName(tag).localname for tag in StagedeskParser.OVERRIDE_PARSER_CLASSES)
SCOPES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
ACTIVITIES = frozenset({"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask",
                        "receiveTask", "businessRuleTask", "callActivity"}) | SCOPES
MULTIPLE_OUTGOING = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway",
                               "eventBasedGateway", "startEvent"})
CONDITIONAL_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
#: event definitions SpiffWorkflow's event parsers read, per event type
EVENT_TRIGGERS = {
    "startEvent": ("message", "signal", "timer", "conditional"),
    "endEvent": ("message", "cancel", "error", "escalation", "terminate"),
    "intermediateCatchEvent": ("message", "signal", "timer", "conditional"),
    "intermediateThrowEvent": ("message", "signal", "escalation"),
    "boundaryEvent": ("timer", "message", "signal", "error", "escalation", "conditional", "cancel"),
}
REF_KINDS = {"signalEventDefinition": ("signalRef", "signal"),
             "errorEventDefinition": ("errorRef", "error"),
             "escalationEventDefinition": ("escalationRef", "escalation")}
_OLD_BPMN = re.compile(r"BPMN", re.I)


@dataclass
class LintContext:
    """What a diagram may refer to: the rest of the bundle, and what the caller resolves."""

    processes: dict[str, tuple[str, bool]] = field(default_factory=dict)  # id -> (file, executable)
    decisions: set[str] = field(default_factory=set)
    forms: set[str] = field(default_factory=set)
    resolve_process: Callable[[str], CompiledProcess | None] = lambda pid: None
    resolve_form: Callable[[str], dict | None] = lambda name: None
    _known: dict = field(default_factory=dict)

    def form_exists(self, name: str) -> bool:
        if name in self.forms:
            return True
        key = ("form", name)
        if key not in self._known:
            self._known[key] = self.resolve_form(name) is not None
        return self._known[key]

    def process_resolvable(self, process_id: str) -> bool:
        key = ("process", process_id)
        if key not in self._known:
            self._known[key] = self.resolve_process(process_id) is not None
        return self._known[key]


@dataclass
class LintResult:
    problems: list[Problem]
    executable: list[str]          # ids of the executable processes of the file
    dirty: set[str]                # executable processes with at least one problem


def _root_looks_like(root, filename: str, expected: str) -> Problem | None:
    qname = etree.QName(root)
    namespace, local = qname.namespace or "", qname.localname
    is_dmn = local == "definitions" and "omg.org/spec/DMN/" in namespace
    if expected == "bpmn":
        if namespace == BPMN_NS and local == "definitions":
            return None
        if is_dmn:
            return make_problem("xml.is_dmn", filename, line=root.sourceline)
    else:
        if is_dmn:
            return None
        if namespace == BPMN_NS and local == "definitions":
            return make_problem("xml.is_bpmn_not_dmn", filename, line=root.sourceline)
    if local.lower() == "svg" or namespace == "http://www.w3.org/2000/svg":
        return make_problem("xml.is_svg", filename, line=root.sourceline)
    if local.lower() == "html":
        return make_problem("xml.is_html", filename, line=root.sourceline)
    if expected == "bpmn" and local == "definitions" and _OLD_BPMN.search(namespace):
        return make_problem("xml.old_bpmn_namespace", filename, line=root.sourceline,
                            namespace=namespace)
    code = "xml.not_bpmn" if expected == "bpmn" else "xml.not_dmn"
    return make_problem(code, filename, line=root.sourceline, root=local,
                        namespace=namespace or "none")


def root_problem(tree, filename: str, expected: str) -> Problem | None:
    """A problem if the document is not a BPMN (``expected='bpmn'``) or DMN (``'dmn'``) file."""
    return _root_looks_like(tree.getroot(), filename, expected)


def is_dmn(tree) -> bool:
    root = tree.getroot()
    return local_name(root) == "definitions" and "omg.org/spec/DMN/" in (etree.QName(root).namespace or "")


def _bpmn(element) -> str | None:
    """Local name of a BPMN-namespace element, else None."""
    if not isinstance(element.tag, str):
        return None
    qname = etree.QName(element)
    return qname.localname if qname.namespace == BPMN_NS else None


def _xp(element, path: str) -> list:
    return element.xpath(path, namespaces=NSMAP)


class _FileLinter:
    def __init__(self, tree, filename: str, ctx: LintContext):
        self.root = tree.getroot()
        self.filename = filename
        self.ctx = ctx
        self.problems: list[Problem] = []
        self.ids: dict[str, object] = {}
        self.by_kind: dict[str, dict[str, object]] = defaultdict(dict)
        for element in self.root.iter():
            kind = _bpmn(element)
            element_id = element.get("id")
            if kind is None or element_id is None:
                continue
            if element_id in self.ids:
                self.add("bpmn.duplicate_id", element, id=element_id,
                         other_line=self.ids[element_id].sourceline)
                continue
            self.ids[element_id] = element
            self.by_kind[kind][element_id] = element

    def add(self, code: str, element=None, **params) -> None:
        self.problems.append(make_problem(code, self.filename, element, **params))

    # --- per element ---------------------------------------------------------------------------

    def message_ref(self, ref: str | None, node) -> None:
        if ref:
            message = self.by_kind["message"].get(ref)
            if message is None:
                self.add("ref.unknown", node, kind="message", ref=ref)
            elif not (message.get("name") or "").strip():
                self.add("message.no_name", node)
        elif not (node.get("name") or "").strip():
            self.add("message.no_name", node)

    def event(self, node, kind: str) -> None:
        triggers = [c for c in node if (_bpmn(c) or "").endswith("EventDefinition")
                    or _bpmn(c) == "eventDefinitionRef"]
        allowed = EVENT_TRIGGERS.get(kind, ())
        for trigger in triggers:
            short = _bpmn(trigger).replace("EventDefinition", "")
            if short not in allowed:
                self.add("event.unsupported_definition", node, kind=kind, definition=_bpmn(trigger),
                         allowed=", ".join(allowed))
            elif short == "message":
                self.message_ref(trigger.get("messageRef"), node)
            elif _bpmn(trigger) in REF_KINDS:
                attribute, ref_kind = REF_KINDS[_bpmn(trigger)]
                ref = trigger.get(attribute)
                if ref and ref not in self.by_kind[ref_kind]:
                    self.add("ref.unknown", node, kind=ref_kind, ref=ref)
        if kind == "boundaryEvent" and not triggers:
            self.add("event.boundary_without_definition", node)

    def activity(self, node, kind: str) -> None:
        if kind == "serviceTask" and not _xp(node, "./bpmn:extensionElements/spiffworkflow:serviceTaskOperator"):
            self.add("service.no_operator", node)
        elif kind == "businessRuleTask":
            decision = decision_ref(node)
            if not decision:
                self.add("decision.not_named", node)
            elif decision not in self.ctx.decisions:
                self.add("decision.unknown", node, decision=decision)
        elif kind == "callActivity":
            called = (node.get("calledElement") or "").strip()
            if not called:
                self.add("call.no_called_element", node)
            elif called in self.ctx.processes:
                if not self.ctx.processes[called][1]:
                    self.add("call.not_executable", node, called=called)
            elif not self.ctx.process_resolvable(called):
                self.add("call.unknown", node, called=called)
        elif kind in ("sendTask", "receiveTask"):
            if node.get("messageRef") is not None:
                self.message_ref(node.get("messageRef"), node)
            for trigger in _xp(node, "./bpmn:messageEventDefinition"):
                self.message_ref(trigger.get("messageRef"), node)

    def data_refs(self, node, scopes: list) -> None:
        refs = _xp(node, "./bpmn:dataInputAssociation/bpmn:sourceRef") + \
            _xp(node, "./bpmn:dataOutputAssociation/bpmn:targetRef")
        # SpiffWorkflow looks for a data object in the task's own scope and its direct parent
        # only (and loops forever when it is further out).
        visible = {obj.get("id") for scope in scopes[-2:] for obj in _xp(scope, "./bpmn:dataObject")}
        outer = {obj.get("id") for scope in scopes[:-2] for obj in _xp(scope, "./bpmn:dataObject")}
        for ref in refs:
            target = self.ids.get((ref.text or "").strip())
            kind = _bpmn(target) if target is not None else None
            shown = element_label(target) if target is not None else (ref.text or "").strip()
            if kind == "dataStoreReference":
                continue  # reported once, on the reference itself
            if kind == "dataObjectReference" and target.get("dataObjectRef") in outer:
                self.add("data.too_far", node, ref=shown)
            elif kind != "dataObjectReference" or target.get("dataObjectRef") not in visible:
                self.add("data.unresolved", node, ref=shown)

    # --- scopes ------------------------------------------------------------------------------------

    def scope(self, scope, scopes: list) -> None:
        scope_kind = _bpmn(scope)
        children = [c for c in scope if _bpmn(c) is not None]
        nodes: dict[str, object] = {}
        for child in children:
            kind = _bpmn(child)
            if kind in FLOW_NODES or kind == "sequenceFlow":
                if not child.get("id"):
                    self.add("element.no_id", child, tag=kind)
                elif kind in FLOW_NODES:
                    nodes.setdefault(child.get("id"), child)  # duplicates: reported in __init__
            elif kind == "dataStoreReference":
                self.add("data_store.unsupported", child)
        self.scope_events(scope, scope_kind, [n for n in nodes.values() if _bpmn(n) == "startEvent"],
                          [n for n in nodes.values() if _bpmn(n) == "endEvent"])
        outgoing: dict[str, list] = defaultdict(list)
        for flow in (c for c in children if _bpmn(c) == "sequenceFlow"):
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            for ref, missing, unknown in ((source, "flow.no_source", "flow.unknown_source"),
                                          (target, "flow.no_target", "flow.unknown_target")):
                if not ref:
                    self.add(missing, flow)
                elif ref not in nodes:
                    self.add(unknown, flow, ref=ref)
            if source in nodes:
                outgoing[source].append(flow)
            self.problems.extend(code_problems(flow, self.filename))
        for node_id, node in nodes.items():
            self.node(node, _bpmn(node), outgoing.get(node_id, []), nodes, scopes)

    def scope_events(self, scope, kind: str, starts: list, ends: list) -> None:
        if kind == "process":
            if not starts:
                self.add("process.no_start", scope, process=element_label(scope))
        elif kind == "adHocSubProcess":
            if starts or ends:
                self.add("adhoc.events", scope)
            if scope.get("ordering") == "Sequential":
                self.add("adhoc.sequential", scope)
        else:
            if len(starts) != 1:
                self.add("subprocess.start_count", scope, count=len(starts))
            if not ends:
                self.add("subprocess.no_end", scope)

    def node(self, node, kind: str, outgoing: list, nodes: dict, scopes: list) -> None:
        if kind not in SUPPORTED:
            self.add("element.unsupported", node, kind=kind)
            return
        if len(outgoing) > 1 and kind not in MULTIPLE_OUTGOING:
            self.add("task.multiple_outgoing", node, count=len(outgoing))
        if kind in CONDITIONAL_GATEWAYS:
            default = node.get("default")
            if default and default not in {f.get("id") for f in outgoing}:
                self.add("gateway.bad_default", node, ref=default)
            if len(outgoing) > 1:
                for flow in outgoing:
                    condition = _xp(flow, "./bpmn:conditionExpression")
                    if flow.get("id") != default and not (condition and (condition[0].text or "").strip()):
                        self.add("gateway.missing_condition", flow, gateway=element_label(node))
        else:
            for flow in outgoing:
                if _xp(flow, "./bpmn:conditionExpression"):
                    self.add("flow.condition_not_on_gateway", flow, source=element_label(node))
        if kind.endswith("Event"):
            self.event(node, kind)
        if kind == "boundaryEvent":
            attached = nodes.get(node.get("attachedToRef") or "")
            if attached is None or _bpmn(attached) not in ACTIVITIES:
                self.add("event.boundary_unattached", node, ref=node.get("attachedToRef") or "")
        self.activity(node, kind)
        self.data_refs(node, scopes)
        self.problems.extend(code_problems(node, self.filename))
        self.problems.extend(property_problems(node, self.filename, self.ctx.form_exists))
        if kind in SCOPES:
            self.scope(node, scopes + [node])


def lint_bpmn(tree, filename: str, ctx: LintContext) -> LintResult:
    """Every problem of one BPMN document (already checked to be BPMN, see ``root_problem``)."""
    linter = _FileLinter(tree, filename, ctx)
    processes = _xp(linter.root, "./bpmn:process")
    executable = [p for p in processes if p.get("isExecutable", "true") == "true"]
    if not processes:
        linter.add("bpmn.no_process", linter.root)
    elif not executable:
        linter.add("bpmn.not_executable", processes[0],
                   processes=", ".join(f"'{element_label(p)}'" for p in processes))
    dirty: set[str] = set()
    for process in executable:
        before = len(linter.problems)
        linter.scope(process, [process])
        if len(linter.problems) > before or not process.get("id"):
            dirty.add(process.get("id") or "")
    if any(p.code == "bpmn.duplicate_id" for p in linter.problems):
        dirty.update(p.get("id") or "" for p in executable)  # the engine would mix the elements up
    before = len(linter.problems)
    linter.problems.extend(message_payload_problems(linter.root, filename))
    if len(linter.problems) > before:
        dirty.update(p.get("id") or "" for p in executable)
    return LintResult(linter.problems, [p.get("id") for p in executable if p.get("id")], dirty)


def lint_dmn(tree, filename: str) -> list[Problem]:
    """Problems of one DMN document (already checked to be DMN, see ``root_problem``)."""
    root = tree.getroot()
    ns = {"dmn": etree.QName(root).namespace}
    decisions = root.xpath("./dmn:decision", namespaces=ns)
    if not decisions:
        return [make_problem("dmn.no_decision", filename, root)]
    if len(decisions) > 1:
        return [make_problem("dmn.many_decisions", filename, decisions[1], count=len(decisions))]
    decision = decisions[0]
    if not decision.get("id"):
        return [make_problem("element.no_id", filename, decision, tag="decision")]
    tables = decision.xpath("./dmn:decisionTable", namespaces=ns)
    if not tables:
        return [make_problem("dmn.no_table", filename, decision)]
    problems: list[Problem] = []
    for element in tables[0].xpath("./dmn:input/dmn:inputExpression", namespaces=ns):
        text = element.xpath("./dmn:text", namespaces=ns)
        problems += expression_problems(text[0].text if text else None, "input expression",
                                        element.getparent(), filename, at=element)
    for entry in tables[0].xpath("./dmn:rule/dmn:outputEntry", namespaces=ns):
        text = entry.xpath("./dmn:text", namespaces=ns)
        if text and (text[0].text or "").strip():
            problems += expression_problems(text[0].text, "output entry", entry, filename)
    return problems
