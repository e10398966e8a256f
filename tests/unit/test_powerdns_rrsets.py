"""RRsets, change sets and the drift diff (providers/powerdns/rrsets.py): pure, no server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane.errors import ValidationError
from hostplane.providers.powerdns import rrsets as r
from hostplane.providers.powerdns.rrsets import Delete, Replace, RRset

ZONE = "example.com."
SOA, NS = r.apex(ZONE, ["ns1.example.net", "ns2.example.net"], "hostmaster.example.com", 3600, 300)


def test_an_rrset_is_canonical_sorted_and_validated():
    item = r.rrset("Example.COM", "WWW.example.com", "a", 60, ["192.0.2.2", "192.0.2.1"])
    assert item == RRset("www.example.com.", "A", 60, ("192.0.2.1", "192.0.2.2"))
    txt = r.rrset(ZONE, "@", "TXT", 300, ["v=spf1 -all"])
    assert txt.contents == ('"v=spf1 -all"',)


@pytest.mark.parametrize(
    ("name", "rtype", "ttl", "values", "says"),
    [
        ("www", "A", 60, ["192.0.2.1"], "not inside zone"),
        ("www.example.com", "A", 0, ["192.0.2.1"], "TTL must be"),
        ("www.example.com", "A", True, ["192.0.2.1"], "TTL must be"),
        ("www.example.com", "A", 60, [], "at least one value"),
        ("www.example.com", "A", 60, "192.0.2.1", "at least one value"),
        ("www.example.com", "A", 60, ["192.0.2.1", "192.0.2.01"], "no leading zeros"),
        ("www.example.com", "A", 60, ["192.0.2.1", " 192.0.2.1"], "is given twice"),
        ("www.example.com", "CNAME", 60, ["a.example.net", "b.example.net"], "only one CNAME"),
        ("@", "NS", 60, ["ns.example.net"], "HOSTPLANE_DNS_NAMESERVERS"),
        ("@", "SOA", 60, ["x"], "the zone's own"),
        ("www.example.com", "PTR", 60, ["x."], "not supported"),
    ],
)
def test_bad_rrsets_say_what_to_fix(name, rtype, ttl, values, says):
    with pytest.raises(ValidationError, match=says):
        r.rrset(ZONE, name, rtype, ttl, values)


def test_a_delegation_below_the_zone_may_have_ns_records():
    item = r.rrset(ZONE, "sub.example.com", "NS", 3600, ["ns.sub-host.example."])
    assert item.contents == ("ns.sub-host.example.",)


def test_the_apex_comes_from_the_settings_and_never_from_powerdns_defaults():
    soa_content = "ns1.example.net. hostmaster.example.com. 0 10800 3600 604800 300"
    assert RRset(ZONE, "SOA", 3600, (soa_content,)) == SOA
    assert RRset(ZONE, "NS", 3600, ("ns1.example.net.", "ns2.example.net.")) == NS
    assert "invalid" not in SOA.contents[0]
    # The SOA's primary is the first name server as configured, not the first in order.
    soa, _ = r.apex(ZONE, ["ns9.example.net", "ns1.example.net"], "hm.example.com", 60, 60)
    assert soa.contents[0].startswith("ns9.example.net. hm.example.com. ")
    with pytest.raises(ValidationError, match="at least one name server"):
        r.apex(ZONE, [], "hm.example.com", 60, 60)


def test_with_serial_changes_only_the_serial():
    bumped = r.with_serial(SOA, 2026010105)
    assert r.serial(bumped) == 2026010105
    assert bumped.contents[0].replace("2026010105", "0") == SOA.contents[0]


def test_a_cname_is_alone_at_its_name():
    cname = r.rrset(ZONE, "www.example.com", "CNAME", 60, ["edge.example.net"])
    a = r.rrset(ZONE, "www.example.com", "A", 60, ["192.0.2.1"])
    r.check_exclusive([cname, r.rrset(ZONE, "other.example.com", "A", 60, ["192.0.2.1"])])
    with pytest.raises(ValidationError, match=r"www\.example\.com\. would have a CNAME and A"):
        r.check_exclusive([cname, a])
    apex_cname = r.rrset(ZONE, "@", "CNAME", 60, ["edge.example.net"])
    with pytest.raises(ValidationError, match="a CNAME and NS, SOA"):
        r.check_exclusive([SOA, NS, apex_cname])


def test_effective_changes_leave_out_what_is_already_so():
    a = r.rrset(ZONE, "www.example.com", "A", 60, ["192.0.2.1"])
    same_soa_other_serial = r.with_serial(SOA, 2026010199)
    observed = [SOA, NS, a]
    assert r.effective(observed, [Replace(a), Delete("gone.example.com.", "A")]) == []
    assert r.effective(observed, [Replace(same_soa_other_serial)]) == []
    changed = r.rrset(ZONE, "www.example.com", "A", 60, ["192.0.2.9"])
    longer = r.rrset(ZONE, "www.example.com", "A", 120, ["192.0.2.1"])
    assert r.effective(observed, [Replace(changed)]) == [Replace(changed)]
    assert r.effective(observed, [Replace(longer)]) == [Replace(longer)]
    assert r.effective(observed, [Delete(a.name, "A")]) == [Delete(a.name, "A")]


def test_a_change_set_is_checked_as_the_zone_it_would_leave():
    a = r.rrset(ZONE, "www.example.com", "A", 60, ["192.0.2.1"])
    cname = r.rrset(ZONE, "www.example.com", "CNAME", 60, ["edge.example.net"])
    with pytest.raises(ValidationError, match="would have a CNAME and A"):
        r.effective([SOA, NS, a], [Replace(cname)])
    # Replacing the A by the CNAME in one set is fine: the A is gone when the CNAME lands.
    assert r.effective([SOA, NS, a], [Delete(a.name, "A"), Replace(cname)]) == [
        Delete(a.name, "A"),
        Replace(cname),
    ]
    with pytest.raises(ValidationError, match="changed twice"):
        r.effective([], [Replace(a), Delete(a.name, "A")])


def test_names_outside_the_zone_are_refused_for_a_change_set():
    r.check_in_zone(ZONE, [Delete("www.example.com.", "A")])
    with pytest.raises(ValidationError, match="not inside zone"):
        r.check_in_zone(ZONE, [Delete("www.example.org.", "A")])


def test_diff_finds_missing_drifted_and_extra():
    www = r.rrset(ZONE, "www.example.com", "A", 60, ["192.0.2.1"])
    mail = r.rrset(ZONE, "@", "MX", 60, ["10 mail.example.com"])
    www_by_hand = RRset(www.name, "A", 60, ("192.0.2.66",))
    stray = RRset("stray.example.com.", "TXT", 60, ('"left by hand"',))
    found = r.diff([SOA, NS, www, mail], [SOA, NS, www_by_hand, stray])
    assert found.missing == (mail,)
    assert found.drifted == ((www, www_by_hand),)
    assert found.extra == (stray,)
    assert not found.clean
    assert found.repairs() == [Replace(mail), Replace(www)]
    assert found.repairs(prune=True)[-1] == Delete(stray.name, "TXT")


def test_powerdns_bumping_the_serial_is_not_drift_but_a_changed_soa_is():
    bumped = r.with_serial(SOA, 2026120207)
    assert r.diff([SOA, NS], [bumped, NS]).clean
    other_master = RRset(ZONE, "SOA", 3600, (bumped.contents[0].replace("ns1.", "ns7."),))
    found = r.diff([SOA, NS], [other_master, NS])
    assert found.drifted == ((SOA, other_master),)
    # The repair keeps PowerDNS's serial: it increments from there, never goes back.
    (repair,) = found.repairs()
    assert isinstance(repair, Replace) and r.serial(repair.rrset) == 2026120207


def test_the_same_data_spelt_otherwise_is_not_drift():
    desired = [
        r.rrset(ZONE, "v6.example.com", "AAAA", 60, ["2001:db8::1"]),
        r.rrset(ZONE, "t.example.com", "TXT", 60, ["café"]),
        r.rrset(ZONE, "m.example.com", "MX", 60, ["10 mail.example.com"]),
    ]
    observed = [
        RRset("v6.example.com.", "AAAA", 60, ("2001:DB8:0::1",)),
        RRset("t.example.com.", "TXT", 60, ('"caf\xc3\xa9"'.encode("latin1").decode(),)),
        RRset("M.example.com.", "MX", 60, ("10 Mail.Example.COM.",)),
    ]
    assert r.diff(desired, observed).clean


def _apply(observed: list[RRset], changes: list[r.Change]) -> list[RRset]:
    """What PowerDNS holds after a PATCH of `changes` (replace or delete whole RRsets)."""
    held = {item.key: item for item in observed}
    for change in changes:
        if isinstance(change, Replace):
            held[change.key] = change.rrset
        else:
            held.pop(change.key, None)
    return list(held.values())


addresses = st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=3, unique=True)
labels = st.sampled_from(["www", "api", "mail", "x", "deep.sub"])
rrset_lists = st.lists(
    st.builds(
        lambda label, ttl, values: r.rrset(ZONE, f"{label}.example.com", "A", ttl, values),
        labels,
        st.sampled_from([60, 300]),
        addresses,
    ),
    max_size=5,
    unique_by=lambda item: item.key,
)


@given(rrset_lists, rrset_lists)
def test_repairs_make_the_diff_clean(desired, observed):
    found = r.diff(desired, observed)
    repaired = _apply(observed, found.repairs(prune=True))
    assert r.diff(desired, repaired).clean
    assert r.diff(desired, desired).clean
    # Without prune the extra RRsets stay, and are all that is left.
    kept = r.diff(desired, _apply(observed, found.repairs()))
    assert not kept.missing and not kept.drifted and kept.extra == found.extra
