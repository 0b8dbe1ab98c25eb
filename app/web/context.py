"""Template helpers every page may use (registered by ``init_web``)."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app, request, url_for
from flask_login import current_user

from ..i18n import _l
from ..permissions import READ_TASKS, has

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_ICON = re.compile(r"^[a-z0-9-]{1,64}$")
DEFAULT_STAGE = {"color": "#37474F", "background": "#ECEFF1", "icon": "circle"}
#: the stage states of DESIGN §5, as people read them
STAGE_STATES = {
    "new": _l("New"), "open": _l("Open"), "in_progress": _l("In progress"), "waiting": _l("Waiting"),
    "resolved": _l("Resolved"), "closed": _l("Closed"), "cancelled": _l("Cancelled"),
}


def stage_state_label(state: str | None) -> str:
    return str(STAGE_STATES.get(state or "", state or ""))


def can(permission: str) -> bool:
    return has(current_user if current_user.is_authenticated else None, permission)


def is_staff(user: Any) -> bool:
    """Someone who works tickets (not a requester or a watcher): "the service desk" to requesters."""
    return user is not None and has(user, READ_TASKS)


def nav_url(endpoint: str, **values: Any) -> str | None:
    """The URL of ``endpoint`` if this app has it (blueprints are optional), else None."""
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


def stage_style(item: Any) -> dict[str, str]:
    """A stage's paint from its diagram, checked: a colour is ``#RRGGBB``, an icon a Bootstrap
    Icons name; anything else falls back to the neutral look (never raw CSS from a diagram)."""
    color = getattr(item, "color", None) or ""
    background = getattr(item, "background", None) or ""
    icon = getattr(item, "icon", None) or ""
    return {
        "color": color if _HEX.match(color) else DEFAULT_STAGE["color"],
        "background": background if _HEX.match(background) else DEFAULT_STAGE["background"],
        "icon": icon if _ICON.match(icon) else DEFAULT_STAGE["icon"],
    }


def _globals() -> dict[str, Any]:
    from ..auth.forms import LANGUAGE_NAMES, LanguageForm

    language_form = None
    if request:
        language_form = LanguageForm(formdata=None, next=request.full_path.rstrip("?"))
    return {"language_form": language_form, "language_names": LANGUAGE_NAMES}


def init_web(app: Flask) -> None:
    from .guard import enforce

    app.before_request(enforce)
    app.context_processor(_globals)
    # globals, not context: macros imported without context (``{% from ... import ... %}``) see them too
    app.jinja_env.globals.update(can=can, nav_url=nav_url, stage_style=stage_style,
                                 stage_state_label=stage_state_label, is_staff=is_staff)
