"""The portal's ticket page: the public thread, files, watchers, and the requester's own
stages (confirm the resolution, rate the result).  Every object check is in the services."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import WorkItem
from ..services import requesters, tickets
from ..services.attachments import attach, read_uploads
from ..services.stage_forms import apply_errors as apply_stage_errors
from ..services.stage_forms import stage_form
from ..web.guard import message_limit, signed_in
from . import bp
from .forms import MessageForm, WatcherForm, apply_errors


def _locale_tz() -> tuple[str, str]:
    return str(get_locale()), str(get_timezone())


def _render(ticket_id: int, *, status: int = 200, message_form=None, watcher_form=None,
            failed_item: int | None = None, stage_errors=(), message_file_errors=(), files_lost=False,
            alert: str | None = None):
    """The ticket page; a failed form (message, watcher or stage) is shown as it was sent."""
    ticket = tickets.get_ticket(current_user, ticket_id)
    locale, tz = _locale_tz()
    own = []
    for item in requesters.own_open_stages(current_user, ticket):
        if item.id == failed_item:
            form = stage_form(item, ticket.instance, locale=locale, tz=tz, formdata=request.form)
            errors = apply_stage_errors(form, dict(stage_errors))
        else:
            form = stage_form(item, ticket.instance, locale=locale, tz=tz)
            errors = []
        own.append((item, form, errors))
    current = requesters.open_stages([ticket.id])[ticket.id]
    return render_template(
        "portal/ticket.html", ticket=ticket, thread=requesters.public_thread(ticket), current=current,
        clocks={item.id: requesters.sla_clock(item) for item in current}, stages=tickets.ticket_stages(ticket),
        own=own, rating=requesters.given_rating(ticket),
        message_form=message_form or MessageForm(formdata=None),
        watcher_form=watcher_form or WatcherForm(formdata=None),
        message_file_errors=list(message_file_errors), files_lost=files_lost, alert=alert), status


@bp.get("/tickets/<int:ticket_id>")
@signed_in
def ticket(ticket_id: int):
    return _render(ticket_id)


@bp.post("/tickets/<int:ticket_id>/messages")
@signed_in
@message_limit()
def post_message(ticket_id: int):
    form = MessageForm()
    file_errors: list[str] = []
    files: list[tuple[str, bytes]] = []
    try:
        files = read_uploads(request.files.getlist("files"))
    except ValidationFailed as err:
        file_errors = list((err.errors or {}).get("files", []))
    if form.validate_on_submit() and not file_errors:
        try:
            message = tickets.post_message(current_user, ticket_id, requesters.rich_text(form.body.data),
                                           internal=False)
            attach(current_user, tickets.get_ticket(current_user, ticket_id), files, message=message)
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            general = apply_errors(form, err.errors)
            form.body.errors = list(form.body.errors or []) + general
        else:
            flash(_("Your message is sent."), "success")
            return redirect(url_for("portal.ticket", ticket_id=ticket_id, _anchor=f"message-{message.id}"))
    sent_files = any(f and f.filename for f in request.files.getlist("files"))
    return _render(ticket_id, status=422, message_form=form, message_file_errors=file_errors, files_lost=sent_files)


@bp.post("/tickets/<int:ticket_id>/watchers")
@signed_in
def add_watcher(ticket_id: int):
    form = WatcherForm()
    if form.validate_on_submit():
        person = requesters.resolve_person(form.login.data)
        try:
            watcher = tickets.add_watcher(current_user, ticket_id, person.login if person else form.login.data.strip())
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            form.login.errors = list(form.login.errors or []) + [str(m) for msgs in (err.errors or {}).values()
                                                                 for m in msgs]
        else:
            flash(_("%(name)s now follows this ticket.", name=watcher.user.display_name), "success")
            return redirect(url_for("portal.ticket", ticket_id=ticket_id, _anchor="watchers"))
    return _render(ticket_id, status=422, watcher_form=form)


@bp.post("/tasks/<int:item_id>/complete")
@signed_in
def complete(item_id: int):
    item = db.session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(_l("Task %(id)s does not exist.", id=item_id))
    ticket_id = item.ticket_id
    tickets.get_ticket(current_user, ticket_id)  # may this person see the ticket at all?
    if item.status == "open" and item.assignee_id != current_user.id:
        raise Forbidden(_l("This step is for someone else; the service desk will take care of it."))
    locale, tz = _locale_tz()
    try:
        tickets.complete_stage(current_user, item_id, request.form, locale=locale, tz=tz)
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        return _render(ticket_id, status=422, failed_item=item_id, stage_errors=(err.errors or {}).items(),
                       alert=None if err.errors else str(err.message))
    except Conflict as err:
        db.session.rollback()
        return _render(ticket_id, status=409, alert=str(err.message))
    flash(_("Thank you, your answer is saved."), "success")
    return redirect(url_for("portal.ticket", ticket_id=ticket_id))
