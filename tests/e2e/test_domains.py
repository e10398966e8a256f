"""Custom domains through a real control plane, a real PowerDNS serving right, wrong and
missing records, and a real Caddy (behind a proxy that can refuse or stall its loads):
DNS-proven activation, backoff then FAILED with the records shown, edge refusal compensated,
removal audited, site destroy removing domains first, SIGKILL inside each step."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import CaddyServer, ControlPlane, FaultyAdminProxy, wait_for
from tests.fake_cloudflare_api import TOKEN, FakeCloudflareApi

PLATFORM_IP = "93.184.215.14"  # record data only: nothing is sent there
ELSEWHERE_IP = "151.101.1.69"  # record data only


TUNNEL = "6ff42ae2-765d-4adf-8112-31c55c1551ef"


def _env(
    powerdns: Any,
    proxy: FaultyAdminProxy,
    cloudflare: FakeCloudflareApi,
    tunnel_dir: Path,
    timeout: str = "4",
) -> dict[str, str]:
    tunnel_dir.mkdir(parents=True, exist_ok=True)
    restart = tunnel_dir / "restart-cloudflared"
    # Records each restart; hangs while <tunnel dir>/stall exists (then gives up: exit 75).
    restart.write_text(
        "#!/bin/sh\n"
        f'if [ -e "{tunnel_dir}/stall" ]; then touch "{tunnel_dir}/reached"\n'
        f'  while [ -e "{tunnel_dir}/stall" ]; do sleep 0.1; done; exit 75; fi\n'
        f"echo restarted >> {tunnel_dir / 'restarts.log'}\n"
    )
    restart.chmod(0o755)
    return {
        "HOSTPLANE_TUNNEL_ID": TUNNEL,
        "HOSTPLANE_TUNNEL_CONFIG": str(tunnel_dir / "config.yml"),
        "HOSTPLANE_TUNNEL_RESTART_COMMAND": str(restart),
        "HOSTPLANE_CLOUDFLARE_API_TOKEN": TOKEN,
        "HOSTPLANE_CLOUDFLARE_API_URL": cloudflare.url,
        "HOSTPLANE_DNS_RESOLVERS": powerdns.resolver,
        "HOSTPLANE_PUBLIC_IPS": PLATFORM_IP,
        "HOSTPLANE_DOMAIN_RECHECK_INITIAL": "0.2",
        "HOSTPLANE_DOMAIN_RECHECK_MAX": "0.5",
        "HOSTPLANE_DOMAIN_DNS_TIMEOUT": timeout,
        "HOSTPLANE_CADDY_ADMIN_URL": proxy.url,
        "HOSTPLANE_EDGE_CONFIRM_TIMEOUT": "3",
    }


@pytest.fixture(scope="module")
def caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaddyServer]:
    server = CaddyServer(tmp_path_factory.mktemp("caddy"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(caddy: CaddyServer) -> Iterator[FaultyAdminProxy]:
    p = FaultyAdminProxy(caddy.admin_port)
    yield p
    p.close()


@pytest.fixture(scope="module")
def cloudflare() -> Iterator[FakeCloudflareApi]:
    api = FakeCloudflareApi([], any_zone_under=".test")
    yield api
    api.close()


@pytest.fixture(scope="module")
def cp(
    powerdns, proxy, cloudflare, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    root = tmp_path_factory.mktemp("domains")
    plane = ControlPlane(
        root / "data", extra_env=_env(powerdns, proxy, cloudflare, root / "tunnel")
    ).start()
    assert plane.cli("site", "create", "shop", "--wait").returncode == 0
    yield plane
    plane.stop()


@pytest.fixture(autouse=True)
def _proxy_passes(proxy: FaultyAdminProxy) -> Iterator[None]:
    proxy.mode, proxy.reject_containing = "pass", None
    yield
    proxy.mode, proxy.reject_containing = "pass", None


@pytest.fixture
def zone(powerdns) -> str:
    name = f"z{uuid.uuid4().hex[:8]}.test"
    powerdns.zone(name)
    return name


def _domain(cp: ControlPlane, site: str, domain: str) -> dict[str, Any]:
    with cp.api() as api:
        resp = api.get(f"/v1/sites/{site}/domains/{domain}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


def _events(cp: ControlPlane, site: str) -> list[dict[str, Any]]:
    with cp.api() as api:
        return list(api.get(f"/v1/sites/{site}").json()["events"])


def _caddy_hosts(cp: ControlPlane) -> set[str]:
    servers = cp.caddy_config()["apps"]["http"]["servers"]
    return {
        host
        for route in servers["hostplane"]["routes"]
        for match in route.get("match", [])
        for host in match.get("host", [])
    }


def _tunnel_matches_database(cp: ControlPlane, cloudflare: FakeCloudflareApi) -> set[str]:
    """The ingress file routes exactly the domains the database says are served, in sorted
    order with the catch-all last, and each has its tunnel CNAME; returns those domains."""
    served: set[str] = set()
    with cp.api() as api:
        for site in api.get("/v1/sites", params={"limit": 500}).json()["items"]:
            if site["status"] != "ACTIVE":
                continue
            for d in api.get(f"/v1/sites/{site['name']}/domains").json()["items"]:
                if d["status"] in ("ACTIVE", "ROUTING"):
                    served.add(d["name"])
    config = Path(cp.extra_env["HOSTPLANE_TUNNEL_CONFIG"])
    document = yaml.safe_load(config.read_text()) if config.exists() else {"ingress": [{}]}
    rules = document["ingress"]
    hosts = [r["hostname"] for r in rules[:-1]]
    assert hosts == sorted(served), (hosts, served)
    assert rules[-1] == {"service": "http_status:404"} or not config.exists()
    if config.exists():
        assert document["tunnel"] == TUNNEL
        assert all(r["service"] == f"http://127.0.0.1:{cp.edge_port}" for r in rules[:-1])
    target = f"{TUNNEL}.cfargotunnel.com"
    routed = {name for name, content in cloudflare.cnames().items() if content == target}
    zone_suffixes = {h.split(".", 1)[1] for h in served} | {n.split(".", 1)[1] for n in routed}
    assert {n for n in routed if n.split(".", 1)[1] in zone_suffixes} >= served
    return served


def _audit(cp: ControlPlane, target: str) -> list[tuple[str, str]]:
    with cp.api() as api:
        items = api.get("/v1/audit", params={"target": target}).json()["items"]
    return [(a["action"], a["reason"]) for a in items]


def test_right_dns_routes_the_domain_and_removal_takes_it_away_audited(
    cp, powerdns, cloudflare, zone
):
    domain = f"www.{zone}"
    powerdns.records(zone, domain, "A", [PLATFORM_IP])
    restarts = Path(cp.extra_env["HOSTPLANE_TUNNEL_CONFIG"]).parent / "restarts.log"
    restarted = len(restarts.read_text().splitlines()) if restarts.exists() else 0

    added = cp.cli("domain", "add", "shop", domain.upper(), "--wait")
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"{domain} ACTIVE" in added.stdout
    answer = cp.edge_get(domain)
    assert answer.status_code == 200 and answer.headers["x-hostplane-route"] == "site-shop"
    assert domain in _caddy_hosts(cp)
    assert domain in _tunnel_matches_database(cp, cloudflare)
    assert cloudflare.cnames()[domain] == f"{TUNNEL}.cfargotunnel.com"
    assert len(restarts.read_text().splitlines()) == restarted + 1  # synchronously, once

    listed = json.loads(cp.cli("domain", "list", "shop", "--json").stdout)
    (view,) = [d for d in listed if d["name"] == domain]
    assert view["status"] == "ACTIVE" and view["dns_found"] == [PLATFORM_IP]
    assert view["last_checked_at"] and view["last_error"] is None
    shown = cp.cli("site", "show", "shop")
    assert f"domain {domain} ACTIVE" in shown.stdout

    # Adding it again changes nothing and says so.
    with cp.api() as api:
        again = api.post("/v1/sites/shop/domains", json={"domain": domain})
    assert again.status_code == 200 and again.json()["operation"] is None
    assert again.json()["domain"]["status"] == "ACTIVE"

    removed = cp.cli("domain", "remove", "shop", domain, "--wait")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"{domain} REMOVED" in removed.stdout
    assert cp.edge_get(domain).status_code == 404
    assert domain not in _caddy_hosts(cp)
    assert domain not in _tunnel_matches_database(cp, cloudflare)
    assert domain not in cloudflare.cnames()
    actions = [action for action, _ in _audit(cp, domain)]
    assert actions == ["domain.removed", "domain.remove"]
    assert cp.edge_get("shop.localhost").status_code == 200


def test_a_domain_belongs_to_one_site_only(cp, powerdns, zone):
    domain = f"one.{zone}"
    powerdns.records(zone, domain, "A", [PLATFORM_IP])
    # Another site of shop's own tenant (another tenant's is refused by the registrable-domain
    # rule before this one: tests/inprocess/test_domain_owners.py).
    other = cp.cli("site", "create", f"other-{zone[1:7]}", "--tenant", "shop", "--wait")
    assert other.returncode == 0, other.stdout + other.stderr
    assert cp.cli("domain", "add", "shop", domain, "--wait").returncode == 0
    with cp.api() as api:
        taken = api.post(f"/v1/sites/other-{zone[1:7]}/domains", json={"domain": domain})
    assert taken.status_code == 409
    assert "already belongs to site 'shop'" in taken.json()["message"]


def test_wrong_dns_goes_back_to_pending_then_fails_showing_found_and_expected(
    cp, powerdns, cloudflare, zone
):
    domain = f"wrong.{zone}"
    powerdns.records(zone, domain, "A", [ELSEWHERE_IP])
    with cp.api() as api:
        accepted = api.post("/v1/sites/shop/domains", json={"domain": domain})
    assert accepted.status_code == 202
    op = cp.wait_operation(accepted.json()["operation"]["id"], timeout=30)
    assert op["status"] == "FAILED"
    assert ELSEWHERE_IP in op["error"] and PLATFORM_IP in op["error"]
    view = _domain(cp, "shop", domain)
    assert view["status"] == "FAILED"
    assert view["dns_found"] == [ELSEWHERE_IP] and PLATFORM_IP in view["dns_expected"]
    dns_checks = [s for s in op["steps"] if s["name"] == "dns"]
    assert len(dns_checks) >= 3  # checked again with backoff before giving up
    assert domain not in _caddy_hosts(cp)
    assert cp.edge_get(domain).status_code == 404
    assert domain not in cloudflare.cnames()
    _tunnel_matches_database(cp, cloudflare)
    failed = cp.cli("domain", "list", "shop")
    assert "FAILED" in failed.stdout


def test_missing_records_then_fixed_dns_while_pending_activates(cp, powerdns, zone):
    domain = f"later.{zone}"
    with cp.api() as api:
        op_id = api.post("/v1/sites/shop/domains", json={"domain": domain}).json()["operation"][
            "id"
        ]
    wait_for(
        lambda: (
            _domain(cp, "shop", domain)["status"] == "PENDING"
            and _domain(cp, "shop", domain)["last_error"]
        ),
        "the first check to find nothing",
    )
    assert "found nothing" in _domain(cp, "shop", domain)["last_error"]
    powerdns.records(zone, domain, "A", [PLATFORM_IP])
    op = cp.wait_operation(op_id, timeout=30)
    assert op["status"] == "SUCCEEDED", op
    assert cp.edge_get(domain).status_code == 200


def test_the_edge_refusing_a_domain_fails_it_and_keeps_everything_else_served(
    cp, powerdns, proxy, cloudflare, zone
):
    good, bad = f"good.{zone}", f"bad.{zone}"
    for name in (good, bad):
        powerdns.records(zone, name, "A", [PLATFORM_IP])
    assert cp.cli("domain", "add", "shop", good, "--wait").returncode == 0
    proxy.reject_containing = bad.encode()
    result = cp.cli("domain", "add", "shop", bad, "--wait")
    assert result.returncode == 1
    assert "refused" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    view = _domain(cp, "shop", bad)
    assert view["status"] == "FAILED" and "injected fault" in view["last_error"]
    steps = [(s["name"], s["phase"], s["status"]) for s in view_operation(cp, view)["steps"]]
    assert ("route", "apply", "failed") in steps and ("route", "undo", "succeeded") in steps
    # The last config that loaded stays in force: the site and the good domain still answer.
    assert cp.edge_get("shop.localhost").status_code == 200
    assert cp.edge_get(good).status_code == 200
    assert cp.edge_get(bad).status_code == 404
    assert bad not in _tunnel_matches_database(cp, cloudflare)

    proxy.reject_containing = None
    again = cp.cli("domain", "add", "shop", bad, "--wait")
    assert again.returncode == 0, again.stdout + again.stderr
    assert cp.edge_get(bad).status_code == 200


def view_operation(cp: ControlPlane, view: dict[str, Any]) -> dict[str, Any]:
    with cp.api() as api:
        return dict(api.get(view["operation"]["url"]).json())


def test_removing_a_domain_waiting_for_dns_supersedes_the_wait(cp, zone):
    domain = f"pending.{zone}"
    with cp.api() as api:
        add_id = api.post("/v1/sites/shop/domains", json={"domain": domain}).json()["operation"][
            "id"
        ]
        wait_for(lambda: _domain(cp, "shop", domain)["status"] == "PENDING", "a PENDING domain")
        removal = api.delete(f"/v1/sites/shop/domains/{domain}")
    assert removal.status_code == 202, removal.text
    assert cp.wait_operation(removal.json()["operation"]["id"])["status"] == "SUCCEEDED"
    add = cp.wait_operation(add_id)
    assert add["status"] == "FAILED" and "superseded" in add["error"]
    assert _domain(cp, "shop", domain)["status"] == "REMOVED"
    # The stopped wait is an expected event, logged once at INFO, never an error with a trace.
    wait_for(lambda: add_id in cp.log_path.read_text(), "the cancellation in the log")
    mentions = [line for line in cp.log_path.read_text().splitlines() if add_id in line]
    assert all(line.startswith("{") for line in mentions), mentions  # no plain traceback
    lines = [json.loads(line) for line in mentions]
    assert not [e for e in lines if e.get("level") in ("error", "ERROR")], lines
    assert any(e.get("event") == "workflow.cancelled" and e.get("level") == "info" for e in lines)


def test_destroying_a_site_removes_its_domains_first(cp, powerdns, cloudflare, zone):
    site = f"gone-{zone[1:7]}"
    routed, waiting = f"a.{zone}", f"b.{zone}"
    powerdns.records(zone, routed, "A", [PLATFORM_IP])
    assert cp.cli("site", "create", site, "--wait").returncode == 0
    assert cp.cli("domain", "add", site, routed, "--wait").returncode == 0
    assert cp.cli("domain", "add", site, waiting).returncode == 0  # no records: waits
    wait_for(lambda: _domain(cp, site, waiting)["status"] == "PENDING", "a PENDING domain")

    destroyed = cp.cli("site", "destroy", site, "--wait")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    with cp.api() as api:
        detail = api.get(f"/v1/sites/{site}").json()
        op = api.get(detail["operation"]["url"]).json()
    assert detail["status"] == "DESTROYED"
    assert {d["name"]: d["status"] for d in detail["domains"]} == {
        routed: "REMOVED",
        waiting: "REMOVED",
    }
    assert op["steps"][0]["name"] == "domains"
    assert cp.edge_get(routed).status_code == 404
    assert routed not in _tunnel_matches_database(cp, cloudflare)
    assert routed not in cloudflare.cnames()
    assert ("domain.removed", f"site {site} destroyed") in _audit(cp, routed)
    # The domain is free again for another site.
    assert cp.cli("domain", "add", "shop", routed, "--wait").returncode == 0


def test_bad_domain_requests_are_clear_4xx(cp):
    with cp.api() as api:
        for body, code, expect in [
            ({"domain": "exa mple.org"}, 422, "must be a domain name such as www.example.org"),
            ({"domain": "www.shop.localhost"}, 422, "under the platform's base domain"),
            ({"domain": "a..b.org"}, 422, "must be a domain name"),
            ({"domain": "x" * 64 + ".org"}, 422, "label"),
            ({"domain": "www.example.org", "extra": 1}, 422, "extra"),
        ]:
            resp = api.post("/v1/sites/shop/domains", json=body)
            assert resp.status_code == code, (body, resp.text)
            assert expect in resp.json()["message"].lower(), (body, resp.text)
        assert api.post("/v1/sites/nosuch/domains", json={"domain": "a.org"}).status_code == 404
        assert api.delete("/v1/sites/shop/domains/never.example.org").status_code == 404
    result = cp.cli("domain", "add", "shop", "bad_name.org")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1


# --- SIGKILL inside each step -------------------------------------------------


@pytest.fixture
def killable(powerdns, proxy, cloudflare, tmp_path: Path) -> Iterator[ControlPlane]:
    env = _env(powerdns, proxy, cloudflare, tmp_path / "tunnel", timeout="60")
    plane = ControlPlane(tmp_path / "data", extra_env=env)
    plane.start()
    assert plane.cli("site", "create", "kill", "--wait").returncode == 0
    yield plane
    plane.stop()


def test_killed_while_waiting_for_dns_the_wait_resumes(killable, powerdns, zone):
    cp, domain = killable, f"slow.{zone}"
    with cp.api() as api:
        op_id = api.post("/v1/sites/kill/domains", json={"domain": domain}).json()["operation"][
            "id"
        ]
    wait_for(lambda: _domain(cp, "kill", domain)["status"] == "PENDING", "a PENDING domain")
    cp.kill()
    powerdns.records(zone, domain, "A", [PLATFORM_IP])
    cp.start()
    op = cp.wait_operation(op_id, timeout=30)
    assert op["status"] == "SUCCEEDED", op
    assert cp.edge_get(domain).status_code == 200


def test_killed_inside_the_route_step_converges(killable, powerdns, proxy, zone):
    cp, domain = killable, f"route.{zone}"
    powerdns.records(zone, domain, "A", [PLATFORM_IP])
    loads = proxy.loads_seen
    proxy.mode = "stall"
    with cp.api() as api:
        op_id = api.post("/v1/sites/kill/domains", json={"domain": domain}).json()["operation"][
            "id"
        ]
    wait_for(lambda: proxy.loads_seen > loads, "the route step to reach Caddy")
    cp.kill()
    proxy.mode = "pass"
    proxy.released.set()
    proxy.released.clear()
    cp.start()
    op = cp.wait_operation(op_id, timeout=30)
    assert op["status"] == "SUCCEEDED", op
    assert [s["status"] for s in op["steps"] if s["name"] == "dns"] == ["succeeded"]
    assert cp.edge_get(domain).status_code == 200
    assert sorted(_caddy_hosts(cp)) == sorted({"kill.localhost", domain})


def test_killed_inside_the_removal_converges(killable, powerdns, proxy, zone):
    cp, domain = killable, f"unroute.{zone}"
    powerdns.records(zone, domain, "A", [PLATFORM_IP])
    assert cp.cli("domain", "add", "kill", domain, "--wait").returncode == 0
    loads = proxy.loads_seen
    proxy.mode = "stall"
    with cp.api() as api:
        op_id = api.delete(f"/v1/sites/kill/domains/{domain}").json()["operation"]["id"]
    wait_for(lambda: proxy.loads_seen > loads, "the removal to reach Caddy")
    cp.kill()
    proxy.mode = "pass"
    proxy.released.set()
    proxy.released.clear()
    cp.start()
    op = cp.wait_operation(op_id, timeout=30)
    assert op["status"] == "SUCCEEDED", op
    assert _domain(cp, "kill", domain)["status"] == "REMOVED"
    assert cp.edge_get(domain).status_code == 404
    assert [a for a, _ in _audit(cp, domain)].count("domain.removed") == 1


def test_killed_inside_the_tunnel_step_converges(killable, powerdns, cloudflare, zone, tmp_path):
    cp, domain = killable, f"tunnel.{zone}"
    powerdns.records(zone, domain, "A", [PLATFORM_IP])
    tunnel_dir = tmp_path / "tunnel"
    restarts = tunnel_dir / "restarts.log"
    before = restarts.read_text().count("restarted") if restarts.exists() else 0
    (tunnel_dir / "stall").touch()
    with cp.api() as api:
        op_id = api.post("/v1/sites/kill/domains", json={"domain": domain}).json()["operation"][
            "id"
        ]
    wait_for(lambda: (tunnel_dir / "reached").exists(), "the tunnel step to restart cloudflared")
    cp.kill()
    (tunnel_dir / "stall").unlink()
    cp.start()
    op = cp.wait_operation(op_id, timeout=30)
    assert op["status"] == "SUCCEEDED", op
    assert domain in _tunnel_matches_database(cp, cloudflare)
    assert cloudflare.cnames()[domain] == f"{TUNNEL}.cfargotunnel.com"
    # The killed restart never finished; cloudflared was restarted once more, with the new
    # rules (by the start-up regeneration or the resumed step, whichever came first).
    assert restarts.read_text().count("restarted") == before + 1
