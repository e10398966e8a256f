"""DNS zones under faults, against a real control plane and its own PowerDNS (issue 16, "how
it is checked"): the worker killed with SIGKILL at each point of a zone's create, of a record
change and of the records a bound custom domain gets in its tenant's zone; PowerDNS stopped in
the middle of a record change; records changed and deleted by hand on PowerDNS. Each ends with
the operation SUCCEEDED, its step done once, the records answered over DNS and recorded, and
no drift."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import dns.rcode
import httpx
import pytest

from tests.e2e.harness import ControlPlane, wait_for, wait_gone
from tests.e2e.test_zones import ask
from tests.faults.common import (
    POINTS,
    disarmed,
    done,
    done_once,
    failpoint_plane,
    log_events,
    no_drift,
    request_killed,
    started,
)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _names() -> tuple[str, str]:
    """A tenant and a zone of their own, in whatever plane."""
    tag = uuid.uuid4().hex[:8]
    return f"t{tag}", f"zf-{tag}.test"


def _tenant_with_zone(cp: ControlPlane) -> tuple[str, str]:
    tenant, zone = _names()
    done(cp, "POST", "/v1/tenants", {"name": tenant})
    done(cp, "POST", "/v1/zones", {"name": zone, "tenant": tenant})
    return tenant, zone


def _set(cp: ControlPlane, zone: str, name: str, *values: str) -> None:
    done(cp, "PUT", f"/v1/zones/{zone}/records/{name}/A", {"contents": list(values)})


def _records(cp: ControlPlane, zone: str, name: str) -> list[dict[str, Any]]:
    """The RRsets the database has at `name` (a full name, no trailing dot)."""
    with cp.api() as api:
        items = api.get(f"/v1/zones/{zone}/records").json()["items"]
    return [r for r in items if r["name"] == name + "."]


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One plane for the module: each killed test arms its failpoint at run time. Its own
    PowerDNS answers for its zones, and the DNS check of a domain asks it."""
    cp = failpoint_plane(
        tmp_path_factory,
        "zone-faults",
        HOSTPLANE_PUBLIC_IPS="127.0.0.1",
        HOSTPLANE_DNS_ALLOW_PRIVATE="true",
    )
    cp.extra_env["HOSTPLANE_DNS_RESOLVERS"] = f"127.0.0.1:{cp.dns_port}"
    yield from started(cp)


@pytest.fixture
def cp(plane: ControlPlane) -> Iterator[ControlPlane]:
    yield from disarmed(plane)


@pytest.mark.parametrize("point", POINTS)
def test_zone_create_killed_at_the_zone_step_converges(cp, point):
    tenant, zone = _names()
    done(cp, "POST", "/v1/tenants", {"name": tenant})
    cp.arm(f"zone-zone.apply.{point}=kill")
    body = {"name": zone, "tenant": tenant}
    op_id = request_killed(cp, "POST", "/v1/zones", f"/v1/zones/{zone}", json=body)
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "apply")
    with cp.api() as api:
        assert api.get(f"/v1/zones/{zone}").json()["status"] == "ACTIVE"
    rcode, soa = ask(cp, zone, "SOA")
    assert rcode == dns.rcode.NOERROR and len(soa) == 1, (rcode, soa)
    no_drift(cp)


@pytest.mark.parametrize("point", POINTS)
def test_record_change_killed_at_the_rrsets_step_converges(cp, point):
    _, zone = _tenant_with_zone(cp)
    www = f"www.{zone}"
    cp.arm(f"zone-rrsets.apply.{point}=kill")
    path = f"/v1/zones/{zone}/records/{www}/A"
    op_id = request_killed(cp, "PUT", path, f"/v1/zones/{zone}", json={"contents": ["192.0.2.20"]})
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "apply")
    assert ask(cp, www, "A") == (dns.rcode.NOERROR, {"192.0.2.20"})
    assert [(r["type"], r["contents"]) for r in _records(cp, zone, www)] == [("A", ["192.0.2.20"])]
    no_drift(cp)


def test_domain_records_killed_after_their_patch_converge(cp):
    """Killed once the step's action is done (the PATCH sent to PowerDNS, the rows written),
    before its run is recorded: the restarted step sends the same REPLACE and puts the same
    rows, the DNS check finds the record answered, and the domain goes on to ACTIVE."""
    tenant, zone = _names()
    site, www = f"s{tenant[1:]}", f"www.{zone}"
    done(cp, "POST", "/v1/tenants", {"name": tenant})
    done(cp, "POST", "/v1/sites", {"name": site, "type": "static", "tenant": tenant})
    done(cp, "POST", "/v1/zones", {"name": zone, "tenant": tenant})
    cp.arm("zone-domain-records.apply.after=kill")
    owner = f"/v1/sites/{site}/domains/{www}"
    op_id = request_killed(cp, "POST", f"/v1/sites/{site}/domains", owner, json={"domain": www})
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "apply")
    assert ask(cp, www, "A") == (dns.rcode.NOERROR, {"127.0.0.1"})
    kept = [(r["type"], r["contents"], r["managed_by"]) for r in _records(cp, zone, www)]
    assert kept == [("A", ["127.0.0.1"], www)]
    with cp.api() as api:
        assert api.get(owner).json()["status"] == "ACTIVE"
    assert cp.edge_get(www).status_code == 200
    no_drift(cp)


# Faults that need no failpoint ------------------------------------------------------------


def _powerdns_pid(cp: ControlPlane) -> int:
    return int((cp.dns_dir / "server.pid").read_text().strip())


def _powerdns_pid_if_running(cp: ControlPlane) -> int | None:
    """None between a server's exit (its pid file removed) and its successor's start."""
    try:
        return _powerdns_pid(cp)
    except FileNotFoundError:
        return None


def _stopped_and_held(cp: ControlPlane) -> socket.socket:
    """The plane's PowerDNS stopped (SIGTERM), and its DNS port held by the test: the plane's
    supervisor cannot start it again (a stranger on its port) until the socket is closed.
    The supervisor may win the race for the port: then the new server is stopped in turn."""
    for _ in range(5):
        pid = _powerdns_pid(cp)
        cp.stop_powerdns()
        wait_gone(pid, f"PowerDNS (pid {pid}) to stop")
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            holder.bind(("127.0.0.1", cp.dns_port))
            return holder
        except OSError:
            holder.close()
            wait_for(
                lambda p=pid: _powerdns_pid_if_running(cp) not in (None, p),
                "the restarted PowerDNS's pid",
            )
    raise AssertionError("the supervisor restarted PowerDNS before the test held its port, 5 times")


def test_powerdns_stopped_in_the_middle_of_a_record_change_converges(cp):
    """Broke: stopped the plane's PowerDNS and kept it down (its DNS port held) while a
    record change ran. Verified: the change's step found the API not answering and retried
    (a TemporaryError, the step's RetryPolicy); once the port is free the plane's supervisor
    starts PowerDNS again, the retry goes through, the operation SUCCEEDS, the new value is
    answered and recorded, and nothing drifted."""
    _, zone = _tenant_with_zone(cp)
    www = f"www.{zone}"
    _set(cp, zone, www, "192.0.2.10")
    before = _powerdns_pid(cp)
    holder = _stopped_and_held(cp)
    try:
        with cp.api() as api:
            put = api.put(f"/v1/zones/{zone}/records/{www}/A", json={"contents": ["192.0.2.20"]})
        assert put.status_code == 202, put.text
        op_id = put.json()["operation"]["id"]
        wait_for(
            lambda: any(
                e.get("operation") == op_id and e.get("step") == "zone-rrsets"
                for e in log_events(cp, "step.retry")
            ),
            "the record change to find PowerDNS down and retry",
        )
    finally:
        holder.close()
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "apply")
    after = _powerdns_pid(cp)
    assert after != before and log_events(cp, "powerdns.exited"), cp.log_tail()
    assert ask(cp, www, "A") == (dns.rcode.NOERROR, {"192.0.2.20"})
    assert [(r["type"], r["contents"]) for r in _records(cp, zone, www)] == [("A", ["192.0.2.20"])]
    no_drift(cp)


def test_records_changed_by_hand_on_powerdns_are_reported_and_put_back(cp):
    """Broke: through PowerDNS's own API, changed the value of one record and deleted
    another. Verified: drift reports them (drifted, missing), a reconcile puts both back as
    the database has them, they are answered again, and nothing drifts after."""
    _, zone = _tenant_with_zone(cp)
    www, mail = f"www.{zone}", f"mail.{zone}"
    _set(cp, zone, www, "192.0.2.10")
    _set(cp, zone, mail, "192.0.2.25")
    key = (cp.dns_dir / "api-key").read_text().strip()
    url = f"http://127.0.0.1:{cp.pdns_api_port}/api/v1/servers/localhost/zones/{zone}."
    by_hand = [
        {
            "name": f"{www}.",
            "type": "A",
            "ttl": 300,
            "changetype": "REPLACE",
            "records": [{"content": "192.0.2.99", "disabled": False}],
        },
        {"name": f"{mail}.", "type": "A", "changetype": "DELETE"},
    ]
    patched = httpx.patch(url, headers={"X-API-Key": key}, json={"rrsets": by_hand})
    assert patched.status_code == 204, patched.text
    assert ask(cp, www, "A")[1] == {"192.0.2.99"}
    assert ask(cp, mail, "A")[1] == set()

    drift = json.loads(ok(cp.cli("drift", "--json")))
    found = {(f["kind"], f["resource"], f["action"]) for f in drift}
    assert found == {
        ("drifted", f"rrset:{www}. A", "repair"),
        ("missing", f"rrset:{mail}. A", "repair"),
    }, drift
    done = json.loads(ok(cp.cli("reconcile", "--json")))
    assert {(f["resource"], f.get("result")) for f in done} == {
        (f"rrset:{www}. A", "repaired"),
        (f"rrset:{mail}. A", "repaired"),
    }, done
    assert ask(cp, www, "A") == (dns.rcode.NOERROR, {"192.0.2.10"})
    assert ask(cp, mail, "A") == (dns.rcode.NOERROR, {"192.0.2.25"})
    no_drift(cp)
