"""The tunnel's DNS routes through the official `cloudflare` library, against a FAKE of the
Cloudflare API (the real one cannot be reached from here): created, kept, corrected, removed;
records that are not the tunnel's are never touched; errors say what to do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hostplane.errors import PermanentError, TemporaryError
from hostplane.providers.base import Outcome
from hostplane.providers.cloudflared.tunnel import CloudflareDns
from tests.fake_cloudflare_api import TOKEN, FakeCloudflareApi

TUNNEL = "6ff42ae2-765d-4adf-8112-31c55c1551ef"


@pytest.fixture
def fake() -> Iterator[FakeCloudflareApi]:
    api = FakeCloudflareApi(["example.org"])
    yield api
    api.close()


@pytest.fixture
def dns(fake: FakeCloudflareApi) -> CloudflareDns:
    return CloudflareDns(TOKEN, TUNNEL, base_url=fake.url)


def test_route_is_created_once_and_removed_once(fake, dns):
    assert dns.ensure("www.example.org") is Outcome.CREATED
    assert dns.ensure("www.example.org") is Outcome.UNCHANGED
    assert fake.cnames() == {"www.example.org": f"{TUNNEL}.cfargotunnel.com"}
    (record,) = fake.records
    assert record["proxied"] is True and "hostplane" in record["comment"]
    assert dns.remove("www.example.org") is Outcome.DELETED
    assert dns.remove("www.example.org") is Outcome.ABSENT
    assert fake.records == []


def test_a_cname_pointing_elsewhere_is_corrected(fake, dns):
    dns.ensure("a.example.org")
    fake.records[0]["content"] = "somewhere.else.example"
    assert dns.ensure("a.example.org") is Outcome.UPDATED
    assert fake.cnames()["a.example.org"] == f"{TUNNEL}.cfargotunnel.com"


def test_records_that_are_not_the_tunnels_are_left_alone(fake, dns):
    zone_id = fake.zones["example.org"]
    fake.records.append(
        {"id": "x1", "zone_id": zone_id, "name": "b.example.org", "type": "A", "content": "1.2.3.4"}
    )
    with pytest.raises(PermanentError, match="already has A records"):
        dns.ensure("b.example.org")
    assert dns.remove("b.example.org") is Outcome.ABSENT
    assert len(fake.records) == 1


def test_a_domain_outside_the_accounts_zones_is_a_clear_error(dns):
    with pytest.raises(PermanentError, match="no zone of the Cloudflare account holds"):
        dns.ensure("www.other.net")


def test_api_errors_are_classified(fake, dns):
    fake.fail_with = 503
    with pytest.raises(TemporaryError):
        dns.ensure("c.example.org")
    fake.fail_with = 403
    with pytest.raises(PermanentError, match="HTTP 403"):
        dns.ensure("c.example.org")


def test_a_bad_token_is_refused(fake):
    with pytest.raises(PermanentError, match="HTTP 403"):
        CloudflareDns("wrong-token", TUNNEL, base_url=fake.url).ensure("d.example.org")
