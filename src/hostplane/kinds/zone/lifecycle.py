"""How a zone's operations move it through its lifecycle: the saga hooks the kernel calls.

A record change is validate → apply → confirm → commit: the request validated the RRset with
the provider's pure validators and recorded it as the operation's intent (not as a row); the
step sends it in one PATCH, which PowerDNS applies whole or not at all; only when that
succeeded does `finish` write the RRset into the database. A refused change leaves both as
they were, and the operation FAILED with PowerDNS's answer.
"""

from __future__ import annotations

from typing import Any, cast

from hostplane.kernel.kind import Plan
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.zone.model import (
    KIND,
    LIFECYCLE,
    ZoneOp,
    ZoneStatus,
    change_of,
    create_plan,
    delete_plan,
    records_plan,
)
from hostplane.kinds.zone.repo import load_zone, records
from hostplane.kinds.zone.table import ZoneRow
from hostplane.providers.powerdns.rrsets import Change, Delete
from hostplane.services import Services


def snapshot(uow: UnitOfWork, zone: ZoneRow) -> dict[str, object]:
    tenant = tenants(uow).get(zone.tenant_id)
    return {
        "id": zone.id,
        "name": zone.name,
        "status": zone.status,
        "tenant": tenant.name if tenant else None,
        "rrsets": [
            {"name": r.name, "type": r.type, "ttl": r.ttl, "contents": list(r.contents)}
            for r in records(uow).of(zone.id)
        ],
        "created_at": zone.created_at.isoformat(),
    }


def _move(uow: UnitOfWork, zone: ZoneRow, to: str, reason: str, op: OperationRow) -> None:
    if zone.status != to:
        transition(uow, LIFECYCLE, zone, to, reason=reason, actor=op.actor, operation_id=op.id)


class ZoneSaga:
    def load(self, uow: UnitOfWork, op: OperationRow) -> ZoneRow:
        return load_zone(uow, op)

    def log_context(self, zone: ZoneRow) -> dict[str, str]:
        return {"zone": zone.name}

    def begin(self, ctx: Services, uow: UnitOfWork, op: OperationRow, zone: ZoneRow) -> Plan:
        if op.kind == ZoneOp.RECORDS:
            return Plan(records_plan(), compensate=False, failure="PowerDNS refused the change")
        if op.kind == ZoneOp.DELETE:
            _move(uow, zone, ZoneStatus.DELETING, "delete started", op)
            return Plan(delete_plan(), undo=True, failure="delete stopped at a step")
        _move(uow, zone, ZoneStatus.PROVISIONING, f"{op.kind} started", op)
        return Plan(create_plan())

    def failed(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, zone: ZoneRow, error: str
    ) -> None:
        """Nothing to put back: the database changes only when an operation succeeded."""

    def finish(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, zone: ZoneRow, error: str | None
    ) -> str | None:
        if op.kind == ZoneOp.RECORDS:
            if error is None:
                return _record(
                    uow, zone, change_of(cast(dict[str, Any], (op.options or {})["change"]))
                )
            return error
        zone.last_error = error
        if op.kind == ZoneOp.DELETE:
            target = ZoneStatus.DELETED if error is None else ZoneStatus.FAILED
            _move(uow, zone, target, error or "removed from PowerDNS", op)
            if error is None:
                audit(uow, op.actor, zone, "zone.deleted", "zone-delete finished", op.id)
                records(uow).remove_all(zone.id)
            return error
        target = ZoneStatus.ACTIVE if error is None else ZoneStatus.FAILED
        _move(uow, zone, target, error or "served by PowerDNS and confirmed", op)
        return error


def _record(uow: UnitOfWork, zone: ZoneRow, change: Change) -> str | None:
    """A confirmed change written into the database, unless the platform took that RRset for
    a domain meanwhile: it stays the platform's (the reconciler puts its values back)."""
    row = records(uow).get(zone.id, *change.key)
    if row is not None and row.managed_by is not None:
        return (
            f"{row.name} {row.type} became the record of custom domain {row.managed_by} while "
            "this change ran: the platform's values stay"
        )
    if isinstance(change, Delete):
        records(uow).remove(zone.id, change.name, change.type)
    else:
        records(uow).put(zone.id, change.rrset)
    return None


def audit(
    uow: UnitOfWork,
    actor: str,
    zone: ZoneRow,
    action: str,
    reason: str,
    operation_id: str | None,
    decision: str = "allowed",
) -> None:
    uow.audit.record(
        actor=actor,
        action=action,
        target_kind=KIND,
        target_name=zone.name,
        decision=decision,
        reason=reason,
        operation_id=operation_id,
        snapshot=snapshot(uow, zone),
        scope=zone.tenant_id,
    )
