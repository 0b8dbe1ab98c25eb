"""The start page (each person is sent on to where they work) and the health check."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template
from flask_login import current_user
from sqlalchemy import select

from .extensions import db
from .web.guard import public

bp = Blueprint("home", __name__)


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        from .auth.views import landing_for

        target = landing_for(current_user)
        if target != "/":
            return redirect(target)
    return render_template("home.html")


@bp.get("/healthz")
@public
def healthz():
    db.session.execute(select(1))
    return {"status": "ok"}
