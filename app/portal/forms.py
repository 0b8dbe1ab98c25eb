"""WTForms of the portal: filing a ticket, a message to the desk, adding a watcher."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..i18n import _l

MAX_TEXT = 20000


class TicketForm(FlaskForm):
    template_id = HiddenField()
    subject = StringField(_l("Subject"), validators=[DataRequired(_l("Write a short subject.")), Length(max=500)],
                          render_kw={"maxlength": 500, "autocomplete": "off"})
    service = StringField(_l("Service"), validators=[Optional(), Length(max=128)],
                          description=_l("The service that does not work as it should; pick one or type it."),
                          render_kw={"list": "service-options", "maxlength": 128, "autocomplete": "off"})
    category = SelectField(_l("Type of request"), validators=[Optional()], choices=[], default="", validate_choice=True)
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=MAX_TEXT)],
                                description=_l("What happened, what you expected, since when. Line breaks and "
                                               "simple formatting (bold, lists, links) are kept; scripts are removed."),
                                render_kw={"rows": 6})

    def set_categories(self, categories: list[tuple[str, str]]) -> None:
        self.category.choices = [("", str(_l("— not sure —")))] + list(categories)


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[DataRequired(_l("Write a message.")), Length(max=MAX_TEXT)],
                         description=_l("Line breaks and simple formatting are kept."),
                         render_kw={"rows": 3})


class WatcherForm(FlaskForm):
    login = StringField(_l("Login or e-mail"), validators=[DataRequired(_l("Write a login or an e-mail address.")),
                                                          Length(max=256)],
                        render_kw={"autocomplete": "off"})


def apply_errors(form, errors: dict | None) -> list[str]:
    """A service's per-field errors onto the WTForms fields; the others (but files, shown
    by the file field) are returned."""
    rest: list[str] = []
    for name, messages in (errors or {}).items():
        if name in form:
            form[name].errors = list(form[name].errors or []) + [str(m) for m in messages]
        elif name != "files":
            rest.extend(str(m) for m in messages)
    return rest
