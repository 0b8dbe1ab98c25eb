"""Stagedesk's BPMN parser: SpiffWorkflow's, extended through its parser registry.

``StagedeskParser`` is ``SpiffBpmnParser`` with every task parser wrapped so that

* ``camunda:properties`` (Camunda Modeler) land in ``task_spec.extensions['properties']``
  next to ``spiffworkflow:properties`` (spiff-arena modeler), so the runner reads one place;
* a user task's form is named in its ``form`` property whichever modeler drew it: explicit
  ``form`` property, spiff-arena's ``spiffworkflow:formJsonSchemaFilename``, Camunda's
  generated form (``camunda:formData`` → ``<element_id>.form.json``, see ``camunda_forms``)
  or a ``camunda:formKey`` naming a ``.json`` file;
* timer expressions that are bare ISO 8601 literals (``PT4H``, ``R3/P1D``, ``2025-01-31``,
  as Camunda Modeler writes them) become Python string literals (``"PT4H"``), because
  SpiffWorkflow evaluates timer expressions as Python;
* business rule tasks accept Camunda's ``camunda:decisionRef`` too;
* data stores without an implementation do not abort the whole file (the linter reports them).

Feed it trees from ``workflows.xmlsafe.parse_xml`` through ``add_bpmn_xml``/``add_dmn_xml``;
never its ``add_bpmn_file``-style methods, which parse without our safeguards.
"""
from __future__ import annotations

import json
import posixpath
import re

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.parser.DMNParser import DMNParser
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser, SpiffTaskParser

from .camunda_forms import CAMUNDA_NS, form_data_of, form_name

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}

_ISO_DURATION = re.compile(r"^-?P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
                           r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")
_ISO_CYCLE = re.compile(r"^R\d*/[0-9PT:.ZRYMWDHS/+-]+$")


def is_iso_literal(text: str) -> bool:
    """Whether ``text`` is a bare ISO 8601 date, duration or repeating interval."""
    text = text.strip()
    return bool(_ISO_DURATION.match(text) or _ISO_DATETIME.match(text) or _ISO_CYCLE.match(text))


def normalize_timer_expression(text: str | None) -> str | None:
    """Quote bare ISO 8601 literals so they evaluate to themselves as Python."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped and is_iso_literal(stripped):
        return json.dumps(stripped)
    return text


def _xpath(node, path: str) -> list:
    return node.xpath(path, namespaces=NSMAP)


def spiff_properties(node) -> dict[str, str]:
    """``spiffworkflow:properties`` of an element (tolerant of missing attributes)."""
    props = {}
    for prop in _xpath(node, "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value") or ""
    return props


def camunda_properties(node) -> dict[str, str]:
    """``camunda:properties`` of an element."""
    props = {}
    for prop in _xpath(node, "./bpmn:extensionElements/camunda:properties/camunda:property"):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value") or ""
    return props


def spiff_extension_text(node, name: str) -> str | None:
    found = _xpath(node, f"./bpmn:extensionElements/spiffworkflow:{name}")
    return found[0].text if found else None


def implied_form(node) -> str | None:
    """The form a user task uses when it has no explicit ``form`` property."""
    if etree.QName(node).localname != "userTask":
        return None
    schema = (spiff_extension_text(node, "formJsonSchemaFilename") or "").strip()
    if schema:
        return schema
    if form_data_of(node) is not None and node.get("id"):
        return form_name(node.get("id"))
    key = (node.get(f"{{{CAMUNDA_NS}}}formKey") or "").strip()
    if key.endswith(".json"):
        return posixpath.basename(key.rsplit(":", 1)[-1])
    return None


def task_properties(node) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The merged stage properties of an element and the conflicting ones.

    ``spiffworkflow:properties`` win over ``camunda:properties``; each conflict is
    ``(name, spiff value, camunda value)`` (the linter reports them).
    """
    props = spiff_properties(node)
    conflicts = []
    for name, value in camunda_properties(node).items():
        if name in props and props[name] != value:
            conflicts.append((name, props[name], value))
        props.setdefault(name, value)
    if "form" not in props:
        form = implied_form(node)
        if form:
            props["form"] = form
    return props, conflicts


def decision_ref(node) -> str | None:
    """The decision a business rule task calls (spiff-arena or Camunda attribute)."""
    ref = spiff_extension_text(node, "calledDecisionId")
    if ref and ref.strip():
        return ref.strip()
    return node.get(f"{{{CAMUNDA_NS}}}decisionRef") or None


class StagedeskExtensionsMixin:
    """Mixed into every task parser class: see the module docstring."""

    def parse_extensions(self, node=None):
        node = self.node if node is None else node
        if isinstance(self, SpiffTaskParser):
            extensions = super().parse_extensions(node)
        else:
            extensions = SpiffTaskParser._parse_extensions(node)
        props, _conflicts = task_properties(node)
        if props:
            extensions["properties"] = props
        elif "properties" in extensions and not extensions["properties"]:
            del extensions["properties"]
        return extensions

    def parse_timer_event(self, event):
        definition = super().parse_timer_event(event)
        definition.expression = normalize_timer_expression(definition.expression)
        return definition


def _wrap(parser_class: type) -> type:
    attrs: dict = {"__module__": __name__}
    if issubclass(parser_class, BusinessRuleTaskParser):
        attrs["get_decision_ref"] = staticmethod(decision_ref)
    return type(f"Stagedesk{parser_class.__name__}", (StagedeskExtensionsMixin, parser_class), attrs)


def _override_classes() -> dict:
    classes = dict(BpmnParser.PARSER_CLASSES)
    classes.update(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
    return {tag: (_wrap(parser_class), spec_class) for tag, (parser_class, spec_class) in classes.items()}


class StagedeskParser(SpiffBpmnParser):
    """``SpiffBpmnParser`` reading Camunda extensions too (no XSD validation: we lint)."""

    OVERRIDE_PARSER_CLASSES = _override_classes()

    def __init__(self):
        super().__init__(validator=None)

    def _add_data_stores(self, bpmn):
        # Data stores need an implementation class; Stagedesk has none.  Skip them here so the
        # rest of the file is still parsed; ``workflows.lint`` reports each one.
        return None

    def add_dmn_xml(self, node, filename=None):
        """Like SpiffWorkflow's, whatever prefix the DMN namespace has in the file."""
        root = node.getroot() if hasattr(node, "getroot") else node
        namespaces = dict(self.namespaces)
        namespaces.update({k: v for k, v in root.nsmap.items() if k})
        namespaces["dmn"] = etree.QName(root).namespace
        dmn_parser = DMNParser(self, root, namespaces, filename=filename)
        decision_id = dmn_parser.bpmn_id
        if decision_id in self.dmn_parsers:
            raise ValidationException(f"Duplicate decision id: {decision_id}", node=root,
                                      file_name=filename)
        self.dmn_parsers[decision_id] = dmn_parser
        self.dmn_parsers_by_name[dmn_parser.get_name()] = dmn_parser
        return dmn_parser
