"""Admin pages: users, groups, roles and managers; ticket templates."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import views  # noqa: E402,F401  (registers the routes)
