"""Repositories: the only place that builds SQL. They add and read; the unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hostplane.domain.lifecycle import DomainStatus, OperationStatus, SiteStatus
from hostplane.store.tables import (
    AuditEventRow,
    DomainRow,
    OperationRow,
    OperationStepRow,
    ReconcileRunRow,
    SecretRow,
    SiteRow,
    StatusEventRow,
    WorkerRow,
)
from hostplane.store.types import utcnow


class SiteFields(Protocol):
    """What most readers need of a site: a light row, not an ORM object."""

    id: str
    name: str
    type: str
    runtime: str
    status: str
    port: int | None
    admin_email: str | None


SITE_FIELDS = (
    SiteRow.id,
    SiteRow.name,
    SiteRow.type,
    SiteRow.runtime,
    SiteRow.status,
    SiteRow.port,
    SiteRow.admin_email,
)


class SiteRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: SiteRow) -> SiteRow:
        self.session.add(row)
        return row

    def get(self, site_id: str) -> SiteRow | None:
        return self.session.get(SiteRow, site_id)

    def get_live(self, name: str) -> SiteRow | None:
        stmt = sa.select(SiteRow).where(
            SiteRow.name == name, SiteRow.status != SiteStatus.DESTROYED
        )
        return self.session.scalars(stmt).one_or_none()

    def get_latest(self, name: str) -> SiteRow | None:
        """The live site of that name, else the one destroyed last."""
        live = self.get_live(name)
        if live is not None:
            return live
        stmt = (
            sa.select(SiteRow)
            .where(SiteRow.name == name)
            .order_by(SiteRow.updated_at.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def page(self, *, status: str | None, after: str | None, limit: int) -> Sequence[SiteRow]:
        stmt = sa.select(SiteRow)
        if status is None:
            stmt = stmt.where(SiteRow.status != SiteStatus.DESTROYED)
        else:
            stmt = stmt.where(SiteRow.status == status)
        if after:
            stmt = stmt.where(SiteRow.name > after)
        return self.session.scalars(stmt.order_by(SiteRow.name).limit(limit)).all()

    def touch(self, site: SiteRow) -> None:
        """Bump the site's version: two requests that both touch it cannot both commit, which
        makes checks across tables (a destroy against a domain add) race-free."""
        site.updated_at = utcnow()

    def routed(self) -> Sequence[SiteFields]:
        """The routed sites' fields, without loading ORM objects (thousands per edge render)."""
        stmt = sa.select(*SITE_FIELDS).where(SiteRow.routed.is_(True)).order_by(SiteRow.name)
        return self.session.execute(stmt).all()  # type: ignore[return-value]

    def live_fields(self) -> Sequence[SiteFields]:
        stmt = (
            sa.select(*SITE_FIELDS)
            .where(SiteRow.status != SiteStatus.DESTROYED)
            .order_by(SiteRow.name)
        )
        return self.session.execute(stmt).all()  # type: ignore[return-value]

    def kept_data(self) -> list[str]:
        """Names of destroyed sites whose data was kept (--keep-data) and not taken up by a
        live site of the same name since: their database, files and volume stay."""
        stmt = (
            sa.select(SiteRow.name, OperationRow.options, OperationRow.created_at)
            .join(OperationRow, OperationRow.target_id == SiteRow.id)
            .where(SiteRow.status == SiteStatus.DESTROYED, OperationRow.kind == "destroy")
            .order_by(OperationRow.created_at)
        )
        kept: dict[str, bool] = {}
        for name, options, _ in self.session.execute(stmt):
            kept[name] = bool((options or {}).get("keep_data"))
        live = set(
            self.session.scalars(
                sa.select(SiteRow.name).where(SiteRow.status != SiteStatus.DESTROYED)
            )
        )
        return sorted(n for n, k in kept.items() if k and n not in live)

    def live(self) -> Sequence[SiteRow]:
        stmt = (
            sa.select(SiteRow).where(SiteRow.status != SiteStatus.DESTROYED).order_by(SiteRow.name)
        )
        return self.session.scalars(stmt).all()


class DomainRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: DomainRow) -> DomainRow:
        self.session.add(row)
        return row

    def get(self, domain_id: str) -> DomainRow | None:
        return self.session.get(DomainRow, domain_id)

    def get_live(self, name: str) -> DomainRow | None:
        stmt = sa.select(DomainRow).where(
            DomainRow.name == name, DomainRow.status != DomainStatus.REMOVED
        )
        return self.session.scalars(stmt).one_or_none()

    def with_certificates(self) -> Sequence[DomainRow]:
        stmt = sa.select(DomainRow).where(
            DomainRow.status == DomainStatus.ACTIVE, DomainRow.cert_source.is_not(None)
        )
        return self.session.scalars(stmt.order_by(DomainRow.name)).all()

    def for_site(self, site_id: str, *, live_only: bool = True) -> Sequence[DomainRow]:
        stmt = sa.select(DomainRow).where(DomainRow.site_id == site_id)
        if live_only:
            stmt = stmt.where(DomainRow.status != DomainStatus.REMOVED)
        return self.session.scalars(stmt.order_by(DomainRow.name)).all()

    def for_sites(self, site_ids: Sequence[str]) -> dict[str, list[DomainRow]]:
        """Live domains of many sites in one query."""
        found: dict[str, list[DomainRow]] = {site_id: [] for site_id in site_ids}
        if not site_ids:
            return found
        stmt = (
            sa.select(DomainRow)
            .where(DomainRow.site_id.in_(site_ids), DomainRow.status != DomainStatus.REMOVED)
            .order_by(DomainRow.name)
        )
        for row in self.session.scalars(stmt):
            found[row.site_id].append(row)
        return found


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

    def finish(self, row: OperationRow, status: OperationStatus, error: str | None) -> None:
        row.status = status
        row.error = error
        row.finished_at = utcnow()
        row.active_target = None

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

    def get_step(self, step_id: int) -> OperationStepRow | None:
        return self.session.get(OperationStepRow, step_id)


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
        )
        self.session.add(row)
        return row

    def page(
        self, *, before: int | None, limit: int, target: str | None
    ) -> Sequence[AuditEventRow]:
        stmt = sa.select(AuditEventRow)
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


def as_of(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
