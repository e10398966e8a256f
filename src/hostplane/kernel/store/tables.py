"""The kernel's tables: operations and their steps, status events, the audit log, sealed
secrets, reconcile runs, workers and the plane's identity. Each kind keeps its own table in
its folder, on the same `Base`. Status columns are written only by kernel.lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hostplane.kernel.store.types import UTCDateTime, new_id, utcnow


class Base(DeclarativeBase):
    pass


class Versioned:
    """Optimistic concurrency: every UPDATE names the version it read."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class OperationRow(Base):
    __tablename__ = "operations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    target_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    target_name: Mapped[str] = mapped_column(String(253), nullable=False)
    target_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # Set while the operation runs, cleared when it ends: the unique index allows
    # one active operation per target on every backend (NULLs never collide).
    active_target: Mapped[str | None] = mapped_column(String(300), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    # The tenant (id) the target belongs to, when it belongs to one: a tenant's token sees
    # only operations of its scope.
    scope: Mapped[str | None] = mapped_column(String(32), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OperationStepRow(Base):
    __tablename__ = "operation_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operation_id: Mapped[str] = mapped_column(
        ForeignKey("operations.id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(32), nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False)  # apply | undo
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running | succeeded | failed
    outcome: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    elapsed_ms: Mapped[float | None] = mapped_column()


class StatusEventRow(Base):
    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    resource_id: Mapped[str] = mapped_column(String(32), nullable=False)
    resource_name: Mapped[str] = mapped_column(String(253), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    operation_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_status_events_resource", "resource_kind", "resource_id", "id"),)


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    target_name: Mapped[str] = mapped_column(String(253), nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)  # allowed | refused
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    operation_id: Mapped[str | None] = mapped_column(String(32))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    scope: Mapped[str | None] = mapped_column(String(32), index=True)  # as the operation's


class SecretRow(Base):
    """Encrypted secrets owned by a resource (database passwords, keys)."""

    __tablename__ = "secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    owner_id: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("uq_secrets_owner_name", "owner_kind", "owner_id", "name", unique=True),
    )


class ReconcileRunRow(Base):
    """One reconcile: what was found, what was done. Its id is its operation's."""

    __tablename__ = "reconcile_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)  # schedule | request
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    prune: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column()
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    repairs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    errors: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)

    __table_args__ = (Index("ix_reconcile_runs_started", "started_at"),)


class PlaneRow(Base):
    """This control plane's identity: made at first start, marked on every external resource
    it creates (Docker labels, MariaDB comments and ledger, system users' comment)."""

    __tablename__ = "plane"

    singleton: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    plane_id: Mapped[str] = mapped_column(String(32), nullable=False)
    # A store that had sites before planes had an identity: their resources carry no plane
    # mark yet, and only this plane may take them as its own (see Plane.owns).
    predates_marks: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class WorkerRow(Base):
    """A worker process and its last sign of life; a worker silent for too long has its
    workflows taken over by another (recovered_by says which)."""

    __tablename__ = "workers"

    executor_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(253), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    recovered_by: Mapped[str | None] = mapped_column(String(100))
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
