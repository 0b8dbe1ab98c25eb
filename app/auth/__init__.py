"""Signing in and out, the language switch and one's own profile (time zone, language)."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import views  # noqa: E402,F401  (registers the routes)
