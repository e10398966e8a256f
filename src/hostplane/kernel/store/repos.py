"""The kernel's repositories. Repositories are the only place that builds SQL; they add and
read, and the unit of work commits. Each kind keeps its own repository in its folder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hostplane.kernel.finished import FINISHED
from hostplane.kernel.store.tables import (
    AuditEventRow,
    OperationRow,
    OperationStepRow,
    ReconcileRunRow,
    SecretRow,
    StatusEventRow,
    WorkerRow,
)
from hostplane.kernel.store.types import utcnow


class OperationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: OperationRow) -> OperationRow:
        self.session.add(row)
        return row

    def get(self, operation_id: str) -> OperationRow | None:
        return self.session.get(OperationRow, operation_id)

    def by_idempotency_key(self, key: str) -> OperationRow | None:
        stmt = sa.select(OperationRow).where(OperationRow.idempotency_key == key)
        return self.session.scalars(stmt).one_or_none()

    def active_for(self, target: str) -> OperationRow | None:
        stmt = sa.select(OperationRow).where(OperationRow.active_target == target)
        return self.session.scalars(stmt).one_or_none()

    def unfinished(self) -> Sequence[OperationRow]:
        stmt = sa.select(OperationRow).where(OperationRow.active_target.is_not(None))
        return self.session.scalars(stmt.order_by(OperationRow.created_at)).all()

    def latest_for(self, target_id: str) -> OperationRow | None:
        stmt = (
            sa.select(OperationRow)
            .where(OperationRow.target_id == target_id)
            .order_by(OperationRow.created_at.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def finish(self, row: OperationRow, status: str, error: str | None) -> None:
        row.status = status
        row.error = error
        row.finished_at = utcnow()
        row.active_target = None
        operation_id = row.id
        sa.event.listen(
            self.session, "after_commit", lambda _: FINISHED.notify(operation_id), once=True
        )

    def steps(self, operation_id: str) -> Sequence[OperationStepRow]:
        stmt = (
            sa.select(OperationStepRow)
            .where(OperationStepRow.operation_id == operation_id)
            .order_by(OperationStepRow.id)
        )
        return self.session.scalars(stmt).all()

    def start_step(self, operation_id: str, name: str, phase: str) -> OperationStepRow:
        previous = self.session.scalar(
            sa.select(sa.func.count()).where(
                OperationStepRow.operation_id == operation_id,
                OperationStepRow.name == name,
                OperationStepRow.phase == phase,
            )
        )
        row = OperationStepRow(
            operation_id=operation_id,
            name=name,
            phase=phase,
            status="running",
            attempt=(previous or 0) + 1,
        )
        self.session.add(row)
        return row

    def finish_step(
        self, step_id: int, status: str, outcome: str | None, detail: str | None, elapsed_ms: float
    ) -> None:
        """Close a step's record in one UPDATE: nothing of it needs reading first."""
        stmt = (
            sa.update(OperationStepRow)
            .where(OperationStepRow.id == step_id)
            .values(
                status=status,
                outcome=outcome,
                detail=detail,
                finished_at=utcnow(),
                elapsed_ms=round(elapsed_ms, 2),
            )
        )
        if self.session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
            raise AssertionError(f"step record {step_id} is gone")


class ReconcileRunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: ReconcileRunRow) -> ReconcileRunRow:
        self.session.add(row)
        return row

    def get(self, run_id: str) -> ReconcileRunRow | None:
        return self.session.get(ReconcileRunRow, run_id)

    def latest(self) -> ReconcileRunRow | None:
        stmt = sa.select(ReconcileRunRow).order_by(ReconcileRunRow.started_at.desc()).limit(1)
        return self.session.scalars(stmt).first()

    def keep_newest(self, count: int) -> int:
        """Delete all but the `count` newest runs (a run a minute adds up); returns how many."""
        newest = (
            sa.select(ReconcileRunRow.id)
            .order_by(ReconcileRunRow.started_at.desc())
            .limit(count)
            .scalar_subquery()
        )
        result = self.session.execute(
            sa.delete(ReconcileRunRow).where(ReconcileRunRow.id.not_in(newest))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class WorkerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, executor_id: str) -> WorkerRow | None:
        return self.session.get(WorkerRow, executor_id)

    def add(self, row: WorkerRow) -> WorkerRow:
        self.session.add(row)
        return row

    def beat(self, executor_id: str) -> None:
        self.session.execute(
            sa.update(WorkerRow)
            .where(WorkerRow.executor_id == executor_id)
            .values(heartbeat_at=utcnow())
        )

    def silent_since(self, cutoff: datetime, *, other_than: str) -> list[str]:
        stmt = sa.select(WorkerRow.executor_id).where(
            WorkerRow.heartbeat_at < cutoff,
            WorkerRow.recovered_by.is_(None),
            WorkerRow.executor_id != other_than,
        )
        return list(self.session.scalars(stmt))

    def claim(self, executor_id: str, by: str, cutoff: datetime) -> bool:
        """Take over a silent worker; exactly one claimant wins (a conditional UPDATE)."""
        result = self.session.execute(
            sa.update(WorkerRow)
            .where(
                WorkerRow.executor_id == executor_id,
                WorkerRow.recovered_by.is_(None),
                WorkerRow.heartbeat_at < cutoff,
            )
            .values(recovered_by=by, recovered_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class EventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append(self, row: StatusEventRow) -> None:
        self.session.add(row)

    def recent(self, kind: str, resource_id: str, limit: int = 20) -> Sequence[StatusEventRow]:
        stmt = (
            sa.select(StatusEventRow)
            .where(StatusEventRow.resource_kind == kind, StatusEventRow.resource_id == resource_id)
            .order_by(StatusEventRow.id.desc())
            .limit(limit)
        )
        return self.session.scalars(stmt).all()


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        *,
        actor: str,
        action: str,
        target_kind: str,
        target_name: str,
        decision: str,
        reason: str,
        operation_id: str | None = None,
        snapshot: dict[str, Any] | None = None,
        scope: str | None = None,
    ) -> AuditEventRow:
        row = AuditEventRow(
            actor=actor,
            action=action,
            target_kind=target_kind,
            target_name=target_name,
            decision=decision,
            reason=reason,
            operation_id=operation_id,
            snapshot=snapshot or {},
            scope=scope,
        )
        self.session.add(row)
        return row

    def page(
        self, *, before: int | None, limit: int, target: str | None, scope: str | None = None
    ) -> Sequence[AuditEventRow]:
        """Newest first; with `scope`, only the events of that scope."""
        stmt = sa.select(AuditEventRow)
        if scope is not None:
            stmt = stmt.where(AuditEventRow.scope == scope)
        if before is not None:
            stmt = stmt.where(AuditEventRow.id < before)
        if target:
            stmt = stmt.where(AuditEventRow.target_name == target)
        return self.session.scalars(stmt.order_by(AuditEventRow.id.desc()).limit(limit)).all()


class SecretRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _find(self, owner_kind: str, owner_id: str, name: str) -> SecretRow | None:
        stmt = sa.select(SecretRow).where(
            SecretRow.owner_kind == owner_kind,
            SecretRow.owner_id == owner_id,
            SecretRow.name == name,
        )
        return self.session.scalars(stmt).one_or_none()

    def get(self, owner_kind: str, owner_id: str, name: str) -> str | None:
        row = self._find(owner_kind, owner_id, name)
        return row.ciphertext if row else None

    def put(self, owner_kind: str, owner_id: str, name: str, ciphertext: str) -> None:
        row = self._find(owner_kind, owner_id, name)
        if row is None:
            self.session.add(
                SecretRow(
                    owner_kind=owner_kind, owner_id=owner_id, name=name, ciphertext=ciphertext
                )
            )
        else:
            row.ciphertext = ciphertext

    def add(self, owner_kind: str, owner_id: str, name: str, ciphertext: str) -> None:
        """A new secret, never an overwrite: when one exists already the unit of work's
        commit raises ConflictError, so processes making one at once converge on the first."""
        self.session.add(
            SecretRow(owner_kind=owner_kind, owner_id=owner_id, name=name, ciphertext=ciphertext)
        )

    def for_owners(
        self, owner_kind: str, owner_ids: Sequence[str], names: Sequence[str]
    ) -> dict[str, dict[str, str]]:
        """Sealed secrets `names` of many owners in one query: owner id → name → ciphertext."""
        found: dict[str, dict[str, str]] = {}
        if not owner_ids:
            return found
        stmt = sa.select(SecretRow).where(
            SecretRow.owner_kind == owner_kind,
            SecretRow.owner_id.in_(owner_ids),
            SecretRow.name.in_(names),
        )
        for row in self.session.scalars(stmt):
            found.setdefault(row.owner_id, {})[row.name] = row.ciphertext
        return found

    def delete(self, owner_kind: str, owner_id: str, name: str) -> None:
        row = self._find(owner_kind, owner_id, name)
        if row is not None:
            self.session.delete(row)
