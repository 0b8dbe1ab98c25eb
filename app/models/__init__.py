"""SQLAlchemy models, one module per domain concept (singular classes, plural tables)."""
from .attachment import Attachment, AttachmentBlob
from .process import DefinitionForm, Deployment, DeploymentFile, Form, ProcessDefinition, Spec
from .runtime import Event, InboxMessage, OutboxMessage, Timer
from .sprint import Sprint
from .template import TicketTemplate
from .ticket import Instance, Ticket, TicketMessage, Watcher, WorkItem
from .user import ApiToken, Group, Role, User, user_groups, user_roles

__all__ = [
    "ApiToken", "Attachment", "AttachmentBlob", "Sprint", "TicketTemplate", "DefinitionForm", "Deployment", "DeploymentFile", "Event", "Form", "Group",
    "InboxMessage", "Instance", "OutboxMessage", "ProcessDefinition", "Role", "Spec", "Ticket",
    "TicketMessage", "Timer", "User", "Watcher", "WorkItem", "user_groups", "user_roles",
]
