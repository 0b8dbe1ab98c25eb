"""Sign in / out, language, profile: thin views over services.users."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ..extensions import db, limiter
from ..i18n import _l
from ..services import users as user_service
from ..web.guard import public, signed_in
from ..web.urls import safe_next
from . import bp
from .forms import LanguageForm, LoginForm, ProfileForm


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_key() -> str:
    return "login:" + (request.form.get("login") or "").strip().lower()


def landing_for(user) -> str:
    """Where a person starts: staff at the desk, requesters on the portal."""
    from ..permissions import ADD_TASKS, EXECUTE_TASKS, MANAGE_USERS, READ_TASKS, has

    for perms, endpoint in (((EXECUTE_TASKS, READ_TASKS), "desk.inbox"), ((MANAGE_USERS,), "admin.index"),
                            ((ADD_TASKS,), "portal.index")):
        if any(has(user, p) for p in perms) and endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"], error_message=_l("Too many sign-in attempts. Wait a minute and try again."))
@limiter.limit(_login_limit, key_func=_login_key, methods=["POST"],
               error_message=_l("Too many sign-in attempts. Wait a minute and try again."))
def login():
    form = LoginForm(next=request.args.get("next"))
    status = 422 if request.method == "POST" else 200  # a field left empty
    if form.validate_on_submit():
        user = user_service.check_password(form.login.data.strip(), form.password.data)
        if user is None:
            form.password.errors.append(_l("Wrong login or password."))
            status = 401
        else:
            login_user(user, remember=form.remember.data)
            session.pop("locale", None)  # the person's own language from now on
            return redirect(safe_next(form.next.data) or landing_for(user))
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@signed_in
def logout():
    logout_user()
    flash(_l("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
@public
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            current_user.locale = form.language.data
            db.session.commit()
        else:
            session["locale"] = form.language.data
    return redirect(safe_next(form.next.data) or url_for("home.index"))


@bp.route("/profile", methods=["GET", "POST"])
@signed_in
def profile():
    form = ProfileForm(obj=None)
    if request.method == "GET":
        form.name.data = current_user.name
        form.language.data = current_user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
        form.timezone.data = current_user.timezone or current_app.config["BABEL_DEFAULT_TIMEZONE"]
    if form.validate_on_submit():
        user_service.update_profile(current_user, name=form.name.data, locale=form.language.data,
                                    timezone=form.timezone.data)
        db.session.commit()
        flash(_l("Your profile is saved."), "success")
        return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form)
