"""The desk inbox: tabs of work, filters, keyset pages; claim, unclaim, distribute; the
new-work counter the nav polls and the "next task" shortcut.  Thin views over
services.queues and services.assignment."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models.base import utcnow
from ..permissions import DISTRIBUTE_TASKS, EXECUTE_TASKS, READ_TASKS, has
from ..services import assignment, queues
from ..web.context import STAGE_STATES
from ..web.guard import requires
from ..web.urls import safe_next
from ..services.ids import parse_id
from . import bp

TAB_LABELS = {"mine": _l("My tasks"), "group": _l("My groups' queue"), "undistributed": _l("Undistributed"),
              "subordinates": _l("My subordinates' tasks"), "others": _l("Others' tasks")}
SORT_LABELS = {"newest": _l("Newest first"), "oldest": _l("Oldest first"), "priority": _l("Priority"),
               "due": _l("Due date")}
#: the value of the assignee select that sends the ticked tasks back to their queue
TO_QUEUE = "-"


def _ticket_url(ticket_id: int) -> str | None:
    """The ticket page, when this app has it."""
    if "desk.ticket" not in current_app.view_functions:
        return None
    return url_for("desk.ticket", ticket_id=ticket_id)


def _back(default: str | None = None) -> str:
    return safe_next(request.form.get("next") or request.args.get("next")) or default or url_for("desk.inbox")


def _render_inbox(args: MultiDict, *, status: int = 200, assign_errors: dict | None = None,
                  checked: frozenset[int] = frozenset(), assignee: str = ""):
    tabs = queues.available_tabs(current_user)
    tab = args.get("tab") or (tabs[0] if tabs else "mine")  # the door lets in only people with a tab
    sort = args.get("sort") or "newest"
    filters = queues.InboxFilters.from_args(args)
    page = queues.inbox_page(current_user, tab, filters, sort=sort, cursor=args.get("after") or None)
    distribute = has(current_user, DISTRIBUTE_TASKS)

    def link(**over) -> str:
        values = {"tab": page.tab, "sort": page.sort, **filters.as_args(), **over}
        return url_for("desk.inbox", **{k: v for k, v in values.items() if v})

    return render_template(
        "desk/inbox.html", page=page, tabs=tabs, choices=queues.filter_choices(),
        staff=assignment.staff_who_can_execute(), tab_labels=TAB_LABELS, sort_labels=SORT_LABELS, now=utcnow(),
        link=link, here=link(after=args.get("after") or None), distribute=distribute,
        execute=has(current_user, EXECUTE_TASKS), my_groups={g.id for g in current_user.groups},
        ticket_url=_ticket_url, state_labels=STAGE_STATES,
        assign_errors=assign_errors or {}, checked=checked, chosen_assignee=assignee,
        to_queue=TO_QUEUE), status


@bp.get("/")
@requires(EXECUTE_TASKS, READ_TASKS)
def inbox():
    return _render_inbox(request.args)


@bp.get("/counter")
@requires(EXECUTE_TASKS, READ_TASKS)
def counter():
    """New work for me (assigned to me, or unassigned in my groups): the nav badge polls it."""
    response = jsonify(count=queues.count_new_work(current_user))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/next")
@requires(EXECUTE_TASKS, READ_TASKS)
def next_task():
    item = queues.next_task(current_user)
    if item is None:
        flash(_("No open task is waiting for you."), "info")
        return redirect(url_for("desk.inbox"))
    return redirect(_ticket_url(item.ticket_id) or url_for("desk.inbox", tab="mine", text=item.ticket.number))


def _conflict_page(err: Conflict, back: str):
    db.session.rollback()
    return render_template("desk/_queue_conflict.html", message=err.message, back=back), 409


@bp.post("/tasks/<int:item_id>/claim")
@requires(EXECUTE_TASKS)
def claim(item_id: int):
    try:
        item = assignment.claim(current_user, item_id)
    except Conflict as err:
        return _conflict_page(err, _back())
    back = _back(_ticket_url(item.ticket_id))
    number, stage = item.ticket.number, item.name
    db.session.commit()
    flash(_("You took %(number)s: %(stage)s.", number=number, stage=stage), "success")
    return redirect(back)


@bp.post("/tasks/<int:item_id>/unclaim")
@requires(EXECUTE_TASKS)
def unclaim(item_id: int):
    try:
        item = assignment.unclaim(current_user, item_id)
    except Conflict as err:
        return _conflict_page(err, _back())
    number, stage = item.ticket.number, item.name
    db.session.commit()
    flash(_("%(number)s: %(stage)s is back in its queue.", number=number, stage=stage), "info")
    return redirect(_back())


def _inbox_args(target: str | None) -> MultiDict:
    """The inbox's GET parameters out of a ``next`` address (to show the same page again)."""
    if not target or urlsplit(target).path != url_for("desk.inbox"):
        return MultiDict()
    return MultiDict([(k, v) for k, vs in parse_qs(urlsplit(target).query).items() for v in vs])


@bp.post("/assign")
@requires(DISTRIBUTE_TASKS)
def assign():
    """Distribute tasks: the ticked stages to one person, or back to their queue."""
    back = safe_next(request.form.get("next"))
    ids = [i for i in (parse_id(v) for v in request.form.getlist("item")) if i is not None]
    chosen = (request.form.get("assignee") or "").strip()
    try:
        if not chosen:
            raise ValidationFailed(errors={"assignee": [_("Choose a person, or the queue.")]})
        result = assignment.assign(current_user, ids, None if chosen == TO_QUEUE else chosen)
    except ValidationFailed as err:
        db.session.rollback()
        return _render_inbox(_inbox_args(back), status=422, assign_errors=err.errors or {},
                             checked=frozenset(ids), assignee=chosen)
    db.session.commit()
    if result.changed:
        if result.assignee is not None:
            flash(ngettext("%(num)d task assigned to %(who)s.", "%(num)d tasks assigned to %(who)s.",
                           len(result.changed), who=result.assignee.display_name), "success")
        else:
            flash(ngettext("%(num)d task went back to its queue.", "%(num)d tasks went back to their queues.",
                           len(result.changed)), "success")
    if result.unchanged:
        flash(ngettext("%(num)d task already had that assignee.", "%(num)d tasks already had that assignee.",
                       len(result.unchanged)), "info")
    if result.skipped:
        flash(ngettext("%(num)d task was skipped: it is closed, changed in the meantime, or not yours to see.",
                       "%(num)d tasks were skipped: they are closed, changed in the meantime, or not yours to see.",
                       len(result.skipped)), "warning")
    return redirect(back or url_for("desk.inbox"))
