"""Rows to API views."""

from __future__ import annotations

from hostplane.api import schemas
from hostplane.domain.domains import display_name
from hostplane.store.tables import (
    AuditEventRow,
    DomainRow,
    OperationRow,
    OperationStepRow,
    SiteRow,
    StatusEventRow,
)


def operation_url(operation_id: str) -> str:
    return f"/v1/operations/{operation_id}"


def operation_ref(op: OperationRow) -> schemas.OperationRef:
    return schemas.OperationRef(id=op.id, kind=op.kind, status=op.status, url=operation_url(op.id))


def site_summary(site: SiteRow) -> schemas.SiteSummary:
    return schemas.SiteSummary(
        name=site.name,
        type=site.type,
        runtime=site.runtime,
        status=site.status,
        created_at=site.created_at,
        updated_at=site.updated_at,
    )


def domain_view(
    domain: DomainRow, site_name: str, operation: OperationRow | None
) -> schemas.DomainView:
    certificate = None
    if domain.cert_source:
        certificate = schemas.CertificateView(
            source=domain.cert_source,
            not_after=domain.cert_not_after,
            fingerprint=domain.cert_fingerprint,
        )
    return schemas.DomainView(
        name=domain.name,
        display=display_name(domain.name),
        site=site_name,
        status=domain.status,
        last_checked_at=domain.last_checked_at,
        last_error=domain.last_error,
        dns_found=list(domain.dns_found) if domain.dns_found is not None else None,
        dns_expected=domain.dns_expected,
        certificate=certificate,
        operation=operation_ref(operation) if operation else None,
    )


def site_detail(
    site: SiteRow,
    hostname: str,
    domains: list[DomainRow],
    events: list[StatusEventRow],
    operation: OperationRow | None,
) -> schemas.SiteDetail:
    return schemas.SiteDetail(
        **site_summary(site).model_dump(),
        hostname=hostname,
        domains=[domain_view(d, site.name, None) for d in domains],
        last_error=site.last_error,
        operation=operation_ref(operation) if operation else None,
        events=[
            schemas.EventView(
                from_status=e.from_status,
                to_status=e.to_status,
                reason=e.reason,
                actor=e.actor,
                operation_id=e.operation_id,
                at=e.at,
            )
            for e in events
        ],
    )


def operation_view(op: OperationRow, steps: list[OperationStepRow]) -> schemas.OperationView:
    return schemas.OperationView(
        id=op.id,
        kind=op.kind,
        status=op.status,
        target_kind=op.target_kind,
        target=op.target_name,
        actor=op.actor,
        error=op.error,
        options=dict(op.options or {}),
        created_at=op.created_at,
        started_at=op.started_at,
        finished_at=op.finished_at,
        steps=[
            schemas.StepView(
                name=s.name,
                phase=s.phase,
                status=s.status,
                outcome=s.outcome,
                detail=s.detail,
                attempt=s.attempt,
                started_at=s.started_at,
                finished_at=s.finished_at,
                elapsed_ms=s.elapsed_ms,
            )
            for s in steps
        ],
    )


def audit_view(row: AuditEventRow) -> schemas.AuditView:
    return schemas.AuditView(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target_kind=row.target_kind,
        target=row.target_name,
        decision=row.decision,
        reason=row.reason,
        operation_id=row.operation_id,
        snapshot=dict(row.snapshot or {}),
    )
