"""A stage's form for the web pages: the WTForms form built from the stage's form spec,
showing the process data the ticket has now (or what the person just sent back)."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext, ngettext

from ..models import Instance, WorkItem
from .definitions import form_for
from .form_builder import SpecForm, make_form
from .forms import RESOLVERS


def stage_form(item: WorkItem, instance: Instance, *, locale: str, tz: str,
               formdata: Any = None) -> SpecForm | None:
    """The bound form of ``item`` (None: the stage has no form, completing it takes no data)."""
    spec = form_for(instance.definition_id, item.form)
    if spec is None:
        return None
    return make_form(spec, locale=locale, formdata=formdata, current=instance.data or {}, resolvers=RESOLVERS,
                     gettext=gettext, ngettext=ngettext, tz=tz)


def apply_errors(form: SpecForm | None, errors: dict[str, list[str]]) -> list[str]:
    """Put a service's per-field errors on the form's fields; returns those that fit no field."""
    rest: list[str] = []
    for name, messages in (errors or {}).items():
        field = form[name] if form is not None and name in form else None
        if field is None:
            rest.extend(str(m) for m in messages)
        else:
            field.errors = list(field.errors or []) + [str(m) for m in messages]
    return rest
