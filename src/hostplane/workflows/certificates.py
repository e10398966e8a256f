"""A domain's certificate: issued by ACME or uploaded, sealed in the state database,
installed by regenerating the edge, judged by what the edge actually presents."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hostplane.domain.errors import ConflictError, PermanentError, ValidationError
from hostplane.providers.acme.issuer import describe_leaf, new_account_key
from hostplane.providers.base import Outcome
from hostplane.store.tables import DomainRow, SiteRow
from hostplane.store.types import utcnow
from hostplane.workflows.edge import (
    CERT_OWNER,
    CERT_PEM,
    KEY_PEM,
    ROUTED_DOMAIN_STATES,
    regenerate_edge,
)
from hostplane.workflows.services import Services

log = structlog.get_logger(__name__)

ACCOUNT_OWNER = "acme"
ACCOUNT_KEY = "account_key"
UPLOAD_CERT, UPLOAD_KEY = "upload_certificate", "upload_key"  # waiting to be installed
PREVIOUS_CERT, PREVIOUS_KEY = "previous_certificate", "previous_key"  # until the new one serves


def due(domain: DomainRow, renew_before_days: float, now: datetime | None = None) -> bool:
    """True when the domain has no certificate, or one that expires within the window."""
    if domain.cert_not_after is None:
        return True
    return domain.cert_not_after - (now or utcnow()) <= timedelta(days=renew_before_days)


def ensure(services: Services, domain: DomainRow, site: SiteRow) -> Outcome:
    """The edge presents a valid certificate for the domain: kept if it is not due for
    renewal, otherwise a new one from the ACME CA."""
    renew_before = services.settings.cert_renew_before_days
    if domain.cert_fingerprint and not due(domain, renew_before):
        regenerate_edge(services)
        services.edge.confirm_certificate(domain.name, domain.cert_fingerprint)
        return Outcome.UNCHANGED
    return renew(services, domain)


def renew(services: Services, domain: DomainRow) -> Outcome:
    if services.acme is None:
        raise PermanentError(
            f"{domain.name} needs a certificate and no ACME CA is configured "
            "(HOSTPLANE_ACME_DIRECTORY), nor was one uploaded"
        )
    had_one = domain.cert_fingerprint is not None
    try:
        issued = services.acme.issue(
            _account_key(services),
            domain.name,
            lambda token, validation: _publish(services, domain, token, validation),
        )
    finally:
        _withdraw(services, domain.id)
    _store(services, domain.id, issued.fullchain_pem, issued.key_pem, "acme")
    regenerate_edge(services)
    services.edge.confirm_certificate(domain.name, issued.fingerprint)
    return Outcome.UPDATED if had_one else Outcome.CREATED


def remove(services: Services, domain: DomainRow, site: SiteRow) -> Outcome:
    with services.store.unit_of_work() as uow:
        row = uow.domains.get(domain.id)
        had = row is not None and (row.cert_fingerprint is not None or row.acme_token is not None)
        for name in (CERT_PEM, KEY_PEM, UPLOAD_CERT, UPLOAD_KEY, PREVIOUS_CERT, PREVIOUS_KEY):
            uow.secrets.delete(CERT_OWNER, domain.id, name)
        if row is not None:
            row.cert_source = row.cert_not_after = row.cert_fingerprint = None
            row.acme_token = row.acme_validation = None
    regenerate_edge(services)
    return Outcome.DELETED if had else Outcome.ABSENT


def _publish(services: Services, domain: DomainRow, token: str, validation: str) -> None:
    """Put the challenge answer into the edge and see it served, before the CA looks."""
    with services.store.unit_of_work() as uow:
        row = uow.domains.get(domain.id)
        assert row is not None
        row.acme_token, row.acme_validation = token, validation
    try:
        regenerate_edge(services)
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


def _withdraw(services: Services, domain_id: str) -> None:
    with services.store.unit_of_work() as uow:
        row = uow.domains.get(domain_id)
        if row is None or row.acme_token is None:
            return
        row.acme_token = row.acme_validation = None
    regenerate_edge(services)


def _store(services: Services, domain_id: str, fullchain: str, key_pem: str, source: str) -> None:
    not_after, fingerprint, _ = describe_leaf(fullchain)
    with services.store.unit_of_work() as uow:
        row = uow.domains.get(domain_id)
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


def check_upload(domain: str, fullchain_pem: str, key_pem: str) -> str:
    """Refuse an uploaded certificate that would not serve `domain` now; return the
    fingerprint of its leaf."""
    try:
        certs = x509.load_pem_x509_certificates(fullchain_pem.encode())
    except ValueError as exc:
        raise ValidationError(f"certificate is not PEM: {exc}") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"key is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValidationError("key must be RSA or ECDSA")
    leaf = certs[0]
    if _public_der(leaf.public_key()) != _public_der(key.public_key()):
        raise ValidationError("the key does not belong to the first certificate of the chain")
    now = datetime.now(UTC)
    if not leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc:
        raise ValidationError(
            f"certificate is valid from {leaf.not_valid_before_utc:%Y-%m-%d} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d}, not now"
        )
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = names.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns_names = []
    if not any(_covers(pattern.lower(), domain) for pattern in dns_names):
        raise ValidationError(
            f"certificate names {', '.join(dns_names) or 'no DNS names'}, not {domain}"
        )
    return describe_leaf(fullchain_pem)[1]


def _public_der(key: Any) -> bytes:
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _covers(pattern: str, domain: str) -> bool:
    if pattern == domain:
        return True
    if pattern.startswith("*."):
        head, _, rest = domain.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


def install_upload(services: Services, domain: DomainRow, site: SiteRow) -> Outcome:
    """Put the uploaded certificate in place (the one it replaces kept aside for the undo),
    load the edge and, where the domain is served, see the edge present it."""
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
            row = uow.domains.get(domain.id)
            assert row is not None
            not_after, fingerprint, _ = describe_leaf(services.secrets.open(pending[0]))
            row.cert_source, row.cert_not_after = "uploaded", not_after
            row.cert_fingerprint = fingerprint
            outcome = Outcome.UPDATED if current[0] else Outcome.CREATED
        row = uow.domains.get(domain.id)
        assert row is not None
        served, fingerprint_now = row.status in ROUTED_DOMAIN_STATES, row.cert_fingerprint
    regenerate_edge(services)
    if served and fingerprint_now:
        services.edge.confirm_certificate(domain.name, fingerprint_now)
    return outcome


def restore_previous(services: Services, domain: DomainRow, site: SiteRow) -> Outcome:
    """Undo of install_upload: the certificate it replaced (or none) is back in force."""
    with services.store.unit_of_work() as uow:
        op = uow.operations.latest_for(domain.id)
        previous_source = (op.options or {}).get("previous_source") if op else None
        previous = (
            uow.secrets.get(CERT_OWNER, domain.id, PREVIOUS_CERT),
            uow.secrets.get(CERT_OWNER, domain.id, PREVIOUS_KEY),
        )
        row = uow.domains.get(domain.id)
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
    regenerate_edge(services)
    return Outcome.UPDATED
