"""Certificates from an ACME CA (RFC 8555) with the `acme` library, validated by HTTP-01.

The issuer never serves anything itself: `publish(token, validation)` must make
`http://<domain>/.well-known/acme-challenge/<token>` answer `validation` (the
caller puts it into the edge and confirms it) before the CA is told to look.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
import structlog
from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwk import JWK, JWKRSA

from hostplane.errors import PermanentError, TemporaryError

log = structlog.get_logger(__name__)

Publish = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    fullchain_pem: str
    key_pem: str
    not_after: datetime.datetime
    fingerprint: str  # SHA-256 of the leaf's DER, hex


def new_account_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def new_certificate_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def describe_leaf(fullchain_pem: str) -> tuple[datetime.datetime, str, x509.Certificate]:
    """(not_after, fingerprint, leaf) of the first certificate in a PEM chain."""
    leaf = x509.load_pem_x509_certificates(fullchain_pem.encode())[0]
    fingerprint = leaf.fingerprint(hashes.SHA256()).hex()
    return leaf.not_valid_after_utc, fingerprint, leaf


class AcmeIssuer:
    def __init__(
        self,
        directory_url: str,
        *,
        ca_bundle: Path | None = None,
        email: str | None = None,
        timeout: float = 90.0,
    ) -> None:
        self.directory_url = directory_url
        self.ca_bundle = ca_bundle
        self.email = email
        self.timeout = timeout

    def _client(self, account_key_pem: str) -> tuple[client.ClientV2, JWK]:
        key = serialization.load_pem_private_key(account_key_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        jwk = JWKRSA(key=key)
        verify: bool | str = str(self.ca_bundle) if self.ca_bundle else True
        net = client.ClientNetwork(jwk, user_agent="hostplane", verify_ssl=verify)  # type: ignore[arg-type]
        net.session.trust_env = False  # no proxies from the environment for the CA
        directory = client.ClientV2.get_directory(self.directory_url, net)
        acme = client.ClientV2(directory, net)
        registration = messages.NewRegistration.from_data(
            email=self.email, terms_of_service_agreed=True
        )
        try:
            acme.new_account(registration)
        except errors.ConflictError as exc:  # the key is registered already: use that account
            net.account = messages.RegistrationResource(
                uri=exc.location, body=messages.Registration()
            )
        return acme, jwk

    def issue(self, account_key_pem: str, domain: str, publish: Publish) -> IssuedCertificate:
        """Order a certificate for `domain`, answer its HTTP-01 challenge through `publish`,
        and return the certificate with its new private key."""
        try:
            return self._issue(account_key_pem, domain, publish)
        except requests.RequestException as exc:
            raise TemporaryError(
                f"the ACME server {self.directory_url} did not answer", detail=str(exc)
            ) from exc
        except errors.ValidationError as exc:
            problems = "; ".join(
                str(ch.error)
                for authz in exc.failed_authzrs
                for ch in authz.body.challenges
                if ch.error is not None
            )
            raise PermanentError(
                f"the ACME CA could not validate {domain} over HTTP-01", detail=problems or None
            ) from exc
        except errors.TimeoutError as exc:
            raise TemporaryError(
                f"the ACME CA did not finish the order for {domain} in {self.timeout:g} s"
            ) from exc
        except (errors.Error, messages.Error) as exc:
            raise PermanentError(
                f"the ACME CA refused the order for {domain}", detail=str(exc)
            ) from exc

    def _issue(self, account_key_pem: str, domain: str, publish: Publish) -> IssuedCertificate:
        acme, jwk = self._client(account_key_pem)
        key_pem = new_certificate_key()
        order = acme.new_order(crypto_util.make_csr(key_pem.encode(), [domain]))
        for authz in order.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue  # validated recently for this account
            challenge = next(
                (c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)),
                None,
            )
            if challenge is None:
                raise PermanentError(f"the ACME CA offers no HTTP-01 challenge for {domain}")
            response, validation = challenge.response_and_validation(jwk)
            publish(challenge.chall.encode("token"), validation)
            acme.answer_challenge(challenge, response)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=self.timeout)
        finished = acme.poll_and_finalize(order, deadline)
        fullchain = finished.fullchain_pem
        not_after, fingerprint, leaf = describe_leaf(fullchain)
        log.info(
            "acme.issued", domain=domain, not_after=not_after.isoformat(), issuer=str(leaf.issuer)
        )
        return IssuedCertificate(fullchain, key_pem, not_after, fingerprint)
