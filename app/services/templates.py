"""Ticket templates: the most frequent requests, pre-filled (service, category, priority, group)."""
from __future__ import annotations

from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..i18n import _l
from ..models import TicketTemplate


def list_templates(*, for_requesters: bool) -> list[TicketTemplate]:
    """Active templates in their order; on the portal only those offered to requesters."""
    query = select(TicketTemplate).where(TicketTemplate.active.is_(True))
    if for_requesters:
        query = query.where(TicketTemplate.for_requesters.is_(True))
    return list(db.session.execute(query.order_by(TicketTemplate.position, TicketTemplate.name)).scalars())


def get_template(template_id: int, *, for_requesters: bool) -> TicketTemplate:
    template = db.session.get(TicketTemplate, template_id)
    if template is None or not template.active or (for_requesters and not template.for_requesters):
        raise NotFound(_l("Template %(id)s does not exist.", id=template_id))
    return template


# --- the admin page: create, edit, deactivate, reorder -----------------------------------

PRIORITIES = ("P1", "P2", "P3", "P4")


def all_templates() -> list[TicketTemplate]:
    """Every template, active or not, in order (the admin list)."""
    return list(db.session.execute(select(TicketTemplate).order_by(
        TicketTemplate.active.desc(), TicketTemplate.position, TicketTemplate.name)).scalars())


def template_by_id(template_id: int) -> TicketTemplate:
    template = db.session.get(TicketTemplate, template_id)
    if template is None:
        raise NotFound(_l("Template %(id)s does not exist.", id=template_id))
    return template


def deployed_process_keys() -> list[str]:
    from ..models import ProcessDefinition

    return list(db.session.execute(select(ProcessDefinition.key).where(ProcessDefinition.active.is_(True))
                                   .distinct().order_by(ProcessDefinition.key)).scalars())


def save_template(actor, template: TicketTemplate | None, *, name: str, process_key: str, subject: str = "",
                  description: str = "", service: str = "", category: str = "", priority: str = "",
                  group_id: int | None = None, for_requesters: bool = True, position: int = 0,
                  active: bool = True) -> TicketTemplate:
    """Create (``template`` None) or update a template; every problem at once, by field."""
    from ..errors import ValidationFailed
    from ..models import Group
    from . import audit
    from .definitions import active_definition
    from .tickets import sanitize_html

    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 255:
        errors["name"] = [str(_l("Write a name of 1–255 characters."))]
    else:
        clash = db.session.execute(select(TicketTemplate.id).where(TicketTemplate.name == name)).scalar()
        if clash is not None and (template is None or clash != template.id):
            errors["name"] = [str(_l("A template named %(name)s exists already.", name=name))]
    if not process_key or active_definition(process_key) is None:
        errors["process_key"] = [str(_l("No process %(key)s is deployed.", key=process_key or "?"))]
    if len(subject or "") > 500:
        errors["subject"] = [str(_l("Keep the subject under 500 characters."))]
    if priority and priority not in PRIORITIES:
        errors["priority"] = [str(_l("Choose one of: %(choices)s.", choices=", ".join(PRIORITIES)))]
    if group_id is not None and db.session.get(Group, group_id) is None:
        errors["group_id"] = [str(_l("This group no longer exists; reload the page."))]
    if len(service or "") > 128:
        errors["service"] = [str(_l("Keep it under %(n)s characters.", n=128))]
    if len(category or "") > 64:
        errors["category"] = [str(_l("Keep it under %(n)s characters.", n=64))]
    if errors:
        raise ValidationFailed(errors=errors)
    created = template is None
    if created:
        template = TicketTemplate(name=name)
        db.session.add(template)
    template.name = name
    template.process_key = process_key
    template.subject = (subject or "").strip()
    template.description = sanitize_html(description or "")
    template.service = (service or "").strip() or None
    template.category = (category or "").strip() or None
    template.priority = priority or None
    template.group_id = group_id
    template.for_requesters = bool(for_requesters)
    template.position = int(position or 0)
    template.active = bool(active)
    db.session.flush()
    audit.record(None, "admin.template.created" if created else "admin.template.updated", actor,
                 data={"template": template.id, "name": name, "active": template.active})
    return template


def set_template_active(actor, template: TicketTemplate, active: bool) -> None:
    """Deactivate (hidden from the desk and the portal, kept for history) or reactivate."""
    from . import audit

    template.active = active
    db.session.flush()
    audit.record(None, "admin.template.activated" if active else "admin.template.deactivated", actor,
                 data={"template": template.id, "name": template.name})


def move_template(actor, template: TicketTemplate, direction: int) -> None:
    """Move a template one place up (-1) or down (+1) among the active ones; positions are
    renumbered 10, 20, 30… so that the order is always well defined."""
    ordered = [t for t in all_templates() if t.active == template.active]
    index = ordered.index(template)
    other = index + (1 if direction > 0 else -1)
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered, start=1):
        item.position = position * 10
    db.session.flush()
