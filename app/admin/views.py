"""Routes of the admin blueprint (one module per page family, imported here).

Every view needs ``manage_users``: users, groups, roles and managers (``users``,
``groups_roles``) and ticket templates (``ticket_templates``).
"""
from . import groups_roles, ticket_templates, users  # noqa: F401  (each registers its routes)
