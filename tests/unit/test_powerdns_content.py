"""Names and per-type record content (providers/powerdns/names.py, content.py): the one spelling
PowerDNS accepts, and an error that says what to fix for everything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane.errors import ValidationError
from hostplane.providers.powerdns import content
from hostplane.providers.powerdns.names import canonical_name, in_zone, owner_name, target_name


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Example.COM", "example.com."),
        ("example.com.", "example.com."),
        ("  www.example.com ", "www.example.com."),
        ("Bücher.example", "xn--bcher-kva.example."),
        ("xn--bcher-kva.example", "xn--bcher-kva.example."),
        ("_dmarc.example.com", "_dmarc.example.com."),
        ("_sip._tcp.example.com", "_sip._tcp.example.com."),
        ("*.example.com", "*.example.com."),
    ],
)
def test_names_are_lowercase_ascii_and_absolute(raw, canonical):
    assert canonical_name(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "is empty"),
        (".", "is empty"),
        ("a..example.com", "empty label"),
        ("-a.example.com", "not starting or ending with a hyphen"),
        ("a b.example.com", "letters, digits, hyphens"),
        ("x.*.example.com", "only allowed as the first label"),
        ("xn--zz-.example", "not valid punycode"),
        ("a" * 64 + ".example", "1-63"),
        (".".join(["a" * 60] * 5), "at most 253"),
    ],
)
def test_bad_names_say_what_is_wrong(raw, says):
    with pytest.raises(ValidationError, match=says):
        canonical_name(raw)


def test_wildcards_are_only_for_record_names():
    with pytest.raises(ValidationError, match="only allowed"):
        canonical_name("*.example.com", wildcard=False)


@given(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True))
def test_a_name_inside_its_zone_and_not_inside_a_lookalike(label):
    zone = canonical_name("example.com")
    assert in_zone(canonical_name(f"{label}.example.com"), zone)
    assert in_zone(zone, zone)
    assert not in_zone(canonical_name(f"{label}example.com"), zone)
    assert not in_zone(canonical_name(f"{label}.example.org"), zone)


def test_record_names_must_be_inside_the_zone():
    assert owner_name("@", "example.com") == "example.com."
    assert owner_name("WWW.example.com", "example.com.") == "www.example.com."
    with pytest.raises(ValidationError, match=r"not inside zone example\.com\.: give a full name"):
        owner_name("www", "example.com")
    with pytest.raises(ValidationError, match="not inside zone"):
        owner_name("www.notexample.com", "example.com")


def test_the_root_is_a_target_only_where_it_means_none():
    assert target_name(".", what="MX host", root_allowed=True) == "."
    with pytest.raises(ValidationError, match=r"cannot be '\.'"):
        target_name(".", what="CNAME target")


@pytest.mark.parametrize(
    ("rtype", "value", "expected"),
    [
        ("A", "192.0.2.1", "192.0.2.1"),
        ("AAAA", "2001:DB8:0:0::1", "2001:db8::1"),
        ("CNAME", "Target.Example.NET", "target.example.net."),
        ("NS", "ns.other.example.", "ns.other.example."),
        ("MX", "10 Mail.Example.com", "10 mail.example.com."),
        ("MX", "0 .", "0 ."),
        ("SRV", "10 5 5060 sip.example.com", "10 5 5060 sip.example.com."),
        ("SRV", "0 0 0 .", "0 0 0 ."),
        ("CAA", '0 issue "letsencrypt.org"', '0 issue "letsencrypt.org"'),
        ("CAA", "0 ISSUEWILD letsencrypt.org", '0 issuewild "letsencrypt.org"'),
        ("CAA", '128 iodef "mailto:dns@example.com"', '128 iodef "mailto:dns@example.com"'),
        ("CAA", '0 issue ";"', '0 issue ";"'),
        ("TXT", "v=spf1 -all", '"v=spf1 -all"'),
    ],
)
def test_values_become_powerdns_content(rtype, value, expected):
    assert content.from_value(rtype, value) == expected


@pytest.mark.parametrize(
    ("rtype", "value", "says"),
    [
        ("A", "01.2.3.4", "no leading zeros"),
        ("A", "256.1.1.1", "not an IPv4 address"),
        ("A", "2001:db8::1", "not an IPv4 address"),
        ("AAAA", "192.0.2.1", "not an IPv6 address"),
        ("AAAA", "::ffff:192.0.2.1", "use an A record for 192.0.2.1"),
        ("AAAA", "fe80::1%eth0", "zone index"),
        ("CNAME", ".", "cannot be '.'"),
        ("MX", "mail.example.com", "PREFERENCE HOST"),
        ("MX", "65536 mail.example.com", "from 0 to 65535"),
        ("MX", "-1 mail.example.com", "from 0 to 65535"),
        ("SRV", "10 5 sip.example.com", "PRIORITY WEIGHT PORT TARGET"),
        ("SRV", "10 5 70000 sip.example.com", "SRV port must be"),
        ("CAA", "0 issue", "FLAGS TAG VALUE"),
        ("CAA", '256 issue "x"', "CAA flags"),
        ("CAA", '0 is-sue "x"', "CAA tag"),
        ("CAA", '0 issue "a" "b"', "one quoted string"),
        ("PTR", "host.example.", "not supported"),
    ],
)
def test_bad_values_say_what_to_fix(rtype, value, says):
    with pytest.raises(ValidationError, match=says):
        content.from_value(rtype, value)


def test_observed_content_that_does_not_parse_is_kept_as_it_is():
    assert content.observed("A", "192.0.2.1") == "192.0.2.1"
    assert content.observed("TXT", '"caf\xc3\xa9"'.encode("latin1").decode()) == '"caf\\195\\169"'
    assert content.observed("HINFO", '"PC" "Linux"') == '"PC" "Linux"'
    assert content.observed("A", " garbage ") == "garbage"


def test_a_soa_parses_and_compares_without_its_serial():
    a = content.soa("ns1.example.net. hostmaster.example.com. 2026010101 10800 3600 604800 300")
    b = content.soa("NS1.example.net hostmaster.example.com 7 10800 3600 604800 300")
    assert a.serial == 2026010101 and b.serial == 7
    assert a.without_serial() == b.without_serial()
    assert b.content == "ns1.example.net. hostmaster.example.com. 7 10800 3600 604800 300"
    with pytest.raises(ValidationError, match="MNAME RNAME SERIAL"):
        content.soa("ns1.example.net. 1 2 3")
