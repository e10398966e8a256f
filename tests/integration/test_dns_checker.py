"""DNS lookups against a real authoritative server (PowerDNS on loopback) serving right, wrong
and missing records, CNAME chains and private answers."""

from __future__ import annotations

import uuid

import pytest

from hostplane.providers.base import TemporaryError
from hostplane.providers.dnscheck.resolver import DnsChecker, parse_resolvers
from hostplane.providers.dnscheck.verdict import DnsExpectation, DnsMode, evaluate, parse_ips
from tests.services import free_port

PLATFORM = DnsExpectation(DnsMode.PUBLIC_IPS, parse_ips(["93.184.215.14"]))


@pytest.fixture
def zone(powerdns) -> str:
    name = f"z{uuid.uuid4().hex[:8]}.test"
    powerdns.zone(name)
    return name


@pytest.fixture
def checker(powerdns) -> DnsChecker:
    return DnsChecker(parse_resolvers(powerdns.resolver))


def test_right_records_pass(powerdns, zone, checker):
    powerdns.records(zone, f"www.{zone}", "A", ["93.184.215.14"])
    answer = checker.lookup(f"www.{zone}")
    assert answer.addresses == ("93.184.215.14",)
    assert evaluate(answer, PLATFORM).ok


def test_wrong_records_fail_showing_what_was_found(powerdns, zone, checker):
    powerdns.records(zone, f"www.{zone}", "A", ["151.101.1.69"])
    powerdns.records(zone, f"www.{zone}", "AAAA", ["2a04:4e42::99"])
    verdict = evaluate(checker.lookup(f"www.{zone}"), PLATFORM)
    assert not verdict.ok
    assert set(verdict.found) == {"151.101.1.69", "2a04:4e42::99"}


def test_missing_records_and_missing_names_find_nothing(powerdns, zone, checker):
    powerdns.records(zone, f"txt-only.{zone}", "TXT", ['"hello"'])
    assert checker.lookup(f"txt-only.{zone}").addresses == ()  # the name exists, no address
    assert checker.lookup(f"nothing.{zone}").addresses == ()  # NXDOMAIN


def test_a_resolver_that_refuses_is_temporary(checker):
    # An authoritative server refuses names outside its zones: no answer, not "no records".
    with pytest.raises(TemporaryError, match="no resolver answered"):
        checker.lookup(f"www.no-such-zone-{uuid.uuid4().hex[:6]}.test")


def test_a_cname_chain_is_followed_and_shown(powerdns, zone, checker):
    powerdns.records(zone, f"edge.{zone}", "A", ["93.184.215.14"])
    powerdns.records(zone, f"alias.{zone}", "CNAME", [f"edge.{zone}."])
    powerdns.records(zone, f"www.{zone}", "CNAME", [f"alias.{zone}."])
    answer = checker.lookup(f"www.{zone}")
    assert answer.cnames == (f"alias.{zone}", f"edge.{zone}")
    assert answer.addresses == ("93.184.215.14",)
    assert evaluate(answer, PLATFORM).ok


def test_records_changed_later_are_seen(powerdns, zone, checker):
    powerdns.records(zone, f"www.{zone}", "A", ["10.0.0.8"])
    verdict = evaluate(checker.lookup(f"www.{zone}"), PLATFORM)
    assert not verdict.ok and "private" in verdict.explain()
    powerdns.records(zone, f"www.{zone}", "A", ["93.184.215.14"])
    assert evaluate(checker.lookup(f"www.{zone}"), PLATFORM).ok


def test_a_resolver_that_does_not_answer_is_temporary():
    silent = DnsChecker([("127.0.0.1", free_port())], timeout=0.5)
    with pytest.raises(TemporaryError):
        silent.lookup("www.example.test")
