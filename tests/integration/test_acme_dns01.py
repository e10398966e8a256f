"""ACME DNS-01 for real: a private Pebble (tests/services_pebble.py) asks a private PowerDNS
(tests/services_pdns.py) for `_acme-challenge` TXT records that the PowerDNS provider
(providers/powerdns/acme.py) publishes. One order for a wildcard and its base name: both
values in one RRset, the certificate names exactly those two, and the records are gone
afterwards; a wrong value fails as DNS-01, and a publish PowerDNS does not answer over DNS fails
before the CA looks: what was written is withdrawn all the same."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence

import dns.message
import dns.query
import dns.rcode
import pytest
from cryptography import x509

from hostplane.errors import PermanentError, TemporaryError
from hostplane.providers.acme.issuer import AcmeIssuer, new_account_key
from hostplane.providers.powerdns.acme import PowerDnsTxtChallenges
from hostplane.providers.powerdns.api import PowerDnsApi
from tests.services import free_port
from tests.services_pdns import API_KEY, PrivatePowerDNS
from tests.services_pebble import PrivatePebble

NAMESERVERS = ["ns1.hostplane-test.net"]
HOSTMASTER = "hostmaster.hostplane-test.net"


@pytest.fixture(scope="module")
def pebble(powerdns: PrivatePowerDNS) -> Iterator[PrivatePebble]:
    """Pebble's DNS questions (DNS-01's TXT lookups) go to the private PowerDNS."""
    server = PrivatePebble(http_port=free_port(), dns_server=powerdns.resolver).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(powerdns: PrivatePowerDNS) -> Iterator[PowerDnsApi]:
    client = PowerDnsApi(
        f"http://127.0.0.1:{powerdns.api_port}", API_KEY, owner=f"hp{uuid.uuid4().hex[:12]}"
    )
    yield client
    client.close()


@pytest.fixture
def zone(api: PowerDnsApi) -> Iterator[str]:
    name = f"acme{uuid.uuid4().hex[:10]}.test"
    api.ensure_zone(name, NAMESERVERS, HOSTMASTER, 60)
    yield name
    api.remove_zone(name)


@pytest.fixture
def txt(api: PowerDnsApi, zone: str, powerdns: PrivatePowerDNS) -> PowerDnsTxtChallenges:
    return PowerDnsTxtChallenges(api, zone, dns_host="127.0.0.1", dns_port=powerdns.dns_port)


@pytest.fixture
def issuer(pebble: PrivatePebble) -> AcmeIssuer:
    return AcmeIssuer(pebble.directory, ca_bundle=pebble.tls_cert, timeout=60)


class Recording:
    """A TxtChallenges that records what passes through it to the real one, publishing
    `wrong` values instead when given."""

    def __init__(self, inner: PowerDnsTxtChallenges, *, wrong: str | None = None) -> None:
        self.inner = inner
        self.wrong = wrong
        self.published: list[dict[str, list[str]]] = []
        self.withdrawn: list[list[str]] = []

    def publish(self, records: Mapping[str, Sequence[str]]) -> None:
        self.published.append({name: list(values) for name, values in records.items()})
        if self.wrong is not None:
            records = {name: [self.wrong] for name in records}
        self.inner.publish(records)

    def withdraw(self, names: Sequence[str]) -> None:
        self.withdrawn.append(list(names))
        self.inner.withdraw(names)


def challenge_txt(api: PowerDnsApi, powerdns: PrivatePowerDNS, zone: str) -> list[str]:
    """Every `_acme-challenge` TXT RRset: as PowerDNS's API holds them, and as it answers."""
    held = [f"{x.name} {x.contents}" for x in api.rrsets(zone) if "_acme-challenge" in x.name]
    query = dns.message.make_query(f"_acme-challenge.{zone}", "TXT")
    response = dns.query.udp(query, "127.0.0.1", port=powerdns.dns_port, timeout=3)
    assert response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
    answered = [rrset.to_text() for rrset in response.answer]
    return held + answered


def test_a_wildcard_and_its_base_name_are_issued_over_dns01_and_the_txt_is_withdrawn(
    issuer, txt, api, zone, powerdns
):
    names = [f"*.{zone}", zone]
    recording = Recording(txt)

    cert = issuer.issue_dns01(new_account_key(), names, recording)

    leaf = x509.load_pem_x509_certificates(cert.fullchain_pem.encode())[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)
    # Both authorizations' values, in one RRset, in one publish.
    assert len(recording.published) == 1
    (published,) = recording.published
    assert list(published) == [f"_acme-challenge.{zone}"]
    assert len(set(published[f"_acme-challenge.{zone}"])) == 2
    assert recording.withdrawn == [[f"_acme-challenge.{zone}"]]
    assert challenge_txt(api, powerdns, zone) == []


def test_a_wrong_txt_value_fails_as_dns01_and_is_withdrawn(issuer, txt, api, zone, powerdns):
    recording = Recording(txt, wrong="not-the-validation-value")

    with pytest.raises(PermanentError, match="DNS-01") as failed:
        issuer.issue_dns01(new_account_key(), [zone], recording)

    assert zone in failed.value.message
    assert failed.value.detail  # the CA's answer
    assert recording.withdrawn == [[f"_acme-challenge.{zone}"]]
    assert challenge_txt(api, powerdns, zone) == []


def test_publish_is_answered_over_dns_and_withdraw_is_idempotent(txt, api, zone, powerdns):
    name = f"_acme-challenge.{zone}"
    txt.publish({name: ["one", "two"], f"_acme-challenge.www.{zone}": ["three"]})
    query = dns.message.make_query(name, "TXT")
    response = dns.query.udp(query, "127.0.0.1", port=powerdns.dns_port, timeout=3)
    texts = {b"".join(rd.strings).decode() for rrset in response.answer for rd in rrset}
    assert texts == {"one", "two"}
    held = {x.name: x for x in api.rrsets(zone) if x.type == "TXT"}
    assert {x.ttl for x in held.values()} == {60}

    txt.withdraw([name, f"_acme-challenge.www.{zone}"])
    txt.withdraw([name, f"{name}."])  # absent (and named twice): nothing to do, no error
    assert challenge_txt(api, powerdns, zone) == []


def test_a_publish_not_answered_over_dns_fails_and_what_it_wrote_is_withdrawn(
    issuer, api, zone, powerdns
):
    silent = PowerDnsTxtChallenges(api, zone, dns_host="127.0.0.1", dns_port=free_port(), timeout=1)
    recording = Recording(silent)

    with pytest.raises(TemporaryError, match="does not answer the ACME DNS-01 TXT record"):
        issuer.issue_dns01(new_account_key(), [f"*.{zone}", zone], recording)

    assert len(recording.published) == 1  # written through the API, never confirmed over DNS
    assert recording.withdrawn == [[f"_acme-challenge.{zone}"]]
    assert challenge_txt(api, powerdns, zone) == []
