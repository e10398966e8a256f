"""Recording intent for custom domains: the domain and its operation in one transaction.

A domain has at most one operation at a time (its own active target). Requests
on a domain and on its site touch the site row, so a site destroy and a domain
add racing each other cannot both commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from hostplane.domain.domains import normalize_domain
from hostplane.domain.errors import ConflictError, NotFoundError
from hostplane.domain.lifecycle import DomainStatus, OperationStatus, SiteStatus
from hostplane.store.tables import DomainRow, OperationRow, SiteRow
from hostplane.store.transitions import record_created, transition
from hostplane.store.uow import UnitOfWork
from hostplane.workflows.certificates import UPLOAD_CERT, UPLOAD_KEY, check_upload, due
from hostplane.workflows.services import Services

ADD, REMOVE, RENEW, UPLOAD = (
    "domain-add",
    "domain-remove",
    "certificate-renew",
    "certificate-upload",
)
KINDS = frozenset({ADD, REMOVE, RENEW, UPLOAD})
UPLOADABLE = frozenset(
    {DomainStatus.PENDING, DomainStatus.ACTIVE, DomainStatus.FAILED, DomainStatus.ROUTING}
)


@dataclass(frozen=True, slots=True)
class DomainSubmitted:
    domain: str
    site_name: str
    operation_id: str | None  # None: nothing to do (the domain was already there)
    kind: str | None
    created: bool
    cancel: tuple[str, ...] = ()  # workflows superseded by this request, to stop after commit


def domain_target(name: str) -> str:
    return f"domain:{name}"


def snapshot(domain: DomainRow, site_name: str) -> dict[str, object]:
    return {
        "id": domain.id,
        "name": domain.name,
        "site": site_name,
        "status": domain.status,
        "cert_source": domain.cert_source,
        "cert_fingerprint": domain.cert_fingerprint,
        "created_at": domain.created_at.isoformat(),
    }


def _operation(domain: DomainRow, kind: str, actor: str, site_name: str) -> OperationRow:
    return OperationRow(
        kind=kind,
        target_kind="domain",
        target_name=domain.name,
        target_id=domain.id,
        status=OperationStatus.PENDING,
        active_target=domain_target(domain.name),
        request_hash="",
        options={"site": site_name},
        actor=actor,
    )


def _live_site(uow: UnitOfWork, name: str) -> SiteRow:
    site = uow.sites.get_live(name)
    if site is None:
        raise NotFoundError(f"no live site is named {name!r}")
    return site


def _refuse_if_site_busy(uow: UnitOfWork, site: SiteRow) -> None:
    running = uow.operations.active_for(f"site:{site.name}")
    if running is not None:
        raise ConflictError(
            f"site {site.name!r} has operation {running.id} ({running.kind}) in progress: "
            "wait for it to finish"
        )


def supersede_pending_adds(uow: UnitOfWork, domains: list[DomainRow], actor: str) -> list[str]:
    """Stop domain additions that are only waiting for DNS, so that a removal can go ahead;
    refuse (409) while any other domain operation is at work."""
    cancelled = []
    for domain in domains:
        active = uow.operations.active_for(domain_target(domain.name))
        if active is None:
            continue
        if active.kind == ADD and domain.status == DomainStatus.PENDING:
            uow.operations.finish(
                active, OperationStatus.FAILED, f"superseded: removal requested by {actor}"
            )
            cancelled.append(active.id)
            continue
        raise ConflictError(
            f"domain {domain.name} has operation {active.id} ({active.kind}) at work "
            f"(domain is {domain.status}): wait for it to finish"
        )
    return cancelled


def add_domain(services: Services, *, site_name: str, domain: str, actor: str) -> DomainSubmitted:
    name = normalize_domain(domain, base_domain=services.settings.base_domain)
    with services.store.unit_of_work() as uow:
        site = _live_site(uow, site_name)
        existing = uow.domains.get_live(name)
        if existing is not None and existing.site_id != site.id:
            owner = uow.sites.get(existing.site_id)
            raise ConflictError(
                f"domain {name} already belongs to site {owner.name if owner else '?'!r}: "
                "remove it there first"
            )
        if existing is not None and existing.status != DomainStatus.FAILED:
            if existing.status == DomainStatus.REMOVING:
                raise ConflictError(f"domain {name} is being removed: add it again afterwards")
            last = uow.operations.latest_for(existing.id)
            return DomainSubmitted(
                name, site.name, last.id if last else None, last.kind if last else None, False
            )
        if site.status != SiteStatus.ACTIVE:
            raise ConflictError(
                f"site {site.name!r} is {site.status}: domains are added to ACTIVE sites"
            )
        _refuse_if_site_busy(uow, site)
        uow.sites.touch(site)
        if existing is not None:
            row = existing
            row.last_error = None
            transition(uow, "domain", row, DomainStatus.PENDING, reason="added again", actor=actor)
        else:
            row = uow.domains.add(
                DomainRow(site_id=site.id, name=name, status=DomainStatus.PENDING)
            )
            uow.flush()
        op = uow.operations.add(_operation(row, ADD, actor, site.name))
        uow.flush()
        if existing is None:
            record_created(uow, "domain", row, reason="requested", actor=actor, operation_id=op.id)
        return DomainSubmitted(name, site.name, op.id, op.kind, True)


def remove_domain(
    services: Services, *, site_name: str, domain: str, actor: str
) -> DomainSubmitted:
    name = normalize_domain(domain, base_domain=services.settings.base_domain)
    with services.store.unit_of_work() as uow:
        site = _live_site(uow, site_name)
        row = uow.domains.get_live(name)
        if row is None or row.site_id != site.id:
            raise NotFoundError(f"site {site.name!r} has no domain {name}")
        active = uow.operations.active_for(domain_target(name))
        if row.status == DomainStatus.REMOVING and active is not None:
            return DomainSubmitted(name, site.name, active.id, active.kind, False)
        _refuse_if_site_busy(uow, site)
        cancel = supersede_pending_adds(uow, [row], actor)
        uow.sites.touch(site)
        op = uow.operations.add(_operation(row, REMOVE, actor, site.name))
        uow.flush()
        if row.status != DomainStatus.REMOVING:
            transition(
                uow,
                "domain",
                row,
                DomainStatus.REMOVING,
                reason="removal requested",
                actor=actor,
                operation_id=op.id,
            )
        uow.audit.record(
            actor=actor,
            action="domain.remove",
            target_kind="domain",
            target_name=name,
            decision="allowed",
            reason=f"requested for site {site.name}",
            operation_id=op.id,
            snapshot=snapshot(row, site.name),
        )
        return DomainSubmitted(name, site.name, op.id, op.kind, True, tuple(cancel))


def record_due_renewals(services: Services, *, actor: str) -> list[str]:
    """Renewal operations for ACME certificates inside the renewal window of ACTIVE domains
    that have no operation at work; returns their ids to start."""
    window = services.settings.cert_renew_before_days
    recorded = []
    with services.store.unit_of_work() as uow:
        for domain in uow.domains.with_certificates():
            if domain.cert_source != "acme" or not due(domain, window):
                continue
            if uow.operations.active_for(domain_target(domain.name)) is not None:
                continue
            site = uow.sites.get(domain.site_id)
            op = uow.operations.add(_operation(domain, RENEW, actor, site.name if site else "?"))
            uow.flush()
            recorded.append(op.id)
    return recorded


def upload_certificate(
    services: Services,
    *,
    site_name: str,
    domain: str,
    certificate_pem: str,
    key_pem: str,
    actor: str,
) -> DomainSubmitted:
    """Accept an operator's certificate for the domain: checked now (chain, key, name,
    validity), sealed at once, installed at the edge by the operation."""
    name = normalize_domain(domain, base_domain=services.settings.base_domain)
    fingerprint = check_upload(name, certificate_pem, key_pem)
    with services.store.unit_of_work() as uow:
        site = _live_site(uow, site_name)
        row = uow.domains.get_live(name)
        if row is None or row.site_id != site.id:
            raise NotFoundError(f"site {site.name!r} has no domain {name}")
        if row.status not in UPLOADABLE:
            raise ConflictError(f"domain {name} is {row.status}: it cannot take a certificate")
        active = uow.operations.active_for(domain_target(name))
        if active is not None:
            raise ConflictError(
                f"domain {name} has operation {active.id} ({active.kind}) at work: "
                "wait for it to finish"
            )
        uow.secrets.put("domain", row.id, UPLOAD_CERT, services.secrets.seal(certificate_pem))
        uow.secrets.put("domain", row.id, UPLOAD_KEY, services.secrets.seal(key_pem))
        op = _operation(row, UPLOAD, actor, site.name)
        op.options = {
            "site": site.name,
            "fingerprint": fingerprint,
            "previous_source": row.cert_source,
        }
        uow.operations.add(op)
        uow.flush()
        uow.audit.record(
            actor=actor,
            action="certificate.upload",
            target_kind="domain",
            target_name=name,
            decision="allowed",
            reason=f"certificate {fingerprint[:16]}… checked for {name}",
            operation_id=op.id,
            snapshot=snapshot(row, site.name),
        )
        return DomainSubmitted(name, site.name, op.id, op.kind, True)
