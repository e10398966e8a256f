"""Recording a certificate's intent: an upload checked and sealed at once, renewals of the
ACME certificates that are due. Certificate operations hold their domain's slot."""

from __future__ import annotations

from hostplane.errors import ConflictError
from hostplane.kernel.operations import Submitted, slot
from hostplane.kinds.certificate.model import (
    OWNER,
    UPLOAD_CERT,
    UPLOAD_KEY,
    UPLOADABLE,
    CertificateOp,
    check_upload,
    due,
)
from hostplane.kinds.domain.lifecycle import snapshot
from hostplane.kinds.domain.model import KIND as DOMAIN
from hostplane.kinds.domain.model import named_domain
from hostplane.kinds.domain.repo import domains
from hostplane.kinds.domain.requests import live_domain_of, new_domain_operation
from hostplane.kinds.site.repo import sites
from hostplane.services import Services


def record_due_renewals(services: Services, *, actor: str) -> list[str]:
    """Renewal operations for ACME certificates inside the renewal window of ACTIVE domains
    that have no operation at work; returns their ids to start."""
    window = services.settings.cert_renew_before_days
    recorded = []
    with services.store.unit_of_work() as uow:
        for domain in domains(uow).with_certificates():
            if domain.cert_source != "acme" or not due(domain.cert_not_after, window):
                continue
            if uow.operations.active_for(slot(DOMAIN, domain.name)) is not None:
                continue
            site = sites(uow).get(domain.site_id)
            sub = new_domain_operation(
                uow, domain, CertificateOp.RENEW, actor, site.name if site else "?"
            )
            assert sub.operation_id is not None
            recorded.append(sub.operation_id)
    return recorded


def upload_certificate(
    services: Services,
    *,
    site_name: str,
    domain: str,
    certificate_pem: str,
    key_pem: str,
    actor: str,
) -> Submitted:
    """Accept an operator's certificate for the domain: checked now (chain, key, name,
    validity), sealed at once, installed at the edge by the operation."""
    name = named_domain(domain, base_domain=services.settings.base_domain)
    fingerprint = check_upload(name, certificate_pem, key_pem)
    with services.store.unit_of_work() as uow:
        site = sites(uow).live_or_404(site_name)
        row = live_domain_of(uow, site, name)
        if row.status not in UPLOADABLE:
            raise ConflictError(f"domain {name} is {row.status}: it cannot take a certificate")
        active = uow.operations.active_for(slot(DOMAIN, name))
        if active is not None:
            raise ConflictError(
                f"domain {name} has operation {active.id} ({active.kind}) at work: "
                "wait for it to finish"
            )
        uow.secrets.put(OWNER, row.id, UPLOAD_CERT, services.secrets.seal(certificate_pem))
        uow.secrets.put(OWNER, row.id, UPLOAD_KEY, services.secrets.seal(key_pem))
        sub = new_domain_operation(
            uow,
            row,
            CertificateOp.UPLOAD,
            actor,
            site.name,
            fingerprint=fingerprint,
            previous_source=row.cert_source,
        )
        uow.audit.record(
            actor=actor,
            action="certificate.upload",
            target_kind=DOMAIN,
            target_name=name,
            decision="allowed",
            reason=f"certificate {fingerprint[:16]}… checked for {name}",
            operation_id=sub.operation_id,
            snapshot=snapshot(row, site.name),
            scope=site.tenant_id,
        )
        return sub
