"""Tickets and the process instances that run them."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import DocumentType, JSONType, UTCDateTime, utcnow


class Instance(db.Model):
    """A running process instance; ``version`` guards against concurrent writers."""

    __tablename__ = "instances"
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    state: Mapped[dict] = mapped_column(DocumentType)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)  # process data after the last step
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    # running | completed | cancelled | error
    error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    definition = relationship("ProcessDefinition", lazy="joined")


class Ticket(db.Model):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_requester_closed", "requester_id", "closed"),
        # the desk's "priority" sort walks tickets in (priority, id) order (services/queues.py)
        Index("ix_tickets_priority_id", "priority", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    subject: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    priority: Mapped[str | None] = mapped_column(String(16), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16), default="api")
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    process_key: Mapped[str] = mapped_column(String(255), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id"), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    sprint_id: Mapped[int | None] = mapped_column(ForeignKey("sprints.id", ondelete="SET NULL"), index=True)
    estimate: Mapped[int | None] = mapped_column(Integer)  # effort in hours, for sprints
    rating: Mapped[int | None] = mapped_column(Integer)  # 1-5, from the requester's "rate" stage
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at = mapped_column(UTCDateTime, nullable=True)

    requester = relationship("User", foreign_keys=[requester_id])
    instance = relationship(Instance)  # carries the engine state: loaded when needed
    watchers = relationship("Watcher", cascade="all, delete-orphan")
    parent = relationship("Ticket", remote_side=[id], foreign_keys=[parent_id])
    sprint = relationship("Sprint")


class Watcher(db.Model):
    __tablename__ = "watchers"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    user = relationship("User", lazy="joined")


class TicketMessage(db.Model):
    """The thread of a ticket: public messages to/from the requester and internal notes."""

    __tablename__ = "ticket_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    from_requester: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    author = relationship("User", lazy="joined")


class WorkItem(db.Model):
    """A stage of a ticket: one READY (or past) user task, as staff see it in queues."""

    __tablename__ = "work_items"
    __table_args__ = (
        Index("ix_work_items_status_assignee", "status", "assignee_id", "id"),
        Index("ix_work_items_status_group", "status", "group_id", "id"),
        Index("ix_work_items_instance_task", "instance_id", "engine_task_id"),
        # the desk inbox (services/queues.py): all open work by id, by due date, and the
        # new-work counter's unassigned-in-my-groups count as an index-only scan
        Index("ix_work_items_status_id", "status", "id"),
        Index("ix_work_items_status_due", "status", "due_at", "id"),
        Index("ix_work_items_status_group_assignee", "status", "group_id", "assignee_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    engine_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(255))
    process_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500), default="")
    lane: Mapped[str | None] = mapped_column(String(255))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | cancelled
    state: Mapped[str | None] = mapped_column(String(16))
    color: Mapped[str | None] = mapped_column(String(16))
    background: Mapped[str | None] = mapped_column(String(16))
    icon: Mapped[str | None] = mapped_column(String(64))
    form: Mapped[str | None] = mapped_column(String(255))
    due_at = mapped_column(UTCDateTime, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    completed_at = mapped_column(UTCDateTime, nullable=True)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    ticket = relationship(Ticket, lazy="joined")
    group = relationship("Group", lazy="joined")
    assignee = relationship("User", foreign_keys=[assignee_id])
    completed_by = relationship("User", foreign_keys=[completed_by_id])
