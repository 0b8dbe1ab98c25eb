"""The staff desk: the inbox, the ticket page, registering by phone, subtasks and sprints."""
from flask import Blueprint

bp = Blueprint("desk", __name__)

from . import views  # noqa: E402,F401  (registers the routes)
