"""What a custom domain's certificate is (pure): its operations, where its PEMs are sealed,
when it is due, and whether an uploaded one would serve the domain.

The certificate is described on its domain's row (source, expiry, fingerprint) and its PEMs
are sealed secrets owned by the domain.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hostplane.errors import ValidationError
from hostplane.kinds.domain.model import DomainStatus

KIND = "certificate"
PARENT = "domain"


class CertificateOp(enum.StrEnum):
    RENEW = "certificate-renew"
    UPLOAD = "certificate-upload"


class Step(enum.StrEnum):
    CERTIFICATE = "certificate"  # a valid certificate served (part of a domain's addition)
    UPLOAD = "upload"  # an uploaded certificate in force
    RENEW = "renew"  # a renewed ACME certificate in force


OWNER = "domain"  # the sealed PEMs belong to the domain
CERT_PEM, KEY_PEM = "tls_certificate", "tls_key"
UPLOAD_CERT, UPLOAD_KEY = "upload_certificate", "upload_key"  # waiting to be installed
PREVIOUS_CERT, PREVIOUS_KEY = "previous_certificate", "previous_key"  # until the new one serves
ALL_PEMS = (CERT_PEM, KEY_PEM, UPLOAD_CERT, UPLOAD_KEY, PREVIOUS_CERT, PREVIOUS_KEY)
ACCOUNT_OWNER = "acme"
ACCOUNT_KEY = "account_key"
UPLOADABLE = frozenset(
    {DomainStatus.PENDING, DomainStatus.ACTIVE, DomainStatus.FAILED, DomainStatus.ROUTING}
)


def due(not_after: datetime | None, renew_before_days: float, now: datetime | None = None) -> bool:
    """True when there is no certificate (no expiry), or one that expires within the window."""
    if not_after is None:
        return True
    return not_after - (now or datetime.now(UTC)) <= timedelta(days=renew_before_days)


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
    return leaf.fingerprint(hashes.SHA256()).hex()


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
