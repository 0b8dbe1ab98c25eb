"""Admin pages: the overview and users (with their roles, groups and manager)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice
from sqlalchemy import func, select

from ..errors import ValidationFailed
from ..extensions import db
from ..models import Group, TicketTemplate, User
from ..permissions import MANAGE_USERS
from ..services import user_admin
from ..web.guard import requires
from . import bp
from .forms import UserForm


@bp.get("/")
@requires(MANAGE_USERS)
def index():
    counts = {
        "users": db.session.execute(select(func.count()).select_from(User)).scalar(),
        "active_users": db.session.execute(select(func.count()).select_from(User).where(User.active.is_(True))).scalar(),
        "groups": db.session.execute(select(func.count()).select_from(Group)).scalar(),
        "roles": len(user_admin.list_roles()),
        "templates": db.session.execute(select(func.count()).select_from(TicketTemplate)).scalar(),
    }
    return render_template("admin/index.html", counts=counts)


@bp.get("/users")
@requires(MANAGE_USERS)
def users():
    q = request.args.get("q", "").strip()
    after = request.args.get("after") or None
    rows, next_cursor = user_admin.list_users(q=q, after=after)
    return render_template("admin/users.html", rows=rows, q=q, after=after, next_cursor=next_cursor)


def _fill_choices(form: UserForm) -> None:
    form.roles.choices = [SelectChoice(r.id, r.name) for r in user_admin.list_roles()]
    form.groups.choices = [SelectChoice(g.id, g.name) for g in db.session.execute(select(Group).order_by(Group.name)).scalars()]


def _fields(form: UserForm) -> user_admin.UserFields:
    return user_admin.UserFields(
        login=form.login.data or "", name=form.name.data or "", email=form.email.data or "",
        phone=form.phone.data or "", password=form.password.data or "", active=bool(form.active.data),
        role_ids=tuple(form.roles.data or ()), group_ids=tuple(form.groups.data or ()),
        manager=form.manager.data or "", locale=form.locale.data or "", timezone=form.timezone.data or "")


def _apply_errors(form: UserForm, err: ValidationFailed) -> list[str]:
    general: list[str] = []
    for name, messages in (err.errors or {}).items():
        if name in form and name != "csrf_token":
            form[name].errors = list(form[name].errors or []) + [str(m) for m in messages]
        else:
            general.extend(str(m) for m in messages)
    return general


def _user_page(form: UserForm, user: User | None, general: list[str], status: int = 200):
    subordinates = user_admin.direct_subordinates(user) if user is not None else []
    return render_template("admin/user_form.html", form=form, user=user, general=general,
                           subordinates=subordinates, logins=user_admin.active_user_logins()), status


def _save(form: UserForm, user: User | None):
    _fill_choices(form)
    if form.validate_on_submit():
        try:
            saved = user_admin.save_user(current_user, user, _fields(form))
        except ValidationFailed as err:
            db.session.rollback()
            return _user_page(form, user, _apply_errors(form, err), 422)
        db.session.commit()
        flash(_("User %(login)s is saved.", login=saved.login), "success")
        return redirect(url_for("admin.user_edit", user_id=saved.id))
    if request.method == "POST":
        return _user_page(form, user, [_("Correct the marked fields and save again.")], 422)
    return _user_page(form, user, [])


@bp.route("/users/new", methods=["GET", "POST"])
@requires(MANAGE_USERS)
def user_new():
    return _save(UserForm(), None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(MANAGE_USERS)
def user_edit(user_id: int):
    user = user_admin.get_user(user_id)
    form = UserForm()
    if request.method == "GET":
        form.login.data, form.name.data = user.login, user.name
        form.email.data, form.phone.data = user.email or "", user.phone or ""
        form.active.data = user.active
        form.roles.data = [r.id for r in user.roles]
        form.groups.data = [g.id for g in user.groups]
        form.manager.data = user.manager.login if user.manager else ""
        form.locale.data, form.timezone.data = user.locale or "", user.timezone or ""
    return _save(form, user)

