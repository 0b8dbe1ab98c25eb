"""Admin pages: support groups and roles."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..permissions import MANAGE_USERS, PERMISSIONS
from ..services import user_admin
from ..web.guard import requires
from . import bp
from .forms import GroupForm, RoleForm

# --- groups ------------------------------------------------------------------------------


def _groups_page(form: GroupForm, status: int = 200, rename_errors: dict | None = None):
    return render_template("admin/groups.html", rows=user_admin.list_groups(), form=form,
                           rename_errors=rename_errors or {}), status


@bp.get("/groups")
@requires(MANAGE_USERS)
def groups():
    return _groups_page(GroupForm(formdata=None))


@bp.post("/groups")
@requires(MANAGE_USERS)
def group_create():
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = user_admin.save_group(current_user, None, form.name.data)
        except ValidationFailed as err:
            db.session.rollback()
            form.name.errors = list(form.name.errors) + [str(m) for m in err.errors.get("name", [])]
            return _groups_page(form, 422)
        db.session.commit()
        flash(_("Group %(name)s is created.", name=group.name), "success")
        return redirect(url_for("admin.groups"))
    return _groups_page(form, 422)


@bp.post("/groups/<int:group_id>/rename")
@requires(MANAGE_USERS)
def group_rename(group_id: int):
    group = user_admin.get_group(group_id)
    name = request.form.get("name", "")
    try:
        user_admin.save_group(current_user, group, name)
    except ValidationFailed as err:
        db.session.rollback()
        messages = [str(m) for m in err.errors.get("name", [])]
        return _groups_page(GroupForm(formdata=None), 422, {group_id: {"value": name, "errors": messages}})
    db.session.commit()
    flash(_("The group is renamed to %(name)s.", name=group.name), "success")
    return redirect(url_for("admin.groups"))


@bp.post("/groups/<int:group_id>/delete")
@requires(MANAGE_USERS)
def group_delete(group_id: int):
    group = user_admin.get_group(group_id)
    name = group.name
    try:
        user_admin.delete_group(current_user, group)
    except Conflict as err:
        db.session.rollback()
        flash(str(err.message), "danger")
        return redirect(url_for("admin.groups"))
    db.session.commit()
    flash(_("Group %(name)s is deleted.", name=name), "success")
    return redirect(url_for("admin.groups"))


# --- roles -------------------------------------------------------------------------------

def _permission_choices():
    return [SelectChoice(key, str(label)) for key, label in PERMISSIONS.items()]


@bp.get("/roles")
@requires(MANAGE_USERS)
def roles():
    return render_template("admin/roles.html", roles=user_admin.list_roles(), counts=user_admin.role_user_counts(),
                           permissions=PERMISSIONS)


def _role_page(form: RoleForm, role, general: list[str], status: int = 200):
    return render_template("admin/role_form.html", form=form, role=role, general=general,
                           permissions=PERMISSIONS), status


def _save_role(form: RoleForm, role):
    form.permissions.choices = _permission_choices()
    if role is not None and role.builtin:
        if request.method == "POST":
            flash(_("Built-in roles cannot be changed; create a custom role instead."), "danger")
            return redirect(url_for("admin.role_edit", role_id=role.id))
        return _role_page(form, role, [])
    if form.validate_on_submit():
        try:
            saved = user_admin.save_role(current_user, role, form.name.data, form.permissions.data or [])
        except ValidationFailed as err:
            db.session.rollback()
            general = []
            for name, messages in (err.errors or {}).items():
                if name in ("name", "permissions"):
                    form[name].errors = list(form[name].errors or []) + [str(m) for m in messages]
                else:
                    general.extend(str(m) for m in messages)
            return _role_page(form, role, general, 422)
        db.session.commit()
        flash(_("Role %(name)s is saved.", name=saved.name), "success")
        return redirect(url_for("admin.roles"))
    if request.method == "POST":
        return _role_page(form, role, [_("Correct the marked fields and save again.")], 422)
    return _role_page(form, role, [])


@bp.route("/roles/new", methods=["GET", "POST"])
@requires(MANAGE_USERS)
def role_new():
    return _save_role(RoleForm(), None)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
@requires(MANAGE_USERS)
def role_edit(role_id: int):
    role = user_admin.get_role(role_id)
    form = RoleForm()
    if request.method == "GET":
        form.name.data = role.name
        form.permissions.data = list(role.permissions or [])
    return _save_role(form, role)


@bp.post("/roles/<int:role_id>/delete")
@requires(MANAGE_USERS)
def role_delete(role_id: int):
    role = user_admin.get_role(role_id)
    name = role.name
    try:
        user_admin.delete_role(current_user, role)
    except (Conflict, ValidationFailed) as err:
        db.session.rollback()
        messages = [str(m) for ms in (err.errors or {}).values() for m in ms] if isinstance(err.errors, dict) else []
        flash(" ".join(messages) or str(err.message), "danger")
        return redirect(url_for("admin.roles"))
    db.session.commit()
    flash(_("Role %(name)s is deleted.", name=name), "success")
    return redirect(url_for("admin.roles"))
