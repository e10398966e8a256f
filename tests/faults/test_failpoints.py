"""The worker killed with SIGKILL at each step of each workflow — before the step's side
effect, after it (before its record), and after the step's checkpoint — and each provider
step failing in turn; after a restart (or a retry) the system converges: ACTIVE sites serve,
DESTROYED ones leave nothing, each step's work is done once, and a final reconcile finds
nothing, orphans included."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import ControlPlane, wait_for
from tests.faults.common import (
    POINTS,
    disarmed,
    done_once,
    failpoint_plane,
    killed_then_restarted,
    no_drift,
    request_killed,
)

PLATFORM_IP = "93.184.215.14"  # DNS record data only


@pytest.fixture(scope="module")
def shared_plane(tmp_path_factory, powerdns) -> ControlPlane:
    """One control plane for the module, started by the first test's `disarmed`. Names are
    unique per test, and each test leaves no drift behind, which the next one checks."""
    return failpoint_plane(
        tmp_path_factory,
        "faults",
        HOSTPLANE_DNS_RESOLVERS=powerdns.resolver,
        HOSTPLANE_PUBLIC_IPS=PLATFORM_IP,
    )


@pytest.fixture
def cp(shared_plane: ControlPlane) -> Iterator[ControlPlane]:
    yield from disarmed(shared_plane)


def _name(prefix: str = "k") -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", ["files", "edge", "confirm"])
def test_provision_killed_at_a_step_converges(cp, step, point):
    name = _name()
    cp.arm(f"{step}.apply.{point}=kill")
    op_id = request_killed(cp, "POST", "/v1/sites", f"/v1/sites/{name}", json={"name": name})
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "apply")
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    no_drift(cp)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", ["domains", "edge", "files"])
def test_destroy_killed_at_a_step_converges(cp, step, point):
    name = _name()
    assert cp.cli("site", "create", name, "--wait").returncode == 0
    cp.arm(f"{step}.undo.{point}=kill")
    op_id = request_killed(cp, "DELETE", f"/v1/sites/{name}", f"/v1/sites/{name}")
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "undo")
    assert not cp.site_dir(name).exists()
    assert cp.edge_get(f"{name}.localhost").status_code == 404
    no_drift(cp)


def _hosted_www(powerdns) -> str:
    """A name whose DNS points at the platform, in a zone of the suite's PowerDNS."""
    zone = f"z{uuid.uuid4().hex[:8]}.test"
    powerdns.zone(zone)
    powerdns.records(zone, f"www.{zone}", "A", [PLATFORM_IP])
    return f"www.{zone}"


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", ["dns", "route"])
def test_domain_addition_killed_at_a_step_converges(cp, powerdns, step, point):
    name, domain = _name(), _hosted_www(powerdns)
    assert cp.cli("site", "create", name, "--wait").returncode == 0
    cp.arm(f"{step}.apply.{point}=kill")
    op_id = request_killed(
        cp,
        "POST",
        f"/v1/sites/{name}/domains",
        f"/v1/sites/{name}/domains/{domain}",
        json={"domain": domain},
    )
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "apply")
    assert cp.edge_get(domain).status_code == 200
    no_drift(cp)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", ["certificate", "route"])
def test_domain_removal_killed_at_a_step_converges(cp, powerdns, step, point):
    name, domain = _name(), _hosted_www(powerdns)
    assert cp.cli("site", "create", name, "--wait").returncode == 0
    assert cp.cli("domain", "add", name, domain, "--wait").returncode == 0
    cp.arm(f"{step}.undo.{point}=kill")
    path = f"/v1/sites/{name}/domains/{domain}"
    op_id = request_killed(cp, "DELETE", path, path)
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "undo")
    assert cp.edge_get(domain).status_code == 404
    with cp.api() as api:
        assert api.get(path).json()["status"] == "REMOVED"
    no_drift(cp)


def test_a_reconcile_killed_inside_a_repair_resumes_it(cp):
    """The reconcile workflow killed inside a site repair: on restart it resumes the same
    repair (under the same operation) and finishes it."""
    name = _name()
    assert cp.cli("site", "create", name, "--wait").returncode == 0
    with cp.api() as api:
        earlier = api.get("/v1/reconcile/runs/latest")
    earlier_id = earlier.json()["id"] if earlier.status_code == 200 else None
    cp.arm("files.apply.after=kill")
    shutil.rmtree(cp.site_dir(name))
    try:
        with cp.api() as api:
            api.post("/v1/reconcile", json={})
    except httpx.TransportError:
        pass  # the repair runs in this process and may kill it before it answers
    killed_then_restarted(cp)

    def resumed_run_finished() -> bool:
        with cp.api() as api:
            run = api.get("/v1/reconcile/runs/latest").json()
        return run["id"] != earlier_id and run["finished_at"] is not None

    wait_for(resumed_run_finished, "the resumed reconcile to finish")
    with cp.api() as api:
        run = api.get("/v1/reconcile/runs/latest").json()
        site = api.get(f"/v1/sites/{name}").json()
        repair = api.get(site["operation"]["url"]).json()
    assert run["repairs"] == 1 and run["findings"][0]["result"] == "repaired", run
    assert repair["kind"] == "repair" and repair["status"] == "SUCCEEDED", repair
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    no_drift(cp)


@pytest.mark.parametrize("step", ["files", "edge", "confirm"])
def test_a_provider_failing_at_a_step_is_compensated_and_retry_succeeds(cp, step):
    name = _name("f")
    cp.arm(f"{step}.apply.before=error")
    failed = cp.cli("site", "create", name, "--wait")
    assert failed.returncode == 1 and f"injected fault at {step}.apply.before" in failed.stderr
    with cp.api() as api:
        site = api.get(f"/v1/sites/{name}").json()
        op = api.get(site["operation"]["url"]).json()
    assert site["status"] == "FAILED"
    undone = [s["name"] for s in op["steps"] if s["phase"] == "undo" and s["status"] == "succeeded"]
    assert "files" in undone and not cp.site_dir(name).exists()
    assert cp.edge_get(f"{name}.localhost").status_code == 404
    # The tenant made for the site turns ACTIVE once the files step has made its account;
    # failed before that, it stays PROVISIONING and no account is expected of it.
    assert _tenant_status(cp, name) == ("PROVISIONING" if step == "files" else "ACTIVE")
    no_drift(cp)
    retried = cp.cli("site", "retry", name, "--wait")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    assert _tenant_status(cp, name) == "ACTIVE"
    no_drift(cp)


def _tenant_status(cp: ControlPlane, name: str) -> str:
    with cp.api() as api:
        return str(api.get(f"/v1/tenants/{name}").json()["status"])


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", ["tenant-account", "tenant-sftp"])
def test_tenant_create_killed_at_a_step_converges(cp, step, point):
    name = _name("kt")
    cp.arm(f"{step}.apply.{point}=kill")
    op_id = request_killed(cp, "POST", "/v1/tenants", f"/v1/tenants/{name}", json={"name": name})
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "apply")
    assert _tenant_status(cp, name) == "ACTIVE"
    assert (cp.homes_dir / name / "web").is_dir()
    no_drift(cp)


@pytest.mark.parametrize("step", ["tenant-account", "tenant-sftp"])
def test_tenant_delete_killed_at_a_step_converges(cp, step):
    name = _name("kt")
    assert cp.cli("tenant", "create", name, "--wait").returncode == 0
    cp.arm(f"{step}.undo.after=kill")
    op_id = request_killed(cp, "DELETE", f"/v1/tenants/{name}", f"/v1/tenants/{name}")
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    done_once(op, "undo")
    assert not (cp.homes_dir / name).exists()
    no_drift(cp)
