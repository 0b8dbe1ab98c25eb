"""Routes of the desk blueprint, one module per page family."""
from . import inbox, register, sprints, subtasks, ticket  # noqa: F401  (each registers its routes)
