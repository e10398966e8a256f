"""A custom domain's certificate: upload one, see the one the edge presents."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hostplane.api.deps import ActorDep, ServicesDep, SubmitterDep, errors
from hostplane.errors import ConflictError
from hostplane.kinds.certificate import requests, views
from hostplane.kinds.domain.api import DomainName, accepted, view
from hostplane.kinds.domain.model import named_domain, probe_host
from hostplane.kinds.domain.views import DomainAccepted
from hostplane.kinds.site.api import SiteName

router = APIRouter(prefix="/v1/sites/{name}/domains", tags=["domains"])
ERRORS = errors(401, 404, 409, 422, 503)


@router.put("/{domain}/certificate", status_code=202, responses=ERRORS)
def upload_certificate(
    name: SiteName,
    domain: DomainName,
    body: views.CertificateUpload,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
) -> DomainAccepted:
    """Install an operator's own certificate for the domain (checked first: chain, key,
    name, validity); ACME renewal leaves uploaded certificates alone."""
    sub = requests.upload_certificate(
        services,
        site_name=name,
        domain=domain,
        certificate_pem=body.certificate,
        key_pem=body.key,
        actor=actor,
    )
    return accepted(response, services, submitter, sub, name)


@router.get("/{domain}/certificate", responses=ERRORS)
def served_certificate(
    name: SiteName, domain: DomainName, services: ServicesDep, actor: ActorDep
) -> views.ServedCertificateView:
    """What the edge presents for the domain over HTTPS, against what the database holds;
    409 when this control plane runs no HTTPS (a setting, not an outage)."""
    if not services.settings.edge_https_port:
        raise ConflictError(
            "HTTPS is off at this edge (HOSTPLANE_EDGE_HTTPS_PORT=0): it presents no certificate"
        )
    ascii_name = named_domain(domain, base_domain=services.settings.base_domain)
    stored = view(services, name, ascii_name).certificate
    expected = stored.fingerprint if stored else None
    served = services.edge.served_certificate(probe_host(ascii_name))
    healthy = expected is not None and served == expected
    if healthy:
        explanation = "the edge presents the stored certificate"
    elif expected is None:
        explanation = "no certificate is stored for this domain"
    elif served is None:
        explanation = "the edge presents no certificate for this name"
    else:
        explanation = "the edge presents a different certificate than the stored one"
    return views.ServedCertificateView(
        domain=ascii_name,
        served_fingerprint=served,
        stored_fingerprint=expected,
        healthy=healthy,
        explanation=explanation,
    )
