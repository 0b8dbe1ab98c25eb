"""Desk: child subtasks of a ticket (the block on the ticket page and its form post).

The ticket page includes ``desk/_subtasks.html`` with ``ticket`` in its context; the block
loads what it needs through the ``subtasks_block(ticket)`` template global registered here.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import ValidationFailed
from ..extensions import db
from ..permissions import ADD_TASKS, READ_TASKS, has
from ..services import subtasks as subtask_service
from ..services.tickets import get_ticket
from ..web.guard import requires
from . import bp


def subtasks_block(ticket, *, form: dict | None = None, errors: dict | None = None) -> dict:
    """What the block shows: the children with their stages, and the form's choices (only
    for people who may split tickets)."""
    user = current_user if current_user.is_authenticated else None
    may_split = bool(user) and has(user, ADD_TASKS) and has(user, READ_TASKS) and not ticket.closed
    return {
        "children": subtask_service.children(ticket),
        "may_split": may_split,
        "people": subtask_service.assignable_people(user) if may_split else [],
        "processes": subtask_service.child_processes() if may_split else [],
        "default_process": subtask_service.DEFAULT_PROCESS,
        "form": form or {},
        "errors": errors or {},
    }


@bp.app_context_processor
def _subtask_globals() -> dict:
    return {"subtasks_block": subtasks_block}


@bp.post("/tickets/<int:ticket_id>/subtasks")
@requires(ADD_TASKS)
def create_subtasks(ticket_id: int):
    parent = get_ticket(current_user, ticket_id)  # 404 / 403 before anything else
    data = {key: (request.form.get(key) or "").strip() for key in ("subject", "description", "assignee", "process")}
    review = request.form.get("review_required") == "y"
    try:
        children = subtask_service.create_children(current_user, parent, [data], review_required=review)
    except ValidationFailed as err:
        db.session.rollback()
        return render_template("desk/subtasks_form.html", ticket=parent, subtask_form=data,
                               subtask_errors={k: [str(m) for m in v] for k, v in (err.errors or {}).items()}), 422
    db.session.commit()
    flash(_("Subtask %(number)s is created for %(login)s.", number=children[0].number, login=data["assignee"]),
          "success")
    return redirect(_ticket_url(parent) + "#subtasks")


def _ticket_url(ticket) -> str:
    """The ticket page (written in desk/ticket.py); the start page if this app has none."""
    from ..web.context import nav_url

    return nav_url("desk.ticket", ticket_id=ticket.id) or url_for("home.index")


@bp.post("/tickets/<int:ticket_id>/subtasks/<int:child_id>/cancel")
@requires(ADD_TASKS)
def cancel_subtask(ticket_id: int, child_id: int):
    parent = get_ticket(current_user, ticket_id)
    child = subtask_service.cancel_child(current_user, parent, child_id)
    db.session.commit()
    flash(_("Subtask %(number)s is cancelled.", number=child.number), "success")
    return redirect(_ticket_url(parent) + "#subtasks")
