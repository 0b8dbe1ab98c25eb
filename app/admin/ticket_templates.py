"""Admin pages: ticket templates (the most frequent requests, pre-filled)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice
from sqlalchemy import select

from ..errors import ValidationFailed
from ..extensions import db
from ..models import Group
from ..permissions import MANAGE_USERS
from ..services import templates as template_service
from ..web.guard import requires
from . import bp
from .forms import TemplateForm


@bp.get("/templates")
@requires(MANAGE_USERS)
def templates():
    return render_template("admin/templates.html", rows=template_service.all_templates())


def _fill_choices(form: TemplateForm, current_key: str | None) -> None:
    keys = template_service.deployed_process_keys()
    if current_key and current_key not in keys:
        keys.append(current_key)  # kept visible (the service says it is no longer deployed)
    form.process_key.choices = [SelectChoice(k, k) for k in keys]
    form.group_id.choices = [SelectChoice(None, _("No group"))] + [
        SelectChoice(g.id, g.name) for g in db.session.execute(select(Group).order_by(Group.name)).scalars()]


def _page(form: TemplateForm, template, general: list[str], status: int = 200):
    return render_template("admin/template_form.html", form=form, template=template, general=general), status


def _save(form: TemplateForm, template):
    _fill_choices(form, template.process_key if template else None)
    if form.validate_on_submit():
        try:
            saved = template_service.save_template(
                current_user, template, name=form.name.data, process_key=form.process_key.data,
                subject=form.subject.data or "", description=form.description.data or "",
                service=form.service.data or "", category=form.category.data or "",
                priority=form.priority.data or "", group_id=form.group_id.data,
                for_requesters=form.for_requesters.data, position=form.position.data or 0,
                active=form.active.data)
        except ValidationFailed as err:
            db.session.rollback()
            general = []
            for name, messages in (err.errors or {}).items():
                if name in form and name != "csrf_token":
                    form[name].errors = list(form[name].errors or []) + [str(m) for m in messages]
                else:
                    general.extend(str(m) for m in messages)
            return _page(form, template, general, 422)
        db.session.commit()
        flash(_("Template %(name)s is saved.", name=saved.name), "success")
        return redirect(url_for("admin.templates"))
    if request.method == "POST":
        return _page(form, template, [_("Correct the marked fields and save again.")], 422)
    return _page(form, template, [])


@bp.route("/templates/new", methods=["GET", "POST"])
@requires(MANAGE_USERS)
def template_new():
    form = TemplateForm()
    if request.method == "GET":
        form.process_key.data = "incident"
    return _save(form, None)


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@requires(MANAGE_USERS)
def template_edit(template_id: int):
    template = template_service.template_by_id(template_id)
    form = TemplateForm(obj=template if request.method == "GET" else None)
    return _save(form, template)


@bp.post("/templates/<int:template_id>/active")
@requires(MANAGE_USERS)
def template_active(template_id: int):
    template = template_service.template_by_id(template_id)
    active = request.form.get("active") == "1"
    template_service.set_template_active(current_user, template, active)
    db.session.commit()
    flash(_("Template %(name)s is active again.", name=template.name) if active
          else _("Template %(name)s is deactivated: it is no longer offered.", name=template.name), "success")
    return redirect(url_for("admin.templates"))


@bp.post("/templates/<int:template_id>/move")
@requires(MANAGE_USERS)
def template_move(template_id: int):
    template = template_service.template_by_id(template_id)
    template_service.move_template(current_user, template, -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    return redirect(url_for("admin.templates"))
