"""Uploaded form specs (forms/README.md): read, normalize and check them.

Three shapes are accepted and normalized to ``{"title", "schema", "ui"}``:

* our format — ``{"title": ..., "schema": {...}, "ui": {...}}``;
* a plain JSON Schema (the top level has ``properties``);
* spiff-arena pairs ``x-schema.json`` + ``x-uischema.json`` (react-jsonschema-form UI
  schema: ``"ui:order"``, ``{"ui:widget": "textarea"}``), merged into one form named after
  the schema file.
"""
from __future__ import annotations

import json
from numbers import Number
from typing import Any

from .lint_messages import make_problem
from .types import Problem

FIELD_TYPES = ("string", "number", "integer", "boolean", "array")
FIELD_FORMATS = ("date", "date-time", "time", "email", "uri", "file", "user", "group")
TEXT_KEYS = ("title", "description")
NUMBER_KEYS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")
UI_SCHEMA_SUFFIXES = ("-uischema.json", ".uischema.json", "_uischema.json")
#: spiff-arena's process model metadata, shipped in the same folder as its forms
NOT_FORMS = ("process_model.json", "process_group.json")


def is_ui_schema(name: str) -> bool:
    return name.lower().endswith(UI_SCHEMA_SUFFIXES)


def schema_name_for(ui_name: str) -> str:
    """``x-uischema.json`` → ``x-schema.json`` (the spiff-arena naming convention)."""
    lower = ui_name.lower()
    for suffix in UI_SCHEMA_SUFFIXES:
        if lower.endswith(suffix):
            return ui_name[: -len(suffix)] + suffix[0] + "schema.json"
    return ui_name


def load_json(data: bytes, filename: str) -> tuple[Any, list[Problem]]:
    try:
        return json.loads(data.decode("utf-8-sig")), []
    except UnicodeDecodeError:
        return None, [make_problem("form.bad_json", filename, detail="not UTF-8 text", line_number="1")]
    except json.JSONDecodeError as exc:
        return None, [make_problem("form.bad_json", filename, line=exc.lineno, detail=exc.msg,
                                   line_number=exc.lineno)]
    except RecursionError:
        return None, [make_problem("form.bad_json", filename, detail="nested too deeply",
                                   line_number="?")]


def convert_ui_schema(doc: Any) -> Any:
    """A react-jsonschema-form UI schema in our ``ui`` notation (``ui:widget`` → ``widget``)."""
    if isinstance(doc, dict):
        return {(k[3:] if k.startswith("ui:") else k): convert_ui_schema(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [convert_ui_schema(v) for v in doc]
    return doc


def normalize_form(doc: Any, filename: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """``{title, schema, ui}`` from any accepted shape, or the problem why not."""
    if not isinstance(doc, dict):
        return None, [make_problem("form.not_object", filename)]
    if "schema" in doc:
        spec = {"title": doc.get("title") or "", "schema": doc["schema"], "ui": doc.get("ui", {})}
    elif "properties" in doc:
        spec = {"title": doc.get("title") or "", "schema": doc, "ui": {}}
    else:
        return None, [make_problem("form.no_schema", filename)]
    return spec, []


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, dict) and bool(value)
                                      and all(isinstance(v, str) for v in value.values()))


def _field_problems(name: str, field: Any, filename: str) -> list[Problem]:
    def problem(code: str, **params: Any) -> Problem:
        return make_problem(code, filename, element_id=name, element_name=name, field=name, **params)

    if not isinstance(field, dict):
        return [problem("form.field_not_object")]
    problems: list[Problem] = []
    kind = field.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else kind
    if kind == "object":
        return [problem("form.field_nested")]
    if not isinstance(kind, str) or kind not in FIELD_TYPES:
        problems.append(problem("form.field_type", type=json.dumps(kind) if kind is not None else "none"))
    if "format" in field and field["format"] not in FIELD_FORMATS:
        problems.append(problem("form.field_format", format=field["format"],
                                allowed=", ".join(FIELD_FORMATS)))
    choices = field.get("enum")
    if kind == "array":
        items = field.get("items")
        if not isinstance(items, dict) or "enum" not in items:
            problems.append(problem("form.field_array"))
        else:
            choices = items.get("enum")
            if "enumNames" in items and "enumNames" not in field:
                field = {**field, "enumNames": items["enumNames"]}
    if choices is not None or "enum" in field:
        if not isinstance(choices, list) or not choices:
            problems.append(problem("form.field_enum"))
            choices = None
    if "enumNames" in field:
        names = field["enumNames"]
        variants = list(names.values()) if isinstance(names, dict) else [names]
        if choices is None or not variants or any(
                not isinstance(v, list) or len(v) != len(choices) or not all(isinstance(x, str) for x in v)
                for v in variants):
            problems.append(problem("form.field_enum_names", count=len(choices or [])))
    for key in TEXT_KEYS:
        if key in field and not _is_text(field[key]):
            problems.append(problem("form.field_text", key=key))
    for key in NUMBER_KEYS:
        if key in field and (isinstance(field[key], bool) or not isinstance(field[key], Number)):
            problems.append(problem("form.field_number", key=key))
    return problems


def form_problems(spec: dict[str, Any], filename: str) -> list[Problem]:
    """Every problem of a normalized form spec, each naming the field where it is about one."""
    schema = spec.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return [make_problem("form.no_schema", filename)]
    problems: list[Problem] = []
    if schema.get("type") != "object":
        problems.append(make_problem("form.schema_type", filename,
                                     type=json.dumps(schema.get("type"))))
    fields = schema["properties"]
    for name, field in fields.items():
        problems += _field_problems(name, field, filename)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        problems.append(make_problem("form.required_type", filename))
    else:
        problems += [make_problem("form.required_unknown", filename, element_id=r, field=r)
                     for r in required if r not in fields]
    ui = spec.get("ui", {})
    if not isinstance(ui, dict):
        problems.append(make_problem("form.ui_not_object", filename))
    elif isinstance(ui.get("order"), list):
        problems += [make_problem("form.ui_order_unknown", filename, element_id=str(f), field=f)
                     for f in ui["order"] if f != "*" and f not in fields]
    return problems


def read_forms(json_files: dict[str, bytes],
               declared_pairs: dict[str, str]) -> tuple[dict[str, dict], list[Problem]]:
    """Forms by name from uploaded .json files; UI schemas merged into their JSON schema.

    ``declared_pairs`` maps schema file → UI schema file as diagrams name them
    (``spiffworkflow:formJsonSchemaFilename`` / ``formUiSchemaFilename``).
    """
    forms: dict[str, dict] = {}
    problems: list[Problem] = []
    ui_for: dict[str, str] = {}
    declared_ui = set(declared_pairs.values())
    for name in sorted(json_files):
        if is_ui_schema(name) or name in declared_ui:
            schema = next((s for s, u in declared_pairs.items() if u == name), schema_name_for(name))
            if schema in json_files:
                ui_for[schema] = name
            else:
                problems.append(make_problem("form.uischema_orphan", name, ui_file=name, schema=schema))
    ui_files = set(ui_for.values())
    for name in sorted(json_files):
        if name in ui_files or name in NOT_FORMS or (is_ui_schema(name) or name in declared_ui):
            continue
        doc, found = load_json(json_files[name], name)
        spec = None
        if not found:
            spec, found = normalize_form(doc, name)
        if spec is not None and name in ui_for:
            ui_doc, ui_found = load_json(json_files[ui_for[name]], ui_for[name])
            found += ui_found
            if isinstance(ui_doc, dict):
                spec["ui"] = {**convert_ui_schema(ui_doc), **(spec["ui"] if isinstance(spec["ui"], dict) else {})}
            elif not ui_found:
                found.append(make_problem("form.ui_not_object", ui_for[name]))
        if spec is not None:
            found += form_problems(spec, name)
            forms[name] = spec
        problems += found
    return forms, problems
