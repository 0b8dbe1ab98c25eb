"""Lint the code inside a diagram: scripts, expressions and stage properties.

Every script and expression is compiled by ``workflows.sandbox.check_source`` — the same
sandbox that later runs it — so an admin learns about syntax errors and forbidden names at
upload time, not when a ticket reaches the task.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

from .lint_messages import element_label, make_problem
from .parser import NSMAP, is_iso_literal, task_properties
from .sandbox import check_source
from .types import STAGE_PROPERTIES, STAGE_STATES, Problem

_COLOR = re.compile(r"^#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$")
_ICON = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LINE_PREFIX = re.compile(r"^\s*line \d+\s*[:,-]\s*", re.I)
_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)
_FOREIGN_LANGUAGES = ("javascript", "ecmascript", "groovy", "juel", "feel", "ruby", "mvel", "spel",
                      "nashorn", "kotlin", "java")
_PYTHON_LANGUAGES = ("python", "jython", "py", "text/x-python")


def _foreign_language(language: str | None) -> str | None:
    value = (language or "").strip().lower()
    if not value or any(value == p or value.endswith("/" + p) for p in _PYTHON_LANGUAGES):
        return None
    if value in ("js", "text/javascript") or any(word in value for word in _FOREIGN_LANGUAGES):
        return language.strip()
    return None


def _juel_suggestion(inner: str) -> str:
    text = inner.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"\beq\b", "==", re.sub(r"\bne\b", "!=", text))
    text = re.sub(r"!(?!=)", "not ", text)
    return " ".join(text.split())


def _code_problems(source: str | None, mode: str, what: str, owner, filename: str,
                   at=None, allow_empty: bool = False) -> list[Problem]:
    """Problems of one script (``mode='exec'``) or expression (``'eval'``) of ``owner``."""
    line_of = (owner if at is None else at).sourceline
    label = element_label(owner)
    if source is None or not source.strip():
        if allow_empty:
            return []
        return [make_problem("expression.empty", filename, owner, line=line_of, what=what,
                             name=label)]
    shown = " ".join(source.split())
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    juel = _JUEL.match(source)
    if juel:
        return [make_problem("expression.juel", filename, owner, line=line_of, what=what, name=label,
                             expression=shown, suggestion=_juel_suggestion(juel.group(1))[:120])]
    if mode == "eval" and source.lstrip().startswith("=") and not source.lstrip().startswith("=="):
        return [make_problem("expression.feel", filename, owner, line=line_of, what=what,
                             name=label, expression=shown)]
    code = source if mode == "exec" else source.strip()
    # The text of ``at`` starts on its own line, so script line N is file line at + N - 1.
    return [make_problem("expression.invalid", filename, owner,
                         line=line_of + line - 1 if line_of and isinstance(line, int) and line > 0
                         and mode == "exec" else line_of,
                         what=what, name=label, script_line=line if line is not None else "?",
                         detail=_LINE_PREFIX.sub("", str(detail)).strip() or "not allowed")
            for line, detail in check_source(code, mode)]


def expression_problems(source: str | None, what: str, owner, filename: str, at=None) -> list[Problem]:
    """Problems of one Python expression of ``owner`` (e.g. a DMN input expression)."""
    return _code_problems(source, "eval", what, owner, filename, at=at)


def _children(element, path: str) -> list:
    return element.xpath(path, namespaces=NSMAP)


def _first_text(element, path: str) -> tuple[Any, str | None]:
    found = _children(element, path)
    return (found[0], found[0].text) if found else (None, None)


def _timer_problems(event, filename: str) -> list[Problem]:
    problems: list[Problem] = []
    for definition in _children(event, "./bpmn:timerEventDefinition"):
        times = [t for t in definition if isinstance(t.tag, str)
                 and etree.QName(t).localname in ("timeDate", "timeDuration", "timeCycle")]
        texts = [(t, (t.text or "").strip()) for t in times]
        if not any(text for _, text in texts):
            problems.append(make_problem("timer.empty", filename, event))
            continue
        for element, text in texts:
            if text and not is_iso_literal(text):
                problems += _code_problems(text, "eval", "timer", event, filename, at=element)
    return problems


def _loop_problems(activity, filename: str) -> list[Problem]:
    problems: list[Problem] = []
    for mi in _children(activity, "./bpmn:multiInstanceLoopCharacteristics"):
        cardinality, card_text = _first_text(mi, "./bpmn:loopCardinality")
        data_input = _children(mi, "./bpmn:loopDataInputRef")
        if cardinality is None and not data_input:
            problems.append(make_problem("loop.no_cardinality", filename, activity))
        elif cardinality is not None and data_input:
            problems.append(make_problem("loop.both", filename, activity))
        if cardinality is not None:
            problems += _code_problems(card_text, "eval", "loop cardinality", activity, filename,
                                       at=cardinality)
        condition, cond_text = _first_text(mi, "./bpmn:completionCondition")
        if condition is not None:
            problems += _code_problems(cond_text, "eval", "completion condition", activity,
                                       filename, at=condition, allow_empty=True)
    for loop in _children(activity, "./bpmn:standardLoopCharacteristics"):
        condition, cond_text = _first_text(loop, "./bpmn:loopCondition")
        if loop.get("loopMaximum") is None and condition is None:
            problems.append(make_problem("loop.no_condition", filename, activity))
        if condition is not None:
            problems += _code_problems(cond_text, "eval", "loop condition", activity, filename,
                                       at=condition, allow_empty=loop.get("loopMaximum") is not None)
    return problems


def code_problems(element, filename: str) -> list[Problem]:
    """Problems of every script and expression on one BPMN element."""
    tag = etree.QName(element).localname
    problems: list[Problem] = []
    if tag == "scriptTask":
        language = _foreign_language(element.get("scriptFormat"))
        script, text = _first_text(element, "./bpmn:script")
        if language:
            problems.append(make_problem("script.language", filename, element, what="script",
                                         language=language))
        elif text is None or not text.strip():
            problems.append(make_problem("script.missing", filename, element))
        else:
            problems += _code_problems(text, "exec", "script", element, filename, at=script)
    for name, what in (("preScript", "pre-script"), ("postScript", "post-script")):
        found, text = _first_text(element, f"./bpmn:extensionElements/spiffworkflow:{name}")
        if found is not None:
            problems += _code_problems(text, "exec", what, element, filename, at=found,
                                       allow_empty=True)
    if tag == "sequenceFlow":
        condition, text = _first_text(element, "./bpmn:conditionExpression")
        if condition is not None:
            language = _foreign_language(condition.get("language"))
            if language:
                problems.append(make_problem("script.language", filename, element,
                                             what="condition", language=language))
            else:
                problems += _code_problems(text, "eval", "condition", element, filename)
    if tag.endswith("Event"):
        problems += _timer_problems(element, filename)
        for cond in _children(element, "./bpmn:conditionalEventDefinition"):
            found, text = _first_text(cond, "./bpmn:condition")
            problems += _code_problems(text, "eval", "condition", element, filename,
                                       at=found if found is not None else cond)
    for payload in _children(element, ".//bpmn:messageEventDefinition/bpmn:extensionElements"
                                      "/spiffworkflow:messagePayload"):
        problems += _code_problems(payload.text, "eval", "message payload", element, filename,
                                   at=payload, allow_empty=True)
    problems += _loop_problems(element, filename)
    return problems


def property_problems(element, filename: str, form_exists: Callable[[str], bool]) -> list[Problem]:
    """Problems of the stage properties (and ``assignee``) of one element."""
    props, conflicts = task_properties(element)
    problems = [make_problem("stage.conflict", filename, element, property=name, first=first,
                             second=second) for name, first, second in conflicts]
    for name, value in props.items():
        if name.startswith("stage.") and name not in STAGE_PROPERTIES:
            problems.append(make_problem("stage.unknown_property", filename, element, property=name,
                                         allowed=", ".join(STAGE_PROPERTIES)))
    state = props.get("stage.state")
    if state is not None and state not in STAGE_STATES:
        problems.append(make_problem("stage.bad_state", filename, element, value=state,
                                     allowed=", ".join(STAGE_STATES)))
    for name in ("stage.color", "stage.background"):
        if name in props and not _COLOR.match(props[name].strip()):
            problems.append(make_problem("stage.bad_color", filename, element, property=name,
                                         value=props[name]))
    icon = props.get("stage.icon")
    if icon is not None and not _ICON.match(icon.strip()):
        problems.append(make_problem("stage.bad_icon", filename, element, value=icon))
    form = props.get("form")
    if form is not None and not form_exists(form.strip()):
        problems.append(make_problem("stage.form_missing", filename, element, form=form))
    if "assignee" in props:
        problems += _code_problems(props["assignee"], "eval", "assignee property", element,
                                   filename)
    return problems


def iter_message_payloads(root) -> Iterator[Any]:
    """``spiffworkflow:messagePayload`` on ``bpmn:message`` elements (checked once per file)."""
    yield from root.xpath("./bpmn:message/bpmn:extensionElements/spiffworkflow:messagePayload",
                          namespaces=NSMAP)


def message_payload_problems(root, filename: str) -> list[Problem]:
    problems: list[Problem] = []
    for payload in iter_message_payloads(root):
        message = payload.getparent().getparent()
        problems += _code_problems(payload.text, "eval", "message payload", message, filename,
                                   at=payload, allow_empty=True)
    return problems
