"""The zone kind's pure rules: its lifecycle (every pair), zone names, who may hold a name,
the RRsets a user may set (per type, inside the zone, a CNAME alone), a change as an
operation's options, and the reconciler's findings for one zone."""

from __future__ import annotations

import itertools

import pytest

from hostplane.errors import ConflictError, IllegalTransitionError, ValidationError
from hostplane.kinds.zone.model import (
    LIFECYCLE,
    ZoneStatus,
    apex,
    change_of,
    change_options,
    check_change,
    check_not_held,
    deletion,
    desired,
    overlaps,
    validate_zone_name,
)
from hostplane.kinds.zone.observe import findings_of_zone
from hostplane.providers.powerdns.rrsets import Replace, RRset

Z = ZoneStatus
ALLOWED = {
    (Z.PENDING, Z.PROVISIONING),
    (Z.PROVISIONING, Z.ACTIVE),
    (Z.PROVISIONING, Z.FAILED),
    (Z.ACTIVE, Z.DELETING),
    (Z.DELETING, Z.DELETED),
    (Z.DELETING, Z.FAILED),
    (Z.FAILED, Z.PROVISIONING),
    (Z.FAILED, Z.DELETING),
}


@pytest.mark.parametrize(("a", "b"), list(itertools.product(list(Z), list(Z))))
def test_every_zone_transition_is_allowed_or_refused_as_the_table_says(a, b):
    if (a, b) in ALLOWED:
        LIFECYCLE.check(a, b)
    else:
        with pytest.raises(IllegalTransitionError):
            LIFECYCLE.check(a, b)


def test_deleted_is_final():
    assert LIFECYCLE.final == {Z.DELETED}


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("example.com", "example.com"),
        ("Example.COM.", "example.com"),
        (" shop.example.org ", "shop.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_a_zone_name_is_lowercase_ascii_without_the_dot(raw, name):
    assert validate_zone_name(raw, base_domain="hosting.test") == name


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("com", "no dot"),
        ("_dmarc.example.com", "underscore"),
        ("*.example.com", r"'\*'"),
        ("1.2.3.4", "IP address"),
        ("hosting.test", "base domain"),
        ("shop.hosting.test", "base domain"),
        ("a..b", "empty label"),
        ("-a.example.com", "label"),
        ("a" * 64 + ".com", "label"),
    ],
)
def test_a_bad_zone_name_says_what_to_fix(raw, message):
    with pytest.raises(ValidationError, match=message):
        validate_zone_name(raw, base_domain="hosting.test")


def test_a_name_is_held_at_above_and_below_another_tenants_zone():
    assert overlaps("example.com", "example.com")
    assert overlaps("shop.example.com", "example.com")
    assert overlaps("example.com", "shop.example.com")
    assert not overlaps("myexample.com", "example.com")
    held = [("example.com", "acme")]
    check_not_held("shop.example.com", held, "acme")  # its own tenant
    for name in ("example.com", "shop.example.com"):
        with pytest.raises(ConflictError, match="another tenant"):
            check_not_held(name, held, "beta")
    check_not_held("example.org", held, "beta")


ZONE = "example.com"


def test_an_rrset_is_validated_and_canonical():
    item = desired(ZONE, "WWW.example.com", "a", 60, ["192.0.2.2", "192.0.2.1"])
    assert item == RRset("www.example.com.", "A", 60, ("192.0.2.1", "192.0.2.2"))
    assert desired(ZONE, "@", "MX", 300, ["10 mail.example.com"]).contents == (
        "10 mail.example.com.",
    )
    assert desired(ZONE, "@", "TXT", 300, ["v=spf1 -all"]).contents == ('"v=spf1 -all"',)


@pytest.mark.parametrize(
    ("name", "rtype", "values"),
    [
        ("www.example.com", "A", ["::1"]),
        ("www.example.com", "AAAA", ["192.0.2.1"]),
        ("www.example.org", "A", ["192.0.2.1"]),
        ("@", "SOA", ["a b 1 2 3 4 5"]),
        ("@", "NS", ["ns.example.org"]),
        ("@", "MX", ["mail.example.com"]),
        ("_sip._tcp.example.com", "SRV", ["10 5 sip.example.com"]),
        ("@", "CAA", ["0 issue"]),
        ("www.example.com", "CNAME", ["a.example.org", "b.example.org"]),
        ("www.example.com", "A", ["192.0.2.1", "192.0.2.1"]),
        ("www.example.com", "A", []),
    ],
)
def test_an_invalid_rrset_is_refused(name, rtype, values):
    with pytest.raises(ValidationError):
        desired(ZONE, name, rtype, 300, values)


def test_a_cname_is_alone_at_its_name():
    a = desired(ZONE, "www.example.com", "A", 300, ["192.0.2.1"])
    cname = desired(ZONE, "www.example.com", "CNAME", 300, ["elsewhere.example.org"])
    with pytest.raises(ValidationError, match="CNAME cannot share"):
        check_change([a], Replace(cname))
    check_change([a], deletion(ZONE, "www.example.com", "A"))
    check_change([], Replace(cname))


def test_a_change_survives_the_operations_options():
    item = desired(ZONE, "www.example.com", "TXT", 300, ["a", "b"])
    for change in (Replace(item), deletion(ZONE, "www.example.com", "TXT")):
        assert change_of(change_options(change)) == change


def test_the_reconciler_finds_what_was_changed_or_deleted_by_hand():
    platform = apex(ZONE, ["ns1.hosting.test"], "hostmaster.hosting.test", 3600, 300)
    www = desired(ZONE, "www.example.com", "A", 300, ["192.0.2.1"])
    txt = desired(ZONE, "@", "TXT", 300, ["hello"])
    assert findings_of_zone(ZONE, [www, txt], platform, (*platform, www, txt)) == []
    soa = next(p for p in platform if p.type == "SOA")
    bumped = RRset(soa.name, "SOA", soa.ttl, (soa.contents[0].replace(" 0 ", " 2026120701 "),))
    ns = next(p for p in platform if p.type == "NS")
    assert findings_of_zone(ZONE, [www], platform, (bumped, ns, www)) == []  # serial alone
    changed = RRset(www.name, "A", 300, ("198.51.100.1",))
    extra = RRset("x.example.com.", "A", 60, ("192.0.2.9",))
    found = findings_of_zone(ZONE, [www, txt], platform, (soa, changed, extra))
    assert {(f.kind.value, f.resource, f.action) for f in found} == {
        ("drifted", "rrset:www.example.com. A", "repair"),
        ("missing", "rrset:example.com. TXT", "repair"),
        ("missing", "rrset:example.com. NS", "repair"),
        ("orphaned", "rrset:x.example.com. A", "report"),
    }
    assert all(f.target == ZONE for f in found)


def test_a_tenants_zones_in_an_apply_file_are_created_or_checked():
    from hostplane.cli.apply import sections
    from hostplane.cli.declare import plan
    from hostplane.cli.seedfile import parse

    text = "tenants:\n  - name: acme\n    zones: [example.com, {name: Bad_Name.com}]\n"
    doc = parse(text, sections())
    assert [p.message for p in doc.problems] == [
        "zone Bad_Name.com: zone name 'Bad_Name.com' has an underscore: give a full domain "
        "name such as example.com: two or more labels of letters, digits and hyphens, not "
        "under the platform's base domain"
    ]
    good = parse("tenants:\n  - name: acme\n    zones: [example.com]\n", sections())
    assert good.problems == []
    (tenant, zone) = sorted(good.items, key=lambda i: i.section.key)
    current = {tenant: {"name": "acme", "status": "ACTIVE", "plan": "default"}, zone: None}
    actions, problems = plan(good.items, current, sections())
    assert problems == []
    assert [(a.method, a.path, a.body) for a in actions] == [
        ("POST", "/v1/zones", {"name": "example.com", "tenant": "acme"})
    ]
    other = {**current, zone: {"name": "example.com", "tenant": "beta", "status": "ACTIVE"}}
    assert [p.message for p in plan(good.items, other, sections())[1]] == [
        "zone example.com: belongs to tenant beta: apply does not move zones"
    ]
