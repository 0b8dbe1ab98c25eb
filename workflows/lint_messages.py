"""Message templates of the problems the linter reports.

Every ``Problem`` the engine layer produces carries a ``code`` (a key of ``MESSAGES``) and
``params``; its English ``message`` is ``MESSAGES[code].format(**params)``.  The app can
translate by keeping its own table of the same codes.  Parameters are plain strings.

Every template (and every word of ``EXPRESSION_KINDS``) is wrapped in the no-op ``N_`` so that
``pybabel extract -k N_`` puts it in the app's catalog (babel.cfg) without this package
importing Flask; the app translates with ``gettext(MESSAGES[code])`` and formats the result
(app/services/lint_i18n.py).  Translations keep the ``{placeholders}`` of the template.
"""
from __future__ import annotations

from typing import Any

from .types import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def N_(message: str) -> str:
    """Mark ``message`` for extraction into the translation catalog; returns it unchanged."""
    return message


MESSAGES: dict[str, str] = {
    # --- files and archives -----------------------------------------------------------
    "file.empty": N_("The file is empty: upload the exported diagram, decision table or form."),
    "file.too_large": N_("The file is {size} bytes, more than the limit of {limit} bytes: remove embedded "
                         "images or documentation, or split it into several diagrams."),
    "file.unsupported_type": N_("Files of this type cannot be deployed: upload .bpmn diagrams, .dmn decision "
                                "tables, .json forms, or a .zip of them."),
    "file.duplicate_name": N_("Two uploaded files are named {name}: rename one (names must be unique in a "
                              "bundle; folders inside a zip do not count)."),
    "bundle.empty": N_("The upload holds no file to deploy: add .bpmn diagrams, .dmn decision tables and "
                       ".json forms, or a .zip of them."),
    "bundle.too_many_files": N_("The upload holds more than {limit} files: deploy fewer files at once."),
    "bundle.no_diagram": N_("The upload holds no BPMN diagram: add the .bpmn file of the process."),
    "zip.corrupt": N_("The zip archive cannot be read: create it again (zip the files, not a link to them)."),
    "zip.too_large": N_("The zip archive unpacks to more than {limit} bytes: it holds too much (or is a zip "
                        "bomb); put only the diagrams and forms in it."),
    "zip.too_many_entries": N_("The zip archive holds {count} entries, more than the limit of {limit}: put "
                               "only the diagrams and forms in it."),
    "zip.unsafe_path": N_("The archive entry {entry} points outside the archive (an absolute path or '..'); "
                          "create the archive again from inside the folder."),
    "zip.encrypted": N_("The archive entry {entry} is encrypted: create the archive without a password."),
    "zip.nested": N_("The archive entry {entry} is itself an archive: unpack it into the main archive."),
    # --- XML -----------------------------------------------------------------------------
    "xml.malformed": N_("The file is not well-formed XML ({detail}, line {line_number}): export it again "
                        "from the modeler, or fix it in a text editor."),
    "xml.entities": N_("The file declares XML entities (<!ENTITY ...>), which are refused for security "
                       "reasons: remove the <!DOCTYPE ...> declaration."),
    "xml.external_dtd": N_("The file refers to an external DTD ({url}), which is refused for security "
                           "reasons: remove the <!DOCTYPE ...> line, BPMN files do not need one."),
    "xml.too_deep": N_("The XML nests elements more than {limit} levels deep: this is not a diagram a "
                       "modeler exports; export it again."),
    "xml.too_many_elements": N_("The XML holds more than {limit} elements: split the diagram into several "
                                "processes linked by call activities."),
    "xml.not_bpmn": N_("This is not a BPMN diagram: its root element is <{root}> in namespace '{namespace}'. "
                       "A BPMN file starts with <bpmn:definitions "
                       "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">; export "
                       "the diagram as BPMN 2.0 XML."),
    "xml.is_dmn": N_("This is a DMN decision table, not a BPMN diagram: give the file the .dmn extension."),
    "xml.is_svg": N_("This is an SVG image of a diagram, not the diagram itself: export or save it as BPMN "
                     "2.0 XML (.bpmn)."),
    "xml.is_html": N_("This is an HTML page, not a BPMN diagram: download the .bpmn file itself."),
    "xml.old_bpmn_namespace": N_("The diagram uses the pre-release BPMN 2.0 namespace '{namespace}': open it "
                                 "in a current modeler and export it as BPMN 2.0 XML."),
    "xml.is_bpmn_not_dmn": N_("This is a BPMN diagram, not a DMN decision table: give the file the .bpmn "
                              "extension."),
    "xml.not_dmn": N_("This is not a DMN decision table: its root element is <{root}> in namespace "
                      "'{namespace}'. Export the decision table as DMN XML."),
    # --- documents and processes --------------------------------------------------------------
    "bpmn.no_process": N_("The diagram holds no process (only a collaboration or drawing): model the "
                          "process itself and export again."),
    "bpmn.not_executable": N_("No process in this diagram is executable ({processes}): mark the process "
                              "Stagedesk should run as executable (isExecutable=\"true\") in the modeler's "
                              "process properties."),
    "bpmn.duplicate_id": N_("The id '{id}' is used by more than one element (also at line {other_line}): "
                            "give each element its own id."),
    "process.duplicate": N_("The process id '{process}' is also used in {other_file}: give each process a "
                            "unique id."),
    "process.no_start": N_("Process '{process}' has no start event: add a start event where the work "
                           "begins."),
    "process.engine_error": N_("The workflow engine cannot read process '{process}' ({error}): check the "
                               "elements of this process for settings Stagedesk does not support."),
    "element.engine_rejected": N_("The workflow engine rejects '{name}': {detail}. Change this element in "
                                  "the modeler."),
    "element.no_id": N_("A <{tag}> element has no id: export the diagram again from the modeler."),
    "element.unsupported": N_("'{name}' is a bpmn:{kind}, which Stagedesk cannot run: replace it with a "
                              "supported element (task, user/script/send/receive task, exclusive, inclusive, "
                              "parallel or event-based gateway, event, sub-process, call activity)."),
    "event.unsupported_definition": N_("'{name}' is a bpmn:{kind} with a bpmn:{definition}, which "
                                       "Stagedesk cannot run: use one of these triggers here: {allowed}."),
    "event.boundary_without_definition": N_("Boundary event '{name}' has no trigger: make it a timer, "
                                            "message, signal, error, escalation or conditional event."),
    "event.boundary_unattached": N_("Boundary event '{name}' is attached to '{ref}', which is not an activity "
                                    "of this process: attach it to a task or sub-process."),
    "subprocess.start_count": N_("Sub-process '{name}' needs exactly one start event inside it (found "
                                 "{count}): expand it in the modeler and model its inside, or make it a task."),
    "subprocess.no_end": N_("Sub-process '{name}' has no end event inside it: add one."),
    "adhoc.events": N_("Ad-hoc sub-process '{name}' contains start or end events, which it may not: "
                       "remove them."),
    "adhoc.sequential": N_("Ad-hoc sub-process '{name}' is sequential, which is not supported: make it "
                           "parallel."),
    "data_store.unsupported": N_("Data store '{name}' cannot be used: Stagedesk keeps data in the ticket's "
                                 "fields; remove the data store and the associations to it."),
    "data.unresolved": N_("'{name}' has a data association to '{ref}', which is not a data object of this "
                          "process: connect it to a data object reference in the same process, or remove it."),
    "data.too_far": N_("'{name}' uses data object '{ref}' of a process level more than one sub-process "
                       "further out, which the engine cannot reach: add the data object to the "
                       "enclosing sub-process instead."),
    # --- sequence flows and gateways ------------------------------------------------------------
    "flow.no_source": N_("Sequence flow '{name}' is not connected at its start: connect both of its ends "
                         "to elements."),
    "flow.no_target": N_("Sequence flow '{name}' is not connected at its end: connect both of its ends to "
                         "elements."),
    "flow.unknown_source": N_("Sequence flow '{name}' starts at '{ref}', which is not an element of the same "
                              "process or sub-process: connect it again."),
    "flow.unknown_target": N_("Sequence flow '{name}' ends at '{ref}', which is not an element of the same "
                              "process or sub-process: connect it again."),
    "task.multiple_outgoing": N_("'{name}' has {count} outgoing sequence flows: add a gateway after it, "
                                 "parallel to take all paths or exclusive to take one."),
    "flow.condition_not_on_gateway": N_("Sequence flow '{name}' has a condition but leaves '{source}', which "
                                        "is not an exclusive or inclusive gateway, so the condition would "
                                        "be ignored: put an exclusive gateway before the flow."),
    "gateway.missing_condition": N_("Sequence flow '{name}' leaving gateway '{gateway}' has no condition: "
                                    "give it a condition, or make it the gateway's default flow."),
    "gateway.bad_default": N_("Gateway '{name}' names '{ref}' as its default flow, but that is not one of "
                              "its outgoing flows: pick the default flow again."),
    # --- scripts and expressions ----------------------------------------------------------------
    "script.missing": N_("Script task '{name}' has no script: write one, or make it a plain task."),
    "script.language": N_("The {what} of '{name}' is written in {language}: Stagedesk runs Python only; "
                          "rewrite it in Python and clear the script format."),
    "expression.invalid": N_("The {what} of '{name}' cannot be used (line {script_line}): {detail}"),
    "expression.empty": N_("The {what} of '{name}' is empty: enter a Python expression."),
    "expression.juel": N_("The {what} of '{name}' is a Camunda expression ({expression}): write it as a "
                          "Python expression instead, e.g. {suggestion}"),
    "expression.feel": N_("The {what} of '{name}' is a FEEL expression ({expression}) as Camunda 8 writes "
                          "them: write it as a Python expression instead."),
    "timer.empty": N_("Timer '{name}' has no time: enter a date, a duration such as \"PT4H\", a cycle, or an "
                      "expression such as sla_due(\"resolution\")."),
    "loop.no_cardinality": N_("Multi-instance '{name}' needs a loop cardinality (how many instances) or an "
                              "input collection (loopDataInputRef); camunda:collection is not read."),
    "loop.both": N_("Multi-instance '{name}' sets both a loop cardinality and an input collection: keep one."),
    "loop.no_condition": N_("Loop '{name}' needs a loop maximum or a loop condition."),
    "service.no_operator": N_("Service task '{name}' has no spiffworkflow:serviceTaskOperator: Stagedesk "
                              "cannot call Java classes, connectors or external workers; use a script task "
                              "or a send task instead."),
    "decision.not_named": N_("Business rule task '{name}' names no decision: set "
                             "spiffworkflow:calledDecisionId (or camunda:decisionRef)."),
    "decision.unknown": N_("Business rule task '{name}' calls decision '{decision}', which is not in this "
                           "upload: upload its .dmn file with the diagram."),
    "dmn.no_decision": N_("The decision file holds no decision: model a decision table and export again."),
    "dmn.no_table": N_("Decision '{name}' has no decision table (literal expressions and other decision "
                       "kinds are not supported): model it as a decision table."),
    "dmn.many_decisions": N_("The decision file holds {count} decisions: put each decision table in its "
                             "own .dmn file."),
    "dmn.engine_rejected": N_("The decision table cannot be read: {detail}. Fix it in the modeler."),
    # --- calls and messages ---------------------------------------------------------------------------
    "call.no_called_element": N_("Call activity '{name}' does not name the process to call: set its "
                                 "called element to a process id."),
    "call.unknown": N_("Call activity '{name}' calls process '{called}', which is neither in this upload nor "
                       "deployed: upload its diagram too, or fix the process id."),
    "call.not_executable": N_("Call activity '{name}' calls process '{called}', which is not executable: mark "
                              "it executable (isExecutable=\"true\") in the modeler's process properties."),
    "ref.unknown": N_("'{name}' refers to the bpmn:{kind} '{ref}', which is not defined in this diagram: "
                      "pick an existing {kind} in the modeler."),
    "message.no_name": N_("'{name}' uses a message without a name: give the message (or the event) a name, "
                          "for example requester_reply."),
    # --- stages ----------------------------------------------------------------------------------------
    "stage.bad_state": N_("Property stage.state of '{name}' is '{value}': use one of {allowed}."),
    "stage.bad_color": N_("Property {property} of '{name}' is '{value}': write a colour as #RRGGBB, "
                          "for example #1E88E5."),
    "stage.bad_icon": N_("Property stage.icon of '{name}' is '{value}': use a Bootstrap Icons name such as "
                         "headset (lower-case letters, digits and dashes)."),
    "stage.unknown_property": N_("Property '{property}' of '{name}' is not a stage property: use one of "
                                 "{allowed}."),
    "stage.conflict": N_("Property '{property}' of '{name}' is set twice with different values ('{first}' "
                         "and '{second}'): keep one."),
    "stage.form_missing": N_("'{name}' uses form '{form}', which is neither in this upload nor deployed: "
                             "upload {form} with the diagram, or fix the name."),
    # --- Camunda forms ---------------------------------------------------------------------------------
    "camunda_form.bad_type": N_("Form field '{field}' of '{name}' has type '{type}': use string, long, "
                                "boolean, date or enum."),
    "camunda_form.bad_id": N_("Form field id '{field}' of '{name}' cannot be used as a data name: use "
                              "letters, digits and underscores, starting with a letter."),
    "camunda_form.duplicate_field": N_("Form field '{field}' of '{name}' appears twice: give each field its "
                                       "own id."),
    "camunda_form.no_values": N_("Form field '{field}' of '{name}' is an enum without values: add values."),
    "camunda_form.bad_constraint": N_("Form field '{field}' of '{name}': constraint '{constraint}' needs a "
                                      "{expected} (got '{value}')."),
    "camunda_form.unknown_constraint": N_("Form field '{field}' of '{name}' has constraint '{constraint}': "
                                          "use required, minlength, maxlength, min, max or readonly."),
    "camunda_form.bad_default": N_("Form field '{field}' of '{name}' has default value '{value}', which is "
                                   "not a {type}: fix it or remove it."),
    "camunda_form.name_clash": N_("The form generated for '{name}' would be named {form}, but a file with "
                                  "that name is uploaded too: rename the file."),
    # --- form specs --------------------------------------------------------------------------------------
    "form.bad_json": N_("The form is not valid JSON ({detail}, line {line_number}): fix it in a text editor."),
    "form.not_object": N_("The form must be a JSON object with a \"schema\" (see forms/README.md)."),
    "form.no_schema": N_("The form has no \"schema\" with \"properties\": describe its fields as in "
                         "forms/README.md."),
    "form.schema_type": N_("The form's schema must have \"type\": \"object\" (it has '{type}')."),
    "form.field_not_object": N_("Field '{field}' must be described by a JSON object."),
    "form.field_type": N_("Field '{field}' has type '{type}': use string, number, integer, boolean or array."),
    "form.field_nested": N_("Field '{field}' is a group of fields, which forms do not support: put its "
                            "fields at the top level."),
    "form.field_format": N_("Field '{field}' has format '{format}': use one of {allowed}."),
    "form.field_array": N_("Field '{field}' is a list without choices: add \"items\": {{\"enum\": [...]}}."),
    "form.field_enum": N_("Field '{field}': \"enum\" must be a non-empty list of choices."),
    "form.field_enum_names": N_("Field '{field}': \"enumNames\" must give one label per choice ({count})."),
    "form.field_text": N_("Field '{field}': \"{key}\" must be a text or an object of texts by language."),
    "form.field_number": N_("Field '{field}': \"{key}\" must be a number."),
    "form.required_unknown": N_("\"required\" names '{field}', which is not a field of the form."),
    "form.required_type": N_("\"required\" must be a list of field names."),
    "form.ui_not_object": N_("The form's \"ui\" must be a JSON object."),
    "form.ui_order_unknown": N_("\"ui.order\" names '{field}', which is not a field of the form."),
    "form.uischema_orphan": N_("{ui_file} is a UI schema without its JSON schema {schema}: upload both."),
}


#: the fixed vocabulary of the ``what`` parameter of expression problems (for translators)
EXPRESSION_KINDS = (N_("script"), N_("pre-script"), N_("post-script"), N_("condition"), N_("timer"),
                    N_("loop cardinality"), N_("completion condition"), N_("loop condition"),
                    N_("assignee property"), N_("message payload"), N_("input expression"),
                    N_("output entry"))


def render(code: str, params: dict[str, Any]) -> str:
    return MESSAGES[code].format(**params)


def element_label(element) -> str:
    """The name an admin sees for an element: its name, else its id, else its tag."""
    if element is None:
        return ""
    name = (element.get("name") or "").strip()
    if name:
        return " ".join(name.split())
    return element.get("id") or local_name(element)


def local_name(element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else str(tag)


def make_problem(code: str, file: str, element=None, *, element_id: str | None = None,
                 element_name: str | None = None, line: int | None = None, **params: Any) -> Problem:
    """A ``Problem`` from a template; ``element`` (an lxml element) fills id, name and line.

    ``name`` defaults to the element's label so templates can say which element is meant.
    """
    if element is not None:
        element_id = element_id or element.get("id")
        element_name = element_name or ((element.get("name") or "").strip() or None)
        line = line or element.sourceline
        params.setdefault("name", element_label(element))
    clean = {k: ("" if v is None else str(v)) for k, v in params.items()}
    return Problem(file=file, message=render(code, clean), element_id=element_id,
                   element_name=element_name, line=line, code=code, params=clean)
