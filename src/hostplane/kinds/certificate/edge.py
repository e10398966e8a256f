"""What certificates add to the edge's desired state: the PEMs of served domains, and the
ACME challenges being answered."""

from __future__ import annotations

from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.certificate.model import CERT_PEM, KEY_PEM, OWNER
from hostplane.kinds.domain.repo import served_domains
from hostplane.kinds.site.edge import EdgeDraft
from hostplane.providers.edge import AcmeChallenge, EdgeCertificate
from hostplane.services import Services


def contribute(uow: UnitOfWork, services: Services, draft: EdgeDraft) -> None:
    routed = {d.id: d for ds in served_domains(uow, draft.site_id).values() for d in ds}
    sealed = uow.secrets.for_owners(OWNER, list(routed), (CERT_PEM, KEY_PEM))
    for domain in routed.values():
        pems = sealed.get(domain.id, {})
        if CERT_PEM in pems and KEY_PEM in pems:
            draft.certificates.append(
                EdgeCertificate(
                    host=domain.name,
                    certificate_pem=services.secrets.open(pems[CERT_PEM]),
                    key_pem=services.secrets.open(pems[KEY_PEM]),
                )
            )
        if domain.acme_token and domain.acme_validation:
            draft.challenges.append(
                AcmeChallenge(domain.name, domain.acme_token, domain.acme_validation)
            )
