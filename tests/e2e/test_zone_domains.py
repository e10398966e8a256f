"""A hosted zone and the custom domains bound in it, through a real control plane, its own
PowerDNS, Caddy and Pebble (issue 16 items 3 and 4), tried as a new user would: a zone for
the tenant, a site with www bound, and the A record appears by itself, the domain goes ACTIVE
(its DNS proven through the plane's PowerDNS), its certificate comes by DNS-01; the user cannot
change that record; removing the domain removes it. A wildcard domain routes every name under
it to the site, with a wildcard certificate from Pebble validated by DNS-01."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import ControlPlane
from tests.e2e.test_certificates import _https_get
from tests.e2e.test_zones import ask
from tests.services_pebble import PrivatePebble

TAG = uuid.uuid4().hex[:6]
TENANT, SITE = f"d{TAG}", f"s{TAG}"
ZONE = f"zd-{TAG}.test"
WWW = f"www.{ZONE}"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, PrivatePebble]]:
    cp = ControlPlane(tmp_path_factory.mktemp("zone-domains") / "data")
    resolver = f"127.0.0.1:{cp.dns_port}"  # the plane's own PowerDNS answers for its zones
    pebble = PrivatePebble(http_port=cp.edge_port, dns_server=resolver).start()
    cp.extra_env.update(
        {
            "HOSTPLANE_ACME_DIRECTORY": pebble.directory,
            "HOSTPLANE_ACME_CA_BUNDLE": str(pebble.tls_cert),
            "HOSTPLANE_DNS_RESOLVERS": resolver,
            "HOSTPLANE_PUBLIC_IPS": "127.0.0.1",
            "HOSTPLANE_DNS_ALLOW_PRIVATE": "true",
        }
    )
    try:
        cp.start()
        ok(cp.cli("tenant", "create", TENANT, "--wait"))
        ok(cp.cli("site", "create", SITE, "--type", "static", "--tenant", TENANT, "--wait"))
        ok(cp.cli("zone", "create", ZONE, "--tenant", TENANT, "--wait"))
        yield cp, pebble
    finally:
        cp.cli("tenant", "delete", TENANT, "--cascade", "--wait")
        cp.stop()
        cp.clean_host()
        pebble.stop()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_bound_domain_gets_its_record_and_a_dns01_certificate_and_loses_them(plane):
    cp, pebble = plane
    ok(cp.cli("domain", "add", SITE, WWW, "--wait"))
    assert ask(cp, WWW, "A")[1] == {"127.0.0.1"}
    with cp.api() as api:
        view = api.get(f"/v1/sites/{SITE}/domains/{WWW}").json()
        assert view["status"] == "ACTIVE" and view["certificate"]["source"] == "acme", view
        kept = [
            r
            for r in api.get(f"/v1/zones/{ZONE}/records").json()["items"]
            if r["name"] == WWW + "."
        ]
        assert [(r["type"], r["managed_by"], r["platform_managed"]) for r in kept] == [
            ("A", WWW, True)
        ]
        refused = api.put(f"/v1/zones/{ZONE}/records/{WWW}/A", json={"contents": ["192.0.2.1"]})
        assert refused.status_code == 409 and f"custom domain {WWW}" in refused.text
        refused = api.delete(f"/v1/zones/{ZONE}")
        assert refused.status_code == 409 and "force" in refused.text
    body, peer = _https_get(cp, WWW, pebble.root_ca())  # verified against Pebble's root
    assert body.startswith("HTTP/1.1 200") and ("DNS", WWW) in peer["subjectAltName"]
    assert ask(cp, f"_acme-challenge.{WWW}", "TXT")[1] == set()  # withdrawn after the order
    issued = [line for line in cp.log_path.read_text().splitlines() if "acme.issued" in line]
    assert issued and "DNS-01" in issued[-1], issued  # not HTTP-01, which Pebble could also do

    ok(cp.cli("domain", "remove", SITE, WWW, "--wait"))
    assert ask(cp, WWW, "A")[1] == set()
    drift = json.loads(ok(cp.cli("drift", "--json")))
    assert [f for f in drift if ZONE in f["resource"]] == []  # nothing left of the record


def test_a_wildcard_routes_every_name_under_it_with_a_wildcard_certificate(plane):
    cp, pebble = plane
    wildcard = f"*.{ZONE}"
    ok(cp.cli("domain", "add", SITE, wildcard, "--wait"))
    assert ask(cp, f"anything.{ZONE}", "A")[1] == {"127.0.0.1"}
    for host in (f"anything.{ZONE}", f"else.{ZONE}"):
        body, peer = _https_get(cp, host, pebble.root_ca())
        assert body.startswith("HTTP/1.1 200"), body[:200]
        assert f"x-hostplane-route: site-{SITE}" in body.lower()
        assert ("DNS", wildcard) in peer["subjectAltName"]
    assert cp.edge_get(f"a.b.{ZONE}").status_code == 404  # one label only, as DNS wildcards
    ok(cp.cli("domain", "remove", SITE, wildcard, "--wait"))
    assert ask(cp, f"anything.{ZONE}", "A")[1] == set()
    assert cp.edge_get(f"anything.{ZONE}").status_code == 404
