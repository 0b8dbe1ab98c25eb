"""Routes of the portal blueprint (one module per page family, imported here).

This module: "My tickets" and filing a ticket.  ``ticket`` holds the ticket page and what a
requester does there (messages, watchers, their own stages).
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import ValidationFailed
from ..extensions import db
from ..permissions import ADD_TASKS
from ..services import requesters
from ..services.attachments import attach, read_uploads
from ..services.templates import get_template, list_templates
from ..services.tickets import create_ticket
from ..web.guard import requires, signed_in
from ..services.ids import parse_id
from . import bp
from .forms import TicketForm, apply_errors

DEFAULT_PROCESS = "incident"
STATES = ("open", "closed", "all")


def int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return parse_id(value)


@bp.get("/")
@signed_in
def index():
    state = request.args.get("state", "open")
    if state not in STATES:
        state = "open"
    rows, cursor = requesters.my_tickets(current_user, state=state, before=int_arg("before"))
    watched, watched_cursor = requesters.watched_tickets(current_user, state=state, before=int_arg("wbefore"))
    return render_template("portal/index.html", rows=rows, cursor=cursor, watched=watched,
                           watched_cursor=watched_cursor, state=state, paged=bool(request.args.get("before")),
                           templates=list_templates(for_requesters=True))


def _template_from(value: str | None):
    template_id = parse_id(value)
    return get_template(template_id, for_requesters=True) if template_id is not None else None


@bp.route("/new", methods=["GET", "POST"])
@requires(ADD_TASKS)
def new():
    choices = requesters.filing_choices(str(get_locale()))
    if request.method == "GET":
        template = _template_from(request.args.get("template"))
        data = {}
        if template is not None:
            data = {"template_id": str(template.id), "subject": template.subject, "service": template.service or "",
                    "category": template.category or "", "description": template.description}
        form = TicketForm(data=data)
        form.set_categories(choices.categories)
        return _render_new(form, template, choices)

    form = TicketForm()
    form.set_categories(choices.categories)
    template = _template_from(form.template_id.data)
    file_errors: list[str] = []
    files: list[tuple[str, bytes]] = []
    try:
        files = read_uploads(request.files.getlist("files"))
    except ValidationFailed as err:
        file_errors = list((err.errors or {}).get("files", []))
    general: list[str] = []
    if form.validate_on_submit() and not file_errors:
        try:
            ticket = create_ticket(
                current_user, process=template.process_key if template else DEFAULT_PROCESS,
                subject=form.subject.data, description=requesters.rich_text(form.description.data),
                priority=template.priority if template else None, channel="portal",
                category=form.category.data or None, service=(form.service.data or "").strip() or None)
            attach(current_user, ticket, files)
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            general = apply_errors(form, err.errors)
            file_errors += list((err.errors or {}).get("files", []))
        else:
            flash(_("Ticket %(number)s is registered. We will keep you posted here and by e-mail.",
                    number=ticket.number), "success")
            return redirect(url_for("portal.ticket", ticket_id=ticket.id))
    sent_files = any(f and f.filename for f in request.files.getlist("files"))
    return _render_new(form, template, choices, file_errors=file_errors, general=general,
                       files_lost=sent_files), 422


def _render_new(form, template, choices, *, file_errors=(), general=(), files_lost=False):
    return render_template("portal/new.html", form=form, template=template, choices=choices,
                           templates=list_templates(for_requesters=True), file_errors=list(file_errors),
                           general=list(general), files_lost=files_lost)


from . import ticket  # noqa: E402,F401  (registers the ticket page's routes)
