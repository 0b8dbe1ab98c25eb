"""Deployed process definitions: versions per BPMN process id, specs stored once."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import DocumentType, JSONType, UTCDateTime, utcnow


class Spec(db.Model):
    """A serialized SpiffWorkflow spec (with the specs it calls), stored once by sha256."""

    __tablename__ = "specs"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[dict] = mapped_column(DocumentType)
    created_at = mapped_column(UTCDateTime, default=utcnow)


class Deployment(db.Model):
    """One upload: the files as they were sent, who sent them and when."""

    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deployed_at = mapped_column(UTCDateTime, default=utcnow)
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    files = relationship("DeploymentFile", cascade="all, delete-orphan")
    deployed_by = relationship("User")


class DeploymentFile(db.Model):
    __tablename__ = "deployment_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # bpmn | dmn | form
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ProcessDefinition(db.Model):
    """Version N of the BPMN process ``key``."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255), default="")
    spec_digest: Mapped[str] = mapped_column(ForeignKey("specs.digest"))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    source_file: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    calls: Mapped[list] = mapped_column(JSONType, default=list)
    stages: Mapped[list] = mapped_column(JSONType, default=list)
    created_at = mapped_column(UTCDateTime, default=utcnow)

    spec = relationship(Spec)  # large: loaded only when asked (services cache compiled specs)
    deployment = relationship(Deployment)


class Form(db.Model):
    """A form spec as deployed; ``name`` is what a stage's ``form`` property names."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("name", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict] = mapped_column(JSONType)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow)


class DefinitionForm(db.Model):
    """Which form version each process definition version uses (forms are pinned too)."""

    __tablename__ = "definition_forms"
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    form = relationship(Form)
