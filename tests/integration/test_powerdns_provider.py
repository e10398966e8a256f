"""The PowerDNS provider against a real PowerDNS (tests/services_pdns.py): every record type
written through it and answered over DNS, whole-RRset replacement, all-or-nothing change sets,
and zones marked as this plane's (a stranger's zone refused and untouched; two planes on one
server each seeing only their own)."""

from __future__ import annotations

import re
import uuid

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import httpx
import pytest

from hostplane.errors import ForeignResourceError, PermanentError, TemporaryError, ValidationError
from hostplane.providers.base import Outcome
from hostplane.providers.powerdns import rrsets as r
from hostplane.providers.powerdns.api import PowerDnsApi
from hostplane.providers.powerdns.rrsets import Delete, Replace, RRset
from tests.services import free_port
from tests.services_pdns import API_KEY, PrivatePowerDNS

NAMESERVERS = ["ns1.hostplane-test.net", "ns2.hostplane-test.net"]
HOSTMASTER = "hostmaster.hostplane-test.net"


def _provider(server: PrivatePowerDNS, owner: str | None = None) -> PowerDnsApi:
    return PowerDnsApi(
        f"http://127.0.0.1:{server.api_port}", API_KEY, owner=owner or f"hp{uuid.uuid4().hex[:12]}"
    )


def _zone() -> str:
    return f"z{uuid.uuid4().hex[:10]}.test."


def ask(server: PrivatePowerDNS, name: str, rtype: str) -> dns.message.Message:
    """PowerDNS's answer, over TCP when it does not fit in UDP (as a resolver asks)."""
    query = dns.message.make_query(name, rtype)
    response, _ = dns.query.udp_with_fallback(query, "127.0.0.1", port=server.dns_port, timeout=3)
    return response


def answer(server: PrivatePowerDNS, name: str, rtype: str) -> set[str]:
    response = ask(server, name, rtype)
    return {
        rd.to_text()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.from_text(rtype)
        for rd in rrset
    }


def soa_serial(server: PrivatePowerDNS, zone: str) -> int:
    (value,) = answer(server, zone, "SOA")
    return int(value.split()[2])


@pytest.fixture
def provider(powerdns):
    p = _provider(powerdns)
    yield p
    p.close()


@pytest.fixture
def zone(provider):
    name = _zone()
    assert provider.ensure_zone(name, NAMESERVERS, HOSTMASTER, 300) is Outcome.CREATED
    return name


def test_every_record_type_written_is_answered_over_dns(powerdns, provider, zone):
    long_text = 'v=DKIM1; k=rsa; "quoted" \\ back ' + "p" * 400 + " é"
    wanted = [
        r.rrset(zone, f"www.{zone}", "A", 60, ["192.0.2.10", "192.0.2.11"]),
        r.rrset(zone, f"www.{zone}", "AAAA", 60, ["2001:DB8::10"]),
        r.rrset(zone, f"alias.{zone}", "CNAME", 60, [f"www.{zone}"]),
        r.rrset(zone, "@", "MX", 60, [f"10 mail.{zone}", "20 backup.example.net"]),
        r.rrset(zone, f"txt.{zone}", "TXT", 60, [long_text, "second record"]),
        r.rrset(zone, f"_sip._tcp.{zone}", "SRV", 60, [f"10 5 5060 sip.{zone}"]),
        r.rrset(zone, "@", "CAA", 60, ['0 issue "letsencrypt.org"', "0 iodef mailto:a@b.test"]),
        r.rrset(zone, f"sub.{zone}", "NS", 60, ["ns.sub-host.example.net"]),
        r.rrset(zone, f"*.wild.{zone}", "A", 60, ["192.0.2.99"]),
    ]
    assert provider.apply_rrsets(zone, [Replace(item) for item in wanted]) is Outcome.UPDATED

    assert answer(powerdns, f"www.{zone}", "A") == {"192.0.2.10", "192.0.2.11"}
    assert answer(powerdns, f"www.{zone}", "AAAA") == {"2001:db8::10"}
    assert answer(powerdns, f"alias.{zone}", "CNAME") == {f"www.{zone}"}
    assert answer(powerdns, zone, "MX") == {f"10 mail.{zone}", "20 backup.example.net."}
    assert answer(powerdns, f"_sip._tcp.{zone}", "SRV") == {f"10 5 5060 sip.{zone}"}
    assert answer(powerdns, zone, "CAA") == {
        '0 issue "letsencrypt.org"',
        '0 iodef "mailto:a@b.test"',
    }
    assert answer(powerdns, f"anything.wild.{zone}", "A") == {"192.0.2.99"}
    texts = ask(powerdns, f"txt.{zone}", "TXT").answer[0]
    joined = {b"".join(rd.strings).decode() for rd in texts}
    assert joined == {long_text, "second record"}
    assert all(len(s) <= 255 for rd in texts for s in rd.strings)
    # The delegation is answered as a referral: the NS in the authority section.
    referral = ask(powerdns, f"host.sub.{zone}", "A")
    assert [rd.to_text() for rs in referral.authority for rd in rs] == ["ns.sub-host.example.net."]
    # What PowerDNS holds reads back as exactly what was written: no drift.
    soa, ns = r.apex(zone, NAMESERVERS, HOSTMASTER, 300, 300)
    assert r.diff([soa, ns, *wanted], provider.rrsets(zone)).clean


def test_ensure_zone_sets_soa_and_ns_from_settings_and_is_idempotent(powerdns, provider, zone):
    (soa,) = answer(powerdns, zone, "SOA")
    mname, rname, serial, *_ = soa.split()
    assert (mname, rname) == ("ns1.hostplane-test.net.", "hostmaster.hostplane-test.net.")
    assert len(str(serial)) == 10  # YYYYMMDDnn: PowerDNS keeps it (soa_edit_api)
    assert answer(powerdns, zone, "NS") == {f"{ns}." for ns in NAMESERVERS}
    found = provider.observe_zone(zone)
    assert found is not None and found.zone.account == provider.owner
    assert (found.zone.kind, found.soa_edit_api) == ("Native", "DEFAULT")

    assert provider.ensure_zone(zone, NAMESERVERS, HOSTMASTER, 300) is Outcome.UNCHANGED
    assert soa_serial(powerdns, zone) == int(serial)  # nothing sent, nothing bumped
    outcome = provider.ensure_zone(zone, NAMESERVERS[:1], "dns.hostplane-test.net", 300)
    assert outcome is Outcome.UPDATED
    assert answer(powerdns, zone, "NS") == {"ns1.hostplane-test.net."}
    (after,) = answer(powerdns, zone, "SOA")
    assert after.split()[1] == "dns.hostplane-test.net."
    assert int(after.split()[2]) > int(serial)  # the serial only ever goes up


def test_replacing_an_rrset_keeps_none_of_the_old_values_and_siblings_keep_all(
    powerdns, provider, zone
):
    www = r.rrset(zone, f"www.{zone}", "A", 60, ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
    api = r.rrset(zone, f"api.{zone}", "A", 60, ["192.0.2.7", "192.0.2.8"])
    www_txt = r.rrset(zone, f"www.{zone}", "TXT", 60, ["keep me"])
    provider.apply_rrsets(zone, [Replace(www), Replace(api), Replace(www_txt)])

    new_www = r.rrset(zone, f"www.{zone}", "A", 60, ["192.0.2.50"])
    assert provider.apply_rrsets(zone, [Replace(new_www)]) is Outcome.UPDATED
    assert answer(powerdns, f"www.{zone}", "A") == {"192.0.2.50"}
    assert answer(powerdns, f"api.{zone}", "A") == {"192.0.2.7", "192.0.2.8"}
    assert answer(powerdns, f"www.{zone}", "TXT") == {'"keep me"'}

    # Adding a value is replacing the RRset with all of them: none is lost.
    grown = r.rrset(zone, f"api.{zone}", "A", 60, ["192.0.2.7", "192.0.2.8", "192.0.2.9"])
    provider.apply_rrsets(zone, [Replace(grown)])
    assert answer(powerdns, f"api.{zone}", "A") == {"192.0.2.7", "192.0.2.8", "192.0.2.9"}
    assert provider.apply_rrsets(zone, [Delete(www_txt.name, "TXT")]) is Outcome.UPDATED
    assert answer(powerdns, f"www.{zone}", "TXT") == set()
    assert answer(powerdns, f"www.{zone}", "A") == {"192.0.2.50"}


def test_a_change_set_applied_twice_changes_nothing_the_second_time(powerdns, provider, zone):
    changes = [
        Replace(r.rrset(zone, f"a.{zone}", "A", 60, ["192.0.2.1"])),
        Delete(f"never-there.{zone}", "A"),
    ]
    assert provider.apply_rrsets(zone, changes) is Outcome.UPDATED
    serial = soa_serial(powerdns, zone)
    assert provider.apply_rrsets(zone, changes) is Outcome.UNCHANGED
    assert soa_serial(powerdns, zone) == serial


def test_an_invalid_rrset_in_a_change_set_leaves_powerdns_unchanged(powerdns, provider, zone):
    provider.apply_rrsets(zone, [Replace(r.rrset(zone, f"www.{zone}", "A", 60, ["192.0.2.1"]))])
    before, serial = provider.rrsets(zone), soa_serial(powerdns, zone)
    good = r.rrset(zone, f"new.{zone}", "A", 60, ["192.0.2.2"])
    replaced = r.rrset(zone, f"www.{zone}", "A", 60, ["192.0.2.3"])
    # Content only PowerDNS refuses (the helpers would have): made without them.
    bad = RRset(f"bad.{zone}", "A", 60, ("999.0.2.1",))
    with pytest.raises(PermanentError, match="unable to parse IP address") as refused:
        provider.apply_rrsets(zone, [Replace(good), Replace(replaced), Replace(bad)])
    assert "nothing of it was applied" in str(refused.value)
    assert not isinstance(refused.value, TemporaryError)
    assert provider.rrsets(zone) == before
    assert soa_serial(powerdns, zone) == serial
    assert answer(powerdns, f"www.{zone}", "A") == {"192.0.2.1"}
    assert answer(powerdns, f"new.{zone}", "A") == set()

    # A set that would leave a CNAME beside an A is refused before anything is sent.
    cname = r.rrset(zone, f"www.{zone}", "CNAME", 60, ["elsewhere.example.net"])
    with pytest.raises(ValidationError, match="CNAME and A"):
        provider.apply_rrsets(zone, [Replace(good), Replace(cname)])
    assert provider.rrsets(zone) == before and soa_serial(powerdns, zone) == serial


def test_a_zone_without_our_mark_is_refused_and_untouched(powerdns, provider):
    zone = _zone()
    powerdns.zone(zone)  # straight through the API: no account
    powerdns.records(zone, f"www.{zone}", "A", ["192.0.2.77"])
    seen = httpx.get(f"{powerdns.api}/zones/{zone}", headers={"X-API-Key": API_KEY}).json()

    attempts = [
        lambda: provider.ensure_zone(zone, NAMESERVERS, HOSTMASTER, 300),
        lambda: provider.apply_rrsets(zone, [Delete(f"www.{zone}", "A")]),
        lambda: provider.remove_zone(zone),
        lambda: provider.rrsets(zone),
        lambda: provider.export(zone),
    ]
    for attempt in attempts:
        with pytest.raises(ForeignResourceError, match="no account") as refused:
            attempt()
        assert zone in str(refused.value)
    assert zone not in {z.name for z in provider.zones()}
    assert zone not in provider.observe()
    after = httpx.get(f"{powerdns.api}/zones/{zone}", headers={"X-API-Key": API_KEY}).json()
    assert after == seen
    assert answer(powerdns, f"www.{zone}", "A") == {"192.0.2.77"}


def test_two_planes_on_one_server_see_only_their_own_zones(powerdns):
    first, second = _provider(powerdns), _provider(powerdns)
    mine, theirs = _zone(), _zone()
    first.ensure_zone(mine, NAMESERVERS, HOSTMASTER, 300)
    second.ensure_zone(theirs, NAMESERVERS, HOSTMASTER, 300)
    first.apply_rrsets(mine, [Replace(r.rrset(mine, f"www.{mine}", "A", 60, ["192.0.2.1"]))])

    firsts, seconds = {z.name for z in first.zones()}, {z.name for z in second.zones()}
    assert mine in firsts and theirs not in firsts
    assert theirs in seconds and mine not in seconds
    assert mine in first.observe() and mine not in second.observe()
    with pytest.raises(ForeignResourceError, match=re.escape(f"account '{first.owner}'")):
        second.ensure_zone(mine, NAMESERVERS, HOSTMASTER, 300)
    with pytest.raises(ForeignResourceError):
        second.remove_zone(mine)
    assert answer(powerdns, f"www.{mine}", "A") == {"192.0.2.1"}
    assert first.remove_zone(mine) is Outcome.DELETED
    assert first.remove_zone(mine) is Outcome.ABSENT
    assert ask(powerdns, f"www.{mine}", "A").rcode() == dns.rcode.REFUSED  # no longer served
    first.close()
    second.close()


def test_observe_reads_every_zone_of_this_plane_in_two_calls(powerdns, provider):
    zones = [_zone() for _ in range(3)]
    for zone in zones:
        provider.ensure_zone(zone, NAMESERVERS, HOSTMASTER, 300)
        provider.apply_rrsets(zone, [Replace(r.rrset(zone, f"w.{zone}", "TXT", 60, [zone]))])
    requests: list[str] = []
    provider.api._http.event_hooks["request"].append(lambda req: requests.append(req.url.path))
    observed = provider.observe()
    assert len(requests) == 2, requests
    for zone in zones:
        assert observed[zone] == provider.rrsets(zone)
        assert {item.type for item in observed[zone]} == {"SOA", "NS", "TXT"}


def test_export_is_the_zone_as_a_bind_zone_file(provider, zone):
    provider.apply_rrsets(zone, [Replace(r.rrset(zone, f"www.{zone}", "A", 60, ["192.0.2.5"]))])
    text = provider.export(zone)
    parsed = dns.zone.from_text(text, origin=zone, relativize=False, check_origin=True)
    assert {rd.to_text() for rd in parsed.find_rdataset(f"www.{zone}", "A")} == {"192.0.2.5"}
    assert parsed.find_rdataset(zone, "SOA")[0].mname.to_text() == "ns1.hostplane-test.net."


def test_a_wrong_key_is_permanent_and_a_silent_server_temporary(powerdns):
    wrong = PowerDnsApi(f"http://127.0.0.1:{powerdns.api_port}", "not-the-key", owner="hpx")
    with pytest.raises(PermanentError, match=r"refused the API key.*HOSTPLANE_PDNS_API_KEY"):
        wrong.zones()
    nobody = PowerDnsApi(f"http://127.0.0.1:{free_port()}", API_KEY, owner="hpx", timeout=2)
    with pytest.raises(TemporaryError, match="does not answer"):
        nobody.zones()
    with pytest.raises(ValueError, match="owner"):
        PowerDnsApi(f"http://127.0.0.1:{powerdns.api_port}", API_KEY, owner="")
