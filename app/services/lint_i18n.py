"""Lint problems in the reader's language (DESIGN §4: "an actionable sentence in the admin's language").

``workflows`` (Flask-free) reports every problem with a ``code`` (a key of
``workflows.lint_messages.MESSAGES``), ``params`` and the English ``message``.  Here the app
looks the template up in its catalog (``gettext``: the request's locale, else the desk's default
``BABEL_DEFAULT_LOCALE``, e.g. in ``flask deploy``) and formats it with the params.  Params whose
values come from a fixed English vocabulary (the kind of expression, a constraint's expected
value, a few fixed details, event trigger names) are translated too; everything else (names,
ids, file names, BPMN/JSON identifiers an admin types) is kept as is.

A problem without a known ``code`` (e.g. the app's own form-spec checks, already translated)
keeps its ``message``.  If a translation cannot be formatted, the English message is kept.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask_babel import gettext, pgettext

from workflows.lint_messages import EXPRESSION_KINDS, MESSAGES, N_
from workflows.types import Problem

#: ``expected`` of ``camunda_form.bad_constraint`` (workflows/camunda_forms.py)
CONSTRAINT_EXPECTED = (N_("whole number"), N_("number"))
#: the fixed ``detail`` texts the engine layer writes itself (workflows/form_specs.py,
#: xmlsafe.py, lint_expressions.py, specs.py); other details (parser, sandbox, engine
#: messages) are free text and stay as they are
FIXED_DETAILS = (N_("not UTF-8 text"), N_("nested too deeply"), N_("unreadable"), N_("not allowed"),
                 N_("the element is not valid"))
#: codes whose ``allowed`` param lists event triggers (workflows/lint.py EVENT_TRIGGERS)
TRIGGER_LISTS = {"event.unsupported_definition"}


def _trigger_names() -> dict[str, str]:
    # pgettext: "timer" and "condition" also name kinds of expression, translated differently
    return {
        "message": pgettext("event trigger", "message"),
        "signal": pgettext("event trigger", "signal"),
        "timer": pgettext("event trigger", "timer"),
        "conditional": pgettext("event trigger", "conditional"),
        "cancel": pgettext("event trigger", "cancel"),
        "error": pgettext("event trigger", "error"),
        "escalation": pgettext("event trigger", "escalation"),
        "terminate": pgettext("event trigger", "terminate"),
    }


def _word(vocabulary: Iterable[str]) -> Callable[[str], str]:
    known = frozenset(vocabulary)
    return lambda value: gettext(value) if value in known else value


def _trigger_list(value: str) -> str:
    names = _trigger_names()
    return ", ".join(names.get(word, word) for word in value.split(", ")) if value else value


#: param name -> how its value is translated (values outside the vocabulary are kept)
_PARAM_TRANSLATORS: dict[str, Callable[[str], str]] = {
    "what": _word(EXPRESSION_KINDS),
    "expected": _word(CONSTRAINT_EXPECTED),
    "detail": _word(FIXED_DETAILS),
}


def localized_params(code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, str):
            if key == "allowed" and code in TRIGGER_LISTS:
                value = _trigger_list(value)
            elif key in _PARAM_TRANSLATORS:
                value = _PARAM_TRANSLATORS[key](value)
        out[key] = value
    return out


def localize_message(code: str | None, params: Mapping[str, Any] | None, message: str) -> str:
    """``message`` in the current locale when ``code`` is a known template, else ``message``."""
    template = MESSAGES.get(code) if code else None
    if template is None:
        return message
    params = params or {}
    try:
        return gettext(template).format(**localized_params(code, params))
    except (KeyError, IndexError, ValueError, AttributeError):  # a broken translation: keep English
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError, AttributeError):
            return message


def localize_problem(problem: Problem | Mapping[str, Any]) -> dict[str, Any]:
    """The problem as a dict (``file, element_id, element_name, line, message, code, params``)
    whose ``message`` speaks the current locale."""
    data = problem.to_dict() if isinstance(problem, Problem) else dict(problem)
    data["message"] = localize_message(data.get("code"), data.get("params"), data.get("message") or "")
    return data


def localize_problems(problems: Iterable[Problem | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [localize_problem(p) for p in problems]
