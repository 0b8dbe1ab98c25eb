"""The requester portal: file tickets, follow them, talk with staff, confirm and rate."""
from flask import Blueprint

bp = Blueprint("portal", __name__)

from . import views  # noqa: E402,F401  (registers the routes)
