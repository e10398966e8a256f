"""`hostctl domain check` through a real control plane asking a real PowerDNS: what DNS says
against what is expected, changing nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import ControlPlane

PLATFORM_IP = "93.184.215.14"  # record data only: nothing is sent there


@pytest.fixture(scope="module")
def dns_cp(powerdns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(
        tmp_path_factory.mktemp("dns") / "data",
        extra_env={
            "HOSTPLANE_DNS_RESOLVERS": powerdns.resolver,
            "HOSTPLANE_PUBLIC_IPS": PLATFORM_IP,
        },
    ).start()
    assert cp.cli("site", "create", "shop", "--wait").returncode == 0
    yield cp
    cp.stop()


@pytest.fixture
def zone(powerdns) -> str:
    name = f"z{uuid.uuid4().hex[:8]}.test"
    powerdns.zone(name)
    return name


def test_right_dns_exits_zero(dns_cp, powerdns, zone):
    powerdns.records(zone, f"www.{zone}", "A", [PLATFORM_IP])
    result = dns_cp.cli("domain", "check", "shop", f"WWW.{zone.upper()}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"www.{zone}" in result.stdout and "DNS is right" in result.stdout


def test_wrong_dns_exits_one_showing_found_and_expected(dns_cp, powerdns, zone):
    powerdns.records(zone, f"www.{zone}", "A", ["151.101.1.69"])
    result = dns_cp.cli("domain", "check", "shop", f"www.{zone}", "--json")
    assert result.returncode == 1
    view = json.loads(result.stdout)
    assert view["ok"] is False and view["found"] == ["151.101.1.69"]
    assert PLATFORM_IP in view["expected"]
    assert "151.101.1.69 is not one of the platform's addresses" in view["problems"]


def test_bad_requests_are_one_line_errors(dns_cp):
    for args, expect in [
        (["shop", "exa mple.org"], "not a domain name"),
        (["shop", "www.shop.localhost"], "under the platform's base domain"),
        (["nosuchsite", "www.example.org"], "no live site"),
    ]:
        result = dns_cp.cli("domain", "check", *args)
        assert result.returncode == 2, result
        assert expect in result.stderr and len(result.stderr.strip().splitlines()) == 1, result
