"""Camunda Modeler's generated task forms (``camunda:formData``) as Stagedesk form specs.

Camunda 7 Modeler lets an admin draw a form right in a user task's properties::

    <camunda:formData>
      <camunda:formField id="impact" label="Impact" type="long" defaultValue="2">
        <camunda:validation>
          <camunda:constraint name="required" />
          <camunda:constraint name="min" config="1" />
        </camunda:validation>
      </camunda:formField>
    </camunda:formData>

``convert_form_data`` turns that into our format (forms/README.md); the bundle registers it
as ``<element_id>.form.json`` and the parser points the task's ``form`` property at it.
"""
from __future__ import annotations

import re
from typing import Any

from .lint_messages import make_problem
from .types import Problem

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NSMAP = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": CAMUNDA_NS}

FIELD_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "enum": {"type": "string"},
}
_FIELD_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def form_name(element_id: str) -> str:
    """The name under which the form generated for a user task is registered."""
    return f"{element_id}.form.json"


def form_data_of(task) -> Any:
    """The task's ``camunda:formData`` element, or None."""
    found = task.xpath("./bpmn:extensionElements/camunda:formData", namespaces=NSMAP)
    return found[0] if found else None


def _text_number(value: str | None, integer: bool) -> int | float | None:
    value = (value or "").strip()
    if integer and _INT.match(value):
        return int(value)
    if not integer and _NUMBER.match(value):
        number = float(value)
        return int(number) if number.is_integer() else number
    return None


def _default(value: str, kind: str) -> tuple[bool, Any]:
    if kind == "long":
        number = _text_number(value, integer=True)
        return number is not None, number
    if kind == "boolean":
        if value.strip().lower() in ("true", "false"):
            return True, value.strip().lower() == "true"
        return False, None
    return True, value


def _apply_constraint(name: str, config: str | None, kind: str, schema: dict, ui: dict,
                      required: list[str], field_id: str) -> tuple[str, dict[str, Any]] | None:
    """Apply one ``camunda:constraint``; a (code, params) problem if it cannot be expressed."""
    if name == "required":
        required.append(field_id)
    elif name == "readonly":
        ui["readonly"] = True
    elif name in ("minlength", "maxlength"):
        number = _text_number(config, integer=True)
        if number is None or number < 0:
            return "camunda_form.bad_constraint", {"constraint": name, "expected": "whole number",
                                                   "value": config or ""}
        schema["minLength" if name == "minlength" else "maxLength"] = number
    elif name in ("min", "max"):
        if kind in ("date", "boolean"):  # Camunda compares dates as dd/MM/yyyy text: not expressible
            return None
        number = _text_number(config, integer=(kind == "long"))
        if number is None:
            return "camunda_form.bad_constraint", {
                "constraint": name, "expected": "whole number" if kind == "long" else "number",
                "value": config or ""}
        if kind in ("string", "enum"):
            schema["minLength" if name == "min" else "maxLength"] = int(number)
        else:
            schema["minimum" if name == "min" else "maximum"] = number
    else:
        return "camunda_form.unknown_constraint", {"constraint": name}
    return None


def convert_form_data(task, filename: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The form spec for a user task with ``camunda:formData`` (None if it has none).

    Problems name the user task (element id and line of the form field) and the field.
    """
    form_data = form_data_of(task)
    if form_data is None:
        return None, []
    task_label = " ".join((task.get("name") or task.get("id") or "").split())
    problems: list[Problem] = []
    properties: dict[str, Any] = {}
    ui: dict[str, Any] = {"order": []}
    required: list[str] = []
    for field in form_data.xpath("./camunda:formField", namespaces=NSMAP):
        field_id = field.get("id") or ""
        kind = field.get("type") or "string"

        def problem(code: str, **params: Any) -> None:
            problems.append(make_problem(code, filename, field, element_id=task.get("id"),
                                         element_name=task.get("name"), field=field_id,
                                         name=task_label, **params))

        if not _FIELD_ID.match(field_id):
            problem("camunda_form.bad_id")
            continue
        if field_id in properties:
            problem("camunda_form.duplicate_field")
            continue
        if kind not in FIELD_TYPES:
            problem("camunda_form.bad_type", type=kind)
            continue
        schema: dict[str, Any] = dict(FIELD_TYPES[kind])
        schema["title"] = field.get("label") or field_id
        field_ui: dict[str, Any] = {}
        if kind == "enum":
            values = field.xpath("./camunda:value", namespaces=NSMAP)
            if not values:
                problem("camunda_form.no_values")
                continue
            schema["enum"] = [v.get("id") or "" for v in values]
            schema["enumNames"] = [v.get("name") or v.get("id") or "" for v in values]
        default = field.get("defaultValue")
        if default is not None and not default.strip().startswith(("${", "#{")):
            ok, value = _default(default, kind)
            if not ok:
                problem("camunda_form.bad_default", value=default, type=kind)
            elif kind != "enum" or value in schema["enum"]:
                schema["default"] = value
        for constraint in field.xpath("./camunda:validation/camunda:constraint", namespaces=NSMAP):
            found = _apply_constraint((constraint.get("name") or "").strip().lower(),
                                      constraint.get("config"), kind, schema, field_ui, required,
                                      field_id)
            if found is not None:
                problem(found[0], **found[1])
        properties[field_id] = schema
        ui["order"].append(field_id)
        if field_ui:
            ui[field_id] = field_ui
    spec_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        spec_schema["required"] = sorted(set(required), key=required.index)
    return {"title": task_label, "schema": spec_schema, "ui": ui}, problems
