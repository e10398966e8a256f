"""The DNS verdict (pure): what counts as pointing at the platform."""

from __future__ import annotations

from hostplane.providers.dnscheck.resolver import cloudflare_ranges, parse_resolvers
from hostplane.providers.dnscheck.verdict import (
    DnsAnswer,
    DnsExpectation,
    DnsMode,
    evaluate,
    parse_ips,
)

PLATFORM = DnsExpectation(DnsMode.PUBLIC_IPS, parse_ips(["93.184.215.14", "2a00:1450:4001::10"]))
CLOUDFLARE = DnsExpectation(DnsMode.CLOUDFLARE, cloudflare_ranges=cloudflare_ranges())


def test_all_addresses_at_the_platform_is_right():
    verdict = evaluate(
        DnsAnswer("www.example.org", (), ("93.184.215.14", "2a00:1450:4001::10")), PLATFORM
    )
    assert verdict.ok and verdict.problems == ()


def test_one_stray_address_is_wrong_and_named():
    verdict = evaluate(
        DnsAnswer("www.example.org", (), ("93.184.215.14", "151.101.1.69")), PLATFORM
    )
    assert not verdict.ok
    assert "151.101.1.69 is not one of the platform's addresses" in verdict.explain()
    assert "93.184.215.14" in verdict.expected


def test_nothing_found_says_so():
    verdict = evaluate(DnsAnswer("www.example.org"), PLATFORM)
    assert not verdict.ok and "no A or AAAA record" in verdict.explain()
    assert "found nothing" in verdict.explain()


def test_private_loopback_and_link_local_are_refused_unless_allowed():
    for address, kind in [
        ("10.1.2.3", "private"),
        ("127.0.0.5", "loopback"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
    ]:
        expectation = DnsExpectation(DnsMode.PUBLIC_IPS, parse_ips([address]))
        verdict = evaluate(DnsAnswer("x.example.org", (), (address,)), expectation)
        assert not verdict.ok and kind in verdict.explain()
        allowed = DnsExpectation(DnsMode.PUBLIC_IPS, parse_ips([address]), allow_private=True)
        assert evaluate(DnsAnswer("x.example.org", (), (address,)), allowed).ok


def test_cloudflare_mode_wants_cloudflare_addresses():
    assert evaluate(DnsAnswer("a.example.org", (), ("104.16.1.1", "2606:4700::1")), CLOUDFLARE).ok
    verdict = evaluate(
        DnsAnswer("a.example.org", ("x.example.net",), ("93.184.215.14",)), CLOUDFLARE
    )
    assert not verdict.ok and "not a Cloudflare address" in verdict.explain()
    assert "CNAME x.example.net" in verdict.found


def test_resolver_specs():
    assert parse_resolvers("1.1.1.1, 127.0.0.1:5353,[::1]:53") == [
        ("1.1.1.1", 53),
        ("127.0.0.1", 5353),
        ("::1", 53),
    ]
    for bad in ["dns.google", "1.1.1.1:0", "1.1.1.1:x"]:
        try:
            parse_resolvers(bad)
        except Exception as exc:
            assert "resolver" in str(exc)
        else:
            raise AssertionError(bad)
