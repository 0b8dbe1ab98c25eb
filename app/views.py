"""The minimal home page (the desk and portal come with their own issue)."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from .extensions import db
from .models import ProcessDefinition, Ticket, WorkItem

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    counts = {
        "processes": db.session.execute(select(func.count(func.distinct(ProcessDefinition.key)))).scalar(),
        "open_tickets": db.session.execute(select(func.count()).select_from(Ticket)
                                           .where(Ticket.closed.is_(False))).scalar(),
        "open_stages": db.session.execute(select(func.count()).select_from(WorkItem)
                                          .where(WorkItem.status == "open")).scalar(),
    }
    return render_template("home.html", counts=counts)


@bp.get("/healthz")
def healthz():
    db.session.execute(select(1))
    return {"status": "ok"}
