"""The staff ticket page (issue 3, point 5): the painted stage cards with their forms, the
thread (public messages and internal notes), files, watchers, the history, the stages of
called subprocesses, and who else has the ticket open.  Thin views: every rule is in the
services; a refused form comes back with its errors inline and what the person typed."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..services.ids import parse_id
from ..web.urls import safe_next
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import Ticket, WorkItem
from ..permissions import EXECUTE_TASKS, READ_TASKS, VIEW_OTHERS_TASKS, can_execute, has
from ..services import attachments, history, presence, stage_forms, tickets, watchers
from ..services.requesters import rich_text
from ..web.guard import message_limit, requires
from . import bp

MAX_TEXT = 20000


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[DataRequired(_l("Write a message.")), Length(max=MAX_TEXT)],
                         description=_l("Line breaks and simple formatting are kept."), id="reply-body",
                         render_kw={"rows": 4, "data-shortcut": "r", "data-shortcut-help": _l("Reply")})
    visibility = RadioField(_l("Who sees it"), default="public", choices=[
        SelectChoice("public", _l("Public message to the requester")),
        SelectChoice("internal", _l("Internal note (staff only)"))])


class AddWatcherForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired(_l("Write a login.")), Length(max=128)],
                        description=_l("Start typing a login, a name or an e-mail address."), id="watcher-login",
                        render_kw={"autocomplete": "off", "list": "watcher-people"})


def _locale_tz() -> tuple[str, str]:
    return str(get_locale()), str(get_timezone())


def _reply_form(*, submitted: bool = False) -> ReplyForm:
    form = ReplyForm() if submitted else ReplyForm(formdata=None)
    if not has(current_user, READ_TASKS):  # internal notes are for readers of tasks
        form.visibility.choices = [c for c in form.visibility.choices if c.value == "public"]
    return form


def _cards(ticket: Ticket, failed_item: int | None, stage_errors: dict) -> list[dict]:
    """The open stages as cards: the form for who may complete them, a claim button for
    unassigned ones; a refused form as it was sent, its errors on the fields."""
    locale, tz = _locale_tz()
    open_items = history.open_stages(ticket)
    subprocess_names = history.process_names({i.process_id for i in open_items if i.process_id != ticket.process_key})
    my_groups = {g.id for g in current_user.groups}
    cards = []
    for item in open_items:
        may = can_execute(current_user, item)
        failed = item.id == failed_item
        form = stage_forms.stage_form(item, ticket.instance, locale=locale, tz=tz,
                                      formdata=request.form if failed else None) if may else None
        errors = stage_forms.apply_errors(form, stage_errors) if failed else []
        cards.append({"item": item, "form": form, "errors": errors, "can_complete": may,
                      "subprocess": subprocess_names.get(item.process_id),
                      # the claim rule of services.assignment.claim: unassigned, in one of my groups
                      "claimable": (item.assignee_id is None and has(current_user, EXECUTE_TASKS)
                                    and (item.group_id is None or item.group_id in my_groups)),
                      "mine": item.assignee_id == current_user.id})
    return cards


def _render(ticket_id: int, *, status: int = 200, failed_item: int | None = None, stage_errors: dict | None = None,
            reply_form: ReplyForm | None = None, file_errors: list[str] | None = None, files_lost: bool = False,
            watcher_form: AddWatcherForm | None = None, alert: str | None = None):
    ticket = tickets.get_ticket(current_user, ticket_id)
    before = parse_id(request.args.get("history_before"))
    files = attachments.visible_attachments(current_user, ticket)
    files_by_message: dict[int, list] = {}
    for f in files:
        if f.message_id is not None:
            files_by_message.setdefault(f.message_id, []).append(f)
    return render_template(
        "desk/ticket.html", ticket=ticket, cards=_cards(ticket, failed_item, stage_errors or {}),
        timeline=history.stage_timeline(ticket), messages=tickets.ticket_messages(current_user, ticket),
        files=files, files_by_message=files_by_message, watchers=watchers.list_watchers(ticket),
        history=history.ticket_history(current_user, ticket, before=before),
        others=presence.here(ticket.id, current_user), poll_seconds=presence.POLL_SECONDS,
        channel_label=str(history.CHANNEL_LABELS.get(ticket.channel, ticket.channel)),
        reply_form=reply_form or _reply_form(), file_errors=file_errors or [], files_lost=files_lost,
        watcher_form=watcher_form or AddWatcherForm(formdata=None), alert=alert,
        can_remove_watcher=lambda user_id: watchers.can_remove_watcher(current_user, ticket, user_id),
        remove_watcher_url=lambda user: url_for("desk.remove_watcher", ticket_id=ticket.id, user_id=user.id),
        here=url_for("desk.ticket", ticket_id=ticket.id)), status


@bp.get("/tickets/<int:ticket_id>")
@requires(READ_TASKS, EXECUTE_TASKS, VIEW_OTHERS_TASKS)
def ticket(ticket_id: int):
    return _render(ticket_id)


def _ticket_id_of(item_id: int) -> int:
    item = db.session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(_l("Task %(id)s does not exist.", id=item_id))
    return item.ticket_id


@bp.post("/tasks/<int:item_id>/complete")
@requires(EXECUTE_TASKS)
def complete(item_id: int):
    locale, tz = _locale_tz()
    try:
        item = tickets.complete_stage(current_user, item_id, request.form, locale=locale, tz=tz)
        ticket_id, name = item.ticket_id, item.name
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()  # nothing was written; be sure of it before showing the page again
        return _render(_ticket_id_of(item_id), status=422, failed_item=item_id, stage_errors=err.errors or {},
                       alert=None if err.errors else str(err.message))
    except Conflict as err:
        db.session.rollback()
        return _render(_ticket_id_of(item_id), status=409, alert=str(err.message))
    flash(_("Stage “%(name)s” completed.", name=name), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("desk.ticket", ticket_id=ticket_id))


@bp.post("/tickets/<int:ticket_id>/messages")
@requires(READ_TASKS, EXECUTE_TASKS)
@message_limit()
def post_message(ticket_id: int):
    form = _reply_form(submitted=True)
    sent_files = any(f and f.filename for f in request.files.getlist("files"))
    if not form.validate_on_submit():
        return _render(ticket_id, status=422, reply_form=form, files_lost=sent_files)
    internal = form.visibility.data == "internal"
    try:
        # one transaction: the files are checked before anything is written, and a refused
        # file (or message) leaves neither the message nor any file behind
        files = attachments.read_uploads(request.files.getlist("files"))
        message = tickets.post_message(current_user, ticket_id, rich_text(form.body.data), internal=internal)
        attachments.attach(current_user, tickets.get_ticket(current_user, ticket_id), files, message=message,
                           internal=internal)
        message_id = message.id
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        errors = dict(err.errors or {})
        file_errors = [str(m) for m in errors.pop("files", [])]
        form.body.errors = list(form.body.errors or []) + [str(m) for msgs in errors.values() for m in msgs]
        return _render(ticket_id, status=422, reply_form=form, file_errors=file_errors, files_lost=sent_files)
    flash(_("Internal note added.") if internal else _("Message sent to the requester."), "success")
    return redirect(url_for("desk.ticket", ticket_id=ticket_id, _anchor=f"message-{message_id}"))


@bp.post("/tickets/<int:ticket_id>/watchers")
@requires(READ_TASKS, EXECUTE_TASKS)
def add_watcher(ticket_id: int):
    form = AddWatcherForm()
    if form.validate_on_submit():
        try:
            watcher = tickets.add_watcher(current_user, ticket_id, form.login.data.strip())
            name = watcher.user.display_name
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            form.login.errors = list(form.login.errors or []) + [
                str(m) for msgs in (err.errors or {}).values() for m in msgs]
        else:
            flash(_("%(name)s now watches this ticket.", name=name), "success")
            return redirect(url_for("desk.ticket", ticket_id=ticket_id, _anchor="watchers"))
    return _render(ticket_id, status=422, watcher_form=form)


@bp.post("/tickets/<int:ticket_id>/watchers/<int:user_id>/remove")
@requires(READ_TASKS, EXECUTE_TASKS)
def remove_watcher(ticket_id: int, user_id: int):
    watchers.remove_watcher(current_user, ticket_id, user_id)
    db.session.commit()
    flash(_("The watcher is removed."), "success")
    return redirect(url_for("desk.ticket", ticket_id=ticket_id, _anchor="watchers"))


@bp.get("/users/search")
@requires(READ_TASKS, EXECUTE_TASKS)
def user_search():
    """``<option>``s for the watcher field's datalist (htmx sends the field as ``login``)."""
    query = request.args.get("q") or request.args.get("login") or ""
    return render_template("desk/_people_options.html", people=watchers.find_people(query))


@bp.get("/tickets/<int:ticket_id>/presence", endpoint="presence")
@requires(READ_TASKS, EXECUTE_TASKS, VIEW_OTHERS_TASKS)
def presence_fragment(ticket_id: int):
    """Who else has the ticket open; refreshes my own mark (polled by the page)."""
    ticket = tickets.get_ticket(current_user, ticket_id)
    return render_template("desk/_ticket_presence.html", ticket=ticket, others=presence.here(ticket.id, current_user),
                           poll_seconds=presence.POLL_SECONDS)
