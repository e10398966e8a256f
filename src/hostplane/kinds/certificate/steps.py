"""A domain's certificate: issued by ACME or uploaded, sealed in the state database,
installed by regenerating the edge, judged by what the edge actually presents."""

from __future__ import annotations

import hashlib
from typing import cast

import structlog

from hostplane.errors import ConflictError, PermanentError
from hostplane.kernel import runtime
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import Options, StepDef
from hostplane.kinds.certificate.model import (
    ACCOUNT_KEY,
    ACCOUNT_OWNER,
    ALL_PEMS,
    CERT_PEM,
    KEY_PEM,
    PREVIOUS_CERT,
    PREVIOUS_KEY,
    UPLOAD_CERT,
    UPLOAD_KEY,
    Step,
    due,
)
from hostplane.kinds.certificate.model import OWNER as CERT_OWNER
from hostplane.kinds.domain.model import ROUTED, is_wildcard, probe_host
from hostplane.kinds.domain.repo import DomainTarget, domains
from hostplane.kinds.site.edge import apply_site
from hostplane.kinds.tenant.model import DNS01
from hostplane.providers.acme.issuer import TxtChallenges, describe_leaf, new_account_key
from hostplane.services import Services

log = structlog.get_logger(__name__)


def ensure(services: Services, target: DomainTarget, options: Options) -> Outcome:
    """The edge presents a valid certificate for the domain: kept if it is not due for
    renewal, otherwise a new one from the ACME CA."""
    domain = target.domain
    renew_before = services.settings.cert_renew_before_days
    if domain.cert_fingerprint and not due(domain.cert_not_after, renew_before):
        _edge(services, target)
        services.edge.confirm_certificate(probe_host(domain.name), domain.cert_fingerprint)
        return Outcome.UNCHANGED
    return renew(services, target)


def renew(services: Services, target: DomainTarget) -> Outcome:
    """A new certificate from the ACME CA: validated by DNS-01 where a hosted zone holds the
    name (the only way for a wildcard), else by HTTP-01 through the edge."""
    domain = target.domain
    if services.acme is None:
        raise PermanentError(
            f"{domain.name} needs a certificate and no ACME CA is configured "
            "(HOSTPLANE_ACME_DIRECTORY), nor was one uploaded"
        )
    had_one = domain.cert_fingerprint is not None
    txt = _dns01(services, domain.name, target.site.tenant_id)
    if txt is not None:
        issued = services.acme.issue_dns01(_account_key(services), [domain.name], txt)
    elif is_wildcard(domain.name):
        raise PermanentError(
            f"{domain.name} is a wildcard: its certificate is validated by DNS-01, which needs "
            "its zone hosted here and ACTIVE"
        )
    else:
        try:
            issued = services.acme.issue(
                _account_key(services),
                domain.name,
                lambda token, validation: _publish(services, target, token, validation),
            )
        finally:
            _withdraw(services, target)
    _store(services, domain.id, issued.fullchain_pem, issued.key_pem, "acme")
    _edge(services, target)
    services.edge.confirm_certificate(probe_host(domain.name), issued.fingerprint)
    return Outcome.UPDATED if had_one else Outcome.CREATED


def _dns01(services: Services, name: str, tenant_id: str | None) -> TxtChallenges | None:
    """Where the name's DNS-01 records are published (tenant.DNS01), if anywhere."""
    for point in runtime.registry().contributions(DNS01):
        txt = point(services, name, tenant_id)
        if txt is not None:
            return cast(TxtChallenges, txt)
    return None


def remove(services: Services, target: DomainTarget, options: Options) -> Outcome:
    domain = target.domain
    with services.store.unit_of_work() as uow:
        row = domains(uow).get(domain.id)
        had = row is not None and (row.cert_fingerprint is not None or row.acme_token is not None)
        for name in ALL_PEMS:
            uow.secrets.delete(CERT_OWNER, domain.id, name)
        if row is not None:
            row.cert_source = row.cert_not_after = row.cert_fingerprint = None
            row.acme_token = row.acme_validation = None
    _edge(services, target)
    return Outcome.DELETED if had else Outcome.ABSENT


def _publish(services: Services, target: DomainTarget, token: str, validation: str) -> None:
    """Put the challenge answer into the edge and see it served, before the CA looks."""
    domain = target.domain
    with services.store.unit_of_work() as uow:
        row = domains(uow).get(domain.id)
        assert row is not None
        row.acme_token, row.acme_validation = token, validation
    try:
        _edge(services, target)
    except PermanentError as exc:
        raise PermanentError(
            f"the edge could not publish the ACME challenge for {domain.name}", detail=str(exc)
        ) from exc
    path = f"/.well-known/acme-challenge/{token}"
    resp = services.edge.get(domain.name, path)
    if resp.status_code != 200 or resp.text != validation:
        raise PermanentError(
            f"the edge does not answer the ACME challenge for {domain.name}",
            detail=f"HTTP {resp.status_code} {resp.text[:200]}",
        )


def _withdraw(services: Services, target: DomainTarget) -> None:
    with services.store.unit_of_work() as uow:
        row = domains(uow).get(target.domain.id)
        if row is None or row.acme_token is None:
            return
        row.acme_token = row.acme_validation = None
    _edge(services, target)


def _edge(services: Services, target: DomainTarget) -> Outcome:
    """The domain's site as the database says, at the edge (its certificate, its challenge)."""
    return apply_site(services, target.site, gone=(target.domain.name,))


def _store(services: Services, domain_id: str, fullchain: str, key_pem: str, source: str) -> None:
    not_after, fingerprint, _ = describe_leaf(fullchain)
    with services.store.unit_of_work() as uow:
        row = domains(uow).get(domain_id)
        assert row is not None
        uow.secrets.put(CERT_OWNER, domain_id, CERT_PEM, services.secrets.seal(fullchain))
        uow.secrets.put(CERT_OWNER, domain_id, KEY_PEM, services.secrets.seal(key_pem))
        row.cert_source, row.cert_not_after, row.cert_fingerprint = source, not_after, fingerprint
    log.info("certificate.stored", domain_id=domain_id, source=source, not_after=str(not_after))


def _account_key(services: Services) -> str:
    """The ACME account key for the configured directory, made once and kept sealed."""
    owner = hashlib.sha256(str(services.settings.acme_directory).encode()).hexdigest()[:32]
    with services.store.unit_of_work() as uow:
        sealed = uow.secrets.get(ACCOUNT_OWNER, owner, ACCOUNT_KEY)
    if sealed is not None:
        return services.secrets.open(sealed)
    key = new_account_key()
    try:
        with services.store.unit_of_work() as uow:
            uow.secrets.put(ACCOUNT_OWNER, owner, ACCOUNT_KEY, services.secrets.seal(key))
    except ConflictError:  # another worker made one first: use that
        with services.store.unit_of_work() as uow:
            sealed = uow.secrets.get(ACCOUNT_OWNER, owner, ACCOUNT_KEY)
        assert sealed is not None
        return services.secrets.open(sealed)
    return key


def install_upload(services: Services, target: DomainTarget, options: Options) -> Outcome:
    """Put the uploaded certificate in place (the one it replaces kept aside for the undo),
    load the edge and, where the domain is served, see the edge present it."""
    domain = target.domain
    outcome = Outcome.UNCHANGED
    with services.store.unit_of_work() as uow:
        pending = (
            uow.secrets.get(CERT_OWNER, domain.id, UPLOAD_CERT),
            uow.secrets.get(CERT_OWNER, domain.id, UPLOAD_KEY),
        )
        current = (
            uow.secrets.get(CERT_OWNER, domain.id, CERT_PEM),
            uow.secrets.get(CERT_OWNER, domain.id, KEY_PEM),
        )
        if pending[0] and pending[1]:
            if current[0] and current[1]:
                uow.secrets.put(CERT_OWNER, domain.id, PREVIOUS_CERT, current[0])
                uow.secrets.put(CERT_OWNER, domain.id, PREVIOUS_KEY, current[1])
            uow.secrets.put(CERT_OWNER, domain.id, CERT_PEM, pending[0])
            uow.secrets.put(CERT_OWNER, domain.id, KEY_PEM, pending[1])
            uow.secrets.delete(CERT_OWNER, domain.id, UPLOAD_CERT)
            uow.secrets.delete(CERT_OWNER, domain.id, UPLOAD_KEY)
            row = domains(uow).get(domain.id)
            assert row is not None
            not_after, fingerprint, _ = describe_leaf(services.secrets.open(pending[0]))
            row.cert_source, row.cert_not_after = "uploaded", not_after
            row.cert_fingerprint = fingerprint
            outcome = Outcome.UPDATED if current[0] else Outcome.CREATED
        row = domains(uow).get(domain.id)
        assert row is not None
        served, fingerprint_now = row.status in ROUTED, row.cert_fingerprint
    _edge(services, target)
    if served and fingerprint_now:
        services.edge.confirm_certificate(probe_host(domain.name), fingerprint_now)
    return outcome


def restore_previous(services: Services, target: DomainTarget, options: Options) -> Outcome:
    """Undo of install_upload: the certificate it replaced (or none) is back in force."""
    domain = target.domain
    previous_source = options.get("previous_source")
    with services.store.unit_of_work() as uow:
        previous = (
            uow.secrets.get(CERT_OWNER, domain.id, PREVIOUS_CERT),
            uow.secrets.get(CERT_OWNER, domain.id, PREVIOUS_KEY),
        )
        row = domains(uow).get(domain.id)
        assert row is not None
        for name in (UPLOAD_CERT, UPLOAD_KEY, PREVIOUS_CERT, PREVIOUS_KEY):
            uow.secrets.delete(CERT_OWNER, domain.id, name)
        if previous[0] and previous[1]:
            uow.secrets.put(CERT_OWNER, domain.id, CERT_PEM, previous[0])
            uow.secrets.put(CERT_OWNER, domain.id, KEY_PEM, previous[1])
            not_after, fingerprint, _ = describe_leaf(services.secrets.open(previous[0]))
            row.cert_source = str(previous_source or "acme")
            row.cert_not_after, row.cert_fingerprint = not_after, fingerprint
        else:
            uow.secrets.delete(CERT_OWNER, domain.id, CERT_PEM)
            uow.secrets.delete(CERT_OWNER, domain.id, KEY_PEM)
            row.cert_source = row.cert_not_after = row.cert_fingerprint = None
    _edge(services, target)
    return Outcome.UPDATED


def _renew(services: Services, target: DomainTarget, options: Options) -> Outcome:
    return renew(services, target)


STEPS: tuple[StepDef[DomainTarget], ...] = (
    StepDef(Step.CERTIFICATE, ensure, remove, "a certificate for the domain served at the edge"),
    StepDef(
        Step.UPLOAD,
        install_upload,
        restore_previous,
        "the uploaded certificate presented by the edge",
    ),
    StepDef(Step.RENEW, _renew, None, "a renewed certificate served at the edge"),
)
