"""Desk pages: sprints (the list, the board, create and edit; tickets in and out)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..permissions import MANAGE_SPRINTS, READ_TASKS
from ..services import sprints as sprint_service
from ..web.guard import requires
from . import bp


class SprintForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=255)])
    starts_on = DateField(_l("Starts on"), validators=[DataRequired()])
    ends_on = DateField(_l("Ends on"), validators=[DataRequired()])
    capacity = IntegerField(_l("Capacity (hours)"), default=0,
                            validators=[InputRequired(message=_l("Write a number of hours (0 or more).")),
                                        NumberRange(min=0, max=sprint_service.MAX_HOURS)])
    goal = TextAreaField(_l("Goal"), validators=[Length(max=5000)], render_kw={"rows": 3})

    def validate_ends_on(self, field) -> None:
        """Said with the other field errors at once (the service checks it again)."""
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The sprint cannot end before it starts."))


class AddTicketForm(FlaskForm):
    ticket = StringField(_l("Ticket number"), validators=[DataRequired(), Length(max=32)],
                         render_kw={"placeholder": "INC-42", "autocomplete": "off"})
    estimate = IntegerField(_l("Estimate (hours)"), validators=[InputRequired(message=_l("Write a number of hours.")),
                                                                 NumberRange(min=0, max=sprint_service.MAX_HOURS)])


@bp.get("/sprints")
@requires(MANAGE_SPRINTS, READ_TASKS)
def sprints():
    return render_template("desk/sprints.html", rows=sprint_service.list_sprints(current_user))


def _form_page(form: SprintForm, sprint, status: int = 200):
    return render_template("desk/sprint_form.html", form=form, sprint=sprint), status


def _save(form: SprintForm, sprint):
    if form.validate_on_submit():
        try:
            saved = sprint_service.save_sprint(current_user, sprint, name=form.name.data,
                                               starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                                               goal=form.goal.data or "",
                                               capacity=form.capacity.data if form.capacity.data is not None else 0)
        except ValidationFailed as err:
            db.session.rollback()
            for name, messages in (err.errors or {}).items():
                target = form[name] if name in form else form.name
                target.errors = list(target.errors or []) + [str(m) for m in messages]
            return _form_page(form, sprint, 422)
        db.session.commit()
        flash(_("Sprint %(name)s is saved.", name=saved.name), "success")
        return redirect(url_for("desk.sprint", sprint_id=saved.id))
    return _form_page(form, sprint, 422 if request.method == "POST" else 200)


@bp.route("/sprints/new", methods=["GET", "POST"])
@requires(MANAGE_SPRINTS)
def sprint_new():
    return _save(SprintForm(), None)


@bp.route("/sprints/<int:sprint_id>/edit", methods=["GET", "POST"])
@requires(MANAGE_SPRINTS)
def sprint_edit(sprint_id: int):
    sprint = sprint_service.get_sprint(current_user, sprint_id)
    return _save(SprintForm(obj=sprint if request.method == "GET" else None), sprint)


def _board_page(sprint, form: AddTicketForm, status: int = 200):
    return render_template("desk/sprint_board.html", board=sprint_service.board(current_user, sprint),
                           form=form), status


@bp.get("/sprints/<int:sprint_id>")
@requires(MANAGE_SPRINTS, READ_TASKS)
def sprint(sprint_id: int):
    sprint = sprint_service.get_sprint(current_user, sprint_id)
    return _board_page(sprint, AddTicketForm(formdata=None))


@bp.post("/sprints/<int:sprint_id>/tickets")
@requires(MANAGE_SPRINTS)
def sprint_add_ticket(sprint_id: int):
    sprint = sprint_service.get_sprint(current_user, sprint_id)
    form = AddTicketForm()
    if form.validate_on_submit():
        try:
            ticket = sprint_service.add_ticket(current_user, sprint, form.ticket.data, form.estimate.data)
        except ValidationFailed as err:
            db.session.rollback()
            for name, messages in (err.errors or {}).items():
                target = form[name] if name in form else form.ticket
                target.errors = list(target.errors or []) + [str(m) for m in messages]
            return _board_page(sprint, form, 422)
        except Conflict as err:
            db.session.rollback()
            form.ticket.errors = list(form.ticket.errors or []) + [str(err.message)]
            return _board_page(sprint, form, 409)
        db.session.commit()
        flash(_("%(number)s is in the sprint with %(hours)s h.", number=ticket.number, hours=ticket.estimate), "success")
        return redirect(url_for("desk.sprint", sprint_id=sprint.id))
    return _board_page(sprint, form, 422)


@bp.post("/sprints/<int:sprint_id>/tickets/<int:ticket_id>/remove")
@requires(MANAGE_SPRINTS)
def sprint_remove_ticket(sprint_id: int, ticket_id: int):
    sprint = sprint_service.get_sprint(current_user, sprint_id)
    ticket = sprint_service.remove_ticket(current_user, sprint, ticket_id)
    db.session.commit()
    flash(_("%(number)s is taken out of the sprint.", number=ticket.number), "success")
    return redirect(url_for("desk.sprint", sprint_id=sprint.id))
