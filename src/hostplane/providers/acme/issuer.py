"""Certificates from an ACME CA (RFC 8555) with the `acme` library, validated by HTTP-01 or
DNS-01 (the only way to a wildcard certificate).

The issuer never serves anything itself. HTTP-01: `publish(token, validation)` must make
`http://<domain>/.well-known/acme-challenge/<token>` answer `validation` (the caller puts it
into the edge and confirms it) before the CA is told to look. DNS-01: a TxtChallenges publishes
every TXT record of the order at once, confirmed served, and withdraws them when the order ends.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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


class TxtChallenges(Protocol):
    """DNS-01's TXT records, put where the CA's resolvers find them."""

    def publish(self, records: Mapping[str, Sequence[str]]) -> None:
        """Make DNS answer each name's TXT RRset (`_acme-challenge.<name>` → every validation
        value for it, all in one RRset) and confirm it is answered before returning."""
        ...

    def withdraw(self, names: Sequence[str]) -> None:
        """Remove these names' TXT RRsets; one that is not there already is fine."""
        ...


@dataclass(frozen=True, slots=True)
class Pending:
    """A challenge of a pending authorization, with what answers it."""

    identifier: str  # the name validated: a wildcard's without its `*.`
    body: messages.ChallengeBody
    response: challenges.ChallengeResponse
    validation: str  # HTTP-01: the file's content; DNS-01: the TXT value


def dns01_name(name: str) -> str:
    """Where DNS-01 looks for `name`'s TXT record: `*.example.test` and `example.test` share
    `_acme-challenge.example.test`. Pure."""
    base = name.strip().lower().rstrip(".").removeprefix("*.")
    return f"{challenges.DNS01.LABEL}.{base}"


def dns01_names(names: Iterable[str]) -> list[str]:
    """The TXT names an order for `names` may publish, once each, sorted (what to withdraw).
    Pure."""
    return sorted({dns01_name(name) for name in names})


def dns01_records(answers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(name, validation) pairs grouped into one TXT RRset per challenge name, values in the
    order given, each once. Pure."""
    records: dict[str, list[str]] = {}
    for name, validation in answers:
        values = records.setdefault(dns01_name(name), [])
        if validation not in values:
            values.append(validation)
    return records


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

        def answer(pending: Sequence[Pending]) -> None:
            for challenge in pending:
                publish(challenge.body.chall.encode("token"), challenge.validation)

        with self._provider_errors([domain], "HTTP-01"):
            return self._order(account_key_pem, [domain], challenges.HTTP01, answer)

    def issue_dns01(
        self, account_key_pem: str, names: Sequence[str], txt: TxtChallenges
    ) -> IssuedCertificate:
        """Order one certificate for all `names` (`*.example.test` with `example.test` too),
        answer every authorization's DNS-01 challenge by publishing all the TXT records at once
        through `txt`, and return the certificate with its new private key. What was published
        is withdrawn when the order ends, whether it succeeded or not."""
        if isinstance(names, str):
            raise TypeError("names is a list of names, not one name")
        published: list[str] = []

        def answer(pending: Sequence[Pending]) -> None:
            records = dns01_records((c.identifier, c.validation) for c in pending)
            published.extend(records)  # before publishing: a half-done publish is withdrawn too
            if records:
                txt.publish(records)

        with self._provider_errors(names, "DNS-01"):
            try:
                return self._order(account_key_pem, names, challenges.DNS01, answer)
            finally:
                if published:
                    self._withdraw(txt, published)

    def _withdraw(self, txt: TxtChallenges, fqdns: Sequence[str]) -> None:
        """The order's TXT records removed. A failure here is logged, not raised: the order's
        own error (or the certificate it issued, which cannot be had again) matters more, and
        `withdraw` may be called again for dns01_names(names) at any time."""
        try:
            txt.withdraw(fqdns)
        except Exception as exc:
            log.error("acme.dns01_withdraw_failed", names=list(fqdns), error=str(exc))
        else:
            log.info("acme.dns01_withdrawn", names=list(fqdns))

    @contextmanager
    def _provider_errors(self, names: Sequence[str], method: str) -> Iterator[None]:
        """The `acme` library's and the network's errors as TemporaryError or PermanentError,
        with the CA's answer; Hostplane's own errors (from `publish`) pass unchanged."""
        what = ", ".join(names)
        try:
            yield
        except requests.RequestException as exc:
            raise TemporaryError(
                f"the ACME server {self.directory_url} did not answer ({method} order for {what})",
                detail=str(exc),
            ) from exc
        except errors.ValidationError as exc:
            problems = "; ".join(
                str(ch.error)
                for authz in exc.failed_authzrs
                for ch in authz.body.challenges
                if ch.error is not None
            )
            raise PermanentError(
                f"the ACME CA could not validate {what} over {method}", detail=problems or None
            ) from exc
        except errors.TimeoutError as exc:
            raise TemporaryError(
                f"the ACME CA did not finish the {method} order for {what} in {self.timeout:g} s"
            ) from exc
        except (errors.Error, messages.Error) as exc:
            raise PermanentError(
                f"the ACME CA refused the {method} order for {what}", detail=str(exc)
            ) from exc

    def _order(
        self,
        account_key_pem: str,
        names: Sequence[str],
        kind: type[challenges.KeyAuthorizationChallenge],
        answer: Callable[[Sequence[Pending]], None],
    ) -> IssuedCertificate:
        """One order for `names`: `answer` makes every pending authorization's challenge of
        `kind` answerable (all of them, before the CA is told to look), then the order is
        validated and finalized."""
        if not names:
            raise ValueError("a certificate needs at least one name")
        method = kind.typ.upper()
        acme, jwk = self._client(account_key_pem)
        key_pem = new_certificate_key()
        order = acme.new_order(crypto_util.make_csr(key_pem.encode(), list(names)))
        pending: list[Pending] = []
        for authz in order.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue  # validated recently for this account
            identifier = authz.body.identifier.value
            challenge = next((c for c in authz.body.challenges if isinstance(c.chall, kind)), None)
            if challenge is None:
                raise PermanentError(f"the ACME CA offers no {method} challenge for {identifier}")
            response, validation = challenge.response_and_validation(jwk)
            pending.append(Pending(identifier, challenge, response, validation))
        answer(pending)
        for item in pending:
            acme.answer_challenge(item.body, item.response)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=self.timeout)
        finished = acme.poll_and_finalize(order, deadline)
        fullchain = finished.fullchain_pem
        not_after, fingerprint, leaf = describe_leaf(fullchain)
        log.info(
            "acme.issued",
            names=list(names),
            method=method,
            not_after=not_after.isoformat(),
            issuer=str(leaf.issuer),
        )
        return IssuedCertificate(fullchain, key_pem, not_after, fingerprint)
