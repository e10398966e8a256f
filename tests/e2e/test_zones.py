"""DNS zones and records through a real control plane and its own PowerDNS (issue 16 items 1,
2, 6, 7): a tenant hosts a zone (hostctl and the API), its A, TXT and MX records are answered
over DNS, an RRset replaced keeps its siblings, an invalid record is a 422 that changes
nothing, another tenant's token does not see the zone, the zone exports as BIND text, and
deleting it (then its tenant, cascade) leaves nothing: no zone, no hp-* user."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
import pytest

from tests.e2e.harness import ControlPlane

TAG = uuid.uuid4().hex[:6]
TENANT, OTHER = f"z{TAG}", f"y{TAG}"
ZONE = f"zone-{TAG}.test"


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("zones") / "data").start()
    try:
        yield plane
    finally:
        for tenant in (TENANT, OTHER):  # whatever a failed test left
            plane.cli("tenant", "delete", tenant, "--cascade", "--wait")
        plane.stop()
        plane.clean_host()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def ask(cp: ControlPlane, name: str, rtype: str) -> tuple[int, set[str]]:
    """(rcode, the answer's values) of one question to the plane's PowerDNS."""
    query = dns.message.make_query(name, rtype)
    response = dns.query.udp(query, "127.0.0.1", port=cp.dns_port, timeout=3)
    wanted = dns.rdatatype.from_text(rtype)
    values = {rd.to_text() for rs in response.answer if rs.rdtype == wanted for rd in rs}
    return response.rcode(), values


def test_a_tenants_zone_and_records_are_answered_over_dns_and_deleted(cp: ControlPlane):
    ok(cp.cli("tenant", "create", TENANT, "--wait"))
    ok(cp.cli("tenant", "create", OTHER, "--wait"))
    ok(cp.cli("zone", "create", ZONE, "--tenant", TENANT, "--wait"))
    soa = ask(cp, ZONE, "SOA")
    assert soa[0] == dns.rcode.NOERROR
    (value,) = soa[1]
    assert value.startswith("ns1.localhost. hostmaster.localhost. ") and value.endswith(" 300")
    assert ask(cp, ZONE, "NS")[1] == {"ns1.localhost."}

    www, mail = f"www.{ZONE}", f"mail.{ZONE}"
    ok(cp.cli("record", "set", ZONE, www, "A", "192.0.2.10", "--ttl", "120", "--wait"))
    ok(cp.cli("record", "set", ZONE, "@", "TXT", "v=spf1 mx -all", "hello world", "--wait"))
    ok(cp.cli("record", "set", ZONE, "@", "MX", f"10 {mail}", "--wait"))
    ok(cp.cli("record", "set", ZONE, mail, "A", "192.0.2.25", "--wait"))
    assert ask(cp, www, "A") == (dns.rcode.NOERROR, {"192.0.2.10"})
    assert ask(cp, ZONE, "TXT")[1] == {'"v=spf1 mx -all"', '"hello world"'}
    assert ask(cp, ZONE, "MX")[1] == {f"10 {mail}."}

    # Replacing one RRset (a second address) keeps every value given and every sibling.
    ok(cp.cli("record", "set", ZONE, www, "A", "192.0.2.10", "192.0.2.11", "--wait"))
    assert ask(cp, www, "A")[1] == {"192.0.2.10", "192.0.2.11"}
    assert ask(cp, ZONE, "TXT")[1] == {'"v=spf1 mx -all"', '"hello world"'}
    assert ask(cp, mail, "A")[1] == {"192.0.2.25"}

    with cp.api() as api:
        before = api.get(f"/v1/zones/{ZONE}/records").json()
        # Invalid: 422 saying why, nothing recorded, nothing sent.
        for path, body in (
            (f"/v1/zones/{ZONE}/records/{www}/A", {"contents": ["300.0.0.1"]}),
            (f"/v1/zones/{ZONE}/records/{www}/CNAME", {"contents": ["elsewhere.example.org"]}),
            (f"/v1/zones/{ZONE}/records/www.elsewhere.test/A", {"contents": ["192.0.2.1"]}),
            (f"/v1/zones/{ZONE}/records/@/SOA", {"contents": ["x"]}),
        ):
            refused = api.put(path, json=body)
            assert refused.status_code == 422, (path, refused.text)
        assert api.get(f"/v1/zones/{ZONE}/records").json() == before
        assert ask(cp, www, "A")[1] == {"192.0.2.10", "192.0.2.11"}
        assert ask(cp, www, "CNAME")[1] == set()

        detail = api.get(f"/v1/zones/{ZONE}").json()
        assert (detail["status"], detail["tenant"]) == ("ACTIVE", TENANT)
        managed = {(r["type"], r["platform_managed"]) for r in detail["rrsets"]}
        assert {("SOA", True), ("NS", True), ("A", False), ("TXT", False), ("MX", False)} <= managed
        exported = api.get(f"/v1/zones/{ZONE}/export")
        assert exported.headers["content-type"].startswith("text/plain")
        assert f"{www}.\t" in exported.text and "192.0.2.11" in exported.text

        token = json.loads(ok(cp.cli("token", "create", "--tenant", OTHER, "--json")))["token"]
        with httpx.Client(base_url=cp.api_url, headers={"Authorization": f"Bearer {token}"}) as b:
            assert b.get("/v1/zones").json()["items"] == []
            for method, path in (
                ("GET", f"/v1/zones/{ZONE}"),
                ("GET", f"/v1/zones/{ZONE}/export"),
                ("DELETE", f"/v1/zones/{ZONE}"),
                ("DELETE", f"/v1/zones/{ZONE}/records/{www}/A"),
            ):
                assert b.request(method, path).status_code == 404, (method, path)
            taken = b.post("/v1/zones", json={"name": f"sub.{ZONE}"})
            assert taken.status_code == 409 and "another tenant" in taken.json()["message"]

    shown = json.loads(ok(cp.cli("zone", "list", "--json")))
    assert [(z["name"], z["status"]) for z in shown] == [(ZONE, "ACTIVE")]
    ok(cp.cli("record", "delete", ZONE, mail, "A", "--wait"))
    assert ask(cp, mail, "A")[1] == set()
    ok(cp.cli("zone", "delete", ZONE, "--wait"))
    assert ask(cp, www, "A")[0] == dns.rcode.REFUSED  # no zone: not authoritative
    audit = json.loads(ok(cp.cli("audit", "--target", ZONE, "--json")))
    assert {"zone.delete", "zone.deleted"} <= {a["action"] for a in audit}

    ok(cp.cli("tenant", "delete", TENANT, "--cascade", "--wait"))
    ok(cp.cli("tenant", "delete", OTHER, "--cascade", "--wait"))
    users = subprocess.run(["getent", "passwd"], capture_output=True, text=True).stdout
    assert f"hp-{TENANT}:" not in users and f"hp-{OTHER}:" not in users


def test_a_tenants_cascade_delete_removes_its_zones_from_powerdns(cp: ControlPlane):
    tenant, zone = f"c{TAG}", f"cascade-{TAG}.test"
    ok(cp.cli("tenant", "create", tenant, "--wait"))
    try:
        ok(cp.cli("zone", "create", zone, "--tenant", tenant, "--wait"))
        ok(cp.cli("record", "set", zone, f"www.{zone}", "A", "192.0.2.5", "--wait"))
        assert ask(cp, f"www.{zone}", "A")[1] == {"192.0.2.5"}
        refused = cp.cli("tenant", "delete", tenant, "--wait")
        assert refused.returncode != 0 and f"zones: {zone}" in refused.stderr + refused.stdout
    finally:
        ok(cp.cli("tenant", "delete", tenant, "--cascade", "--wait"))
    assert ask(cp, f"www.{zone}", "A")[0] == dns.rcode.REFUSED
    users = subprocess.run(["getent", "passwd"], capture_output=True, text=True).stdout
    assert f"hp-{tenant}:" not in users
