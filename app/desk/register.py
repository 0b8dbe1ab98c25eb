"""Registering a ticket on behalf of a caller (line 1, by phone, in person, by e-mail…).

The operator finds the caller by phone, name, login or e-mail, sees their open and recent
tickets first (to link to an existing ticket instead of filing a duplicate), then registers
the ticket for them; the most frequent requests are templates, one click away.

Clicks for "register a simple ticket by phone": open this page (1), type the phone number and
press Enter (2; a single match is chosen at once), type the subject, press "Register" (3).
"""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..errors import ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..permissions import ADD_TASKS, READ_TASKS, has
from ..services import requesters
from ..services.templates import get_template, list_templates
from ..services.tickets import CHANNELS, create_ticket
from ..services.users import find_user
from ..web.guard import requires_all
from ..services.ids import parse_id
from . import bp

DEFAULT_PROCESS = "incident"
#: the channels a person uses (the API's own channel is not offered here), most frequent first
CHANNEL_LABELS = {"phone": _l("Phone"), "walk_in": _l("In person"), "email": _l("E-mail"),
                  "portal": _l("Self-service portal"), "chat": _l("Chat")}


def channel_choices() -> list[tuple[str, str]]:
    return [(key, str(label)) for key, label in CHANNEL_LABELS.items() if key in CHANNELS]


class RegisterForm(FlaskForm):
    template_id = HiddenField()
    requester = StringField(_l("Requester (login)"), validators=[DataRequired(_l("Find the caller or write their login.")),
                                                                Length(max=128)],
                            render_kw={"autocomplete": "off", "maxlength": 128})
    channel = SelectField(_l("Channel"), choices=channel_choices, default="phone")
    subject = StringField(_l("Subject"), validators=[DataRequired(_l("Write a short subject.")), Length(max=500)],
                          render_kw={"maxlength": 500, "autocomplete": "off"})
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)],
                                description=_l("Line breaks and simple formatting are kept."), render_kw={"rows": 5})
    service = StringField(_l("Service"), validators=[Optional(), Length(max=128)],
                          render_kw={"list": "register-services", "maxlength": 128, "autocomplete": "off"})
    category = SelectField(_l("Type of request"), choices=[], default="", validators=[Optional()])
    priority = SelectField(_l("Priority"), choices=[], default="", validators=[Optional()],
                           description=_l("Leave empty: classification computes it from impact and urgency."))


def _form(choices: requesters.FilingChoices, **kwargs) -> RegisterForm:
    form = RegisterForm(**kwargs)
    form.category.choices = [("", str(_l("— not sure —")))] + choices.categories
    form.priority.choices = [("", str(_l("— computed —")))] + [(p, p) for p in choices.priorities]
    return form


def _template(value: str | None):
    template_id = parse_id(value)
    return get_template(template_id, for_requesters=False) if template_id is not None else None


def _ticket_url(ticket_id: int) -> str | None:
    return url_for("desk.ticket", ticket_id=ticket_id) if "desk.ticket" in current_app.view_functions else None


@bp.route("/register", methods=["GET", "POST"])
@requires_all(READ_TASKS, ADD_TASKS)  # staff who register tickets: they see a caller's tickets
def register():
    """Find the caller, see their open and recent tickets, register a new one for them."""
    choices = requesters.filing_choices(str(get_locale()))
    query = (request.args.get("q") or "").strip()
    matches = requesters.find_requesters(query) if query else []
    if request.method == "POST":
        form = _form(choices)
        template = _template(form.template_id.data)
        login = (form.requester.data or "").strip()
    else:
        template = _template(request.args.get("template"))
        login = (request.args.get("user") or "").strip()
        if not login and len(matches) == 1:
            login = matches[0].login  # the only match: chosen at once
        data = {"requester": login, "channel": request.args.get("channel") or "phone"}
        if template is not None:
            data.update(template_id=str(template.id), subject=template.subject, description=template.description,
                        service=template.service or "", category=template.category or "",
                        priority=template.priority or "")
        form = _form(choices, data=data)
    person = find_user(login) if login else None
    if person is not None and request.method == "GET":
        form.subject.render_kw = {**(form.subject.render_kw or {}), "autofocus": True}  # the caller is found

    general: list[str] = []
    if request.method == "POST" and form.validate_on_submit():
        try:
            ticket = create_ticket(
                current_user, process=template.process_key if template else DEFAULT_PROCESS,
                subject=form.subject.data, description=requesters.rich_text(form.description.data),
                priority=form.priority.data or None, requester=login, channel=form.channel.data,
                category=form.category.data or None, service=(form.service.data or "").strip() or None)
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            for name, messages in (err.errors or {}).items():
                if name in form:
                    form[name].errors = list(form[name].errors or []) + [str(m) for m in messages]
                else:
                    general.extend(str(m) for m in messages)
        else:
            name = ticket.requester.display_name if ticket.requester else login
            flash(_("Ticket %(number)s is registered for %(name)s.", number=ticket.number, name=name), "success")
            return redirect(_ticket_url(ticket.id) or url_for("desk.register"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "desk/register.html", form=form, query=query, matches=matches, person=person,
        history=requesters.requester_tickets(person) if person else None, template=template,
        templates=list_templates(for_requesters=False), choices=choices, general=general,
        unknown_login=bool(login and person is None), may_register=has(current_user, ADD_TASKS)), status
