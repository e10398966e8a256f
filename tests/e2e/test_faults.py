"""Faults injected into a real edge and a real worker process: compensation, retry, conflicts
while an operation runs, and recovery of a workflow whose process was killed with SIGKILL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import CaddyServer, ControlPlane, FaultyAdminProxy, wait_for


@pytest.fixture
def caddy(tmp_path: Path) -> Iterator[CaddyServer]:
    server = CaddyServer(tmp_path / "caddy")
    yield server
    server.stop()


@pytest.fixture
def proxy(caddy: CaddyServer) -> Iterator[FaultyAdminProxy]:
    p = FaultyAdminProxy(caddy.admin_port)
    yield p
    p.close()


@pytest.fixture
def behind_proxy(
    backend_url: str | None, proxy: FaultyAdminProxy, tmp_path: Path
) -> Iterator[ControlPlane]:
    cp = ControlPlane(
        tmp_path / "data",
        database_url=backend_url,
        extra_env={"HOSTPLANE_CADDY_ADMIN_URL": proxy.url, "HOSTPLANE_EDGE_CONFIRM_TIMEOUT": "3"},
    ).start()
    yield cp
    cp.stop()


def _steps(op: dict) -> list[tuple[str, str, str]]:
    return [(s["name"], s["phase"], s["status"]) for s in op["steps"]]


def test_an_edge_refusal_compensates_and_retry_finishes(behind_proxy, proxy):
    cp = behind_proxy
    name = f"refused-{uuid.uuid4().hex[:6]}"
    proxy.mode = "reject"
    with cp.api() as api:
        op_id = api.post("/v1/sites", json={"name": name}).json()["operation"]["id"]
    op = cp.wait_operation(op_id)
    assert op["status"] == "FAILED"
    assert "refused" in op["error"]
    # The webroot made by the files step was removed again; the failed edge step was undone too.
    assert not cp.site_dir(name).exists()
    assert ("files", "undo", "succeeded") in _steps(op)
    with cp.api() as api:
        site = api.get(f"/v1/sites/{name}").json()
    assert site["status"] == "FAILED"
    assert "injected fault" in site["last_error"]
    assert cp.edge_get(f"{name}.localhost").status_code == 404

    proxy.mode = "pass"
    retried = cp.cli("site", "retry", name, "--wait")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    with cp.api() as api:
        site = api.get(f"/v1/sites/{name}").json()
    assert (site["status"], site["last_error"]) == ("ACTIVE", None)


def test_a_request_during_a_running_operation_gets_409_naming_it(behind_proxy, proxy):
    cp = behind_proxy
    name = f"busy-{uuid.uuid4().hex[:6]}"
    proxy.mode = "stall"
    loads_before = proxy.loads_seen  # the control plane loads the edge once at start-up
    with cp.api() as api:
        op_id = api.post("/v1/sites", json={"name": name}).json()["operation"]["id"]
        wait_for(lambda: proxy.loads_seen > loads_before, "the edge step to reach Caddy")
        destroy = api.delete(f"/v1/sites/{name}")
        retry = api.post(f"/v1/sites/{name}/retry")
        assert destroy.status_code == 409 and retry.status_code == 409
        assert op_id in destroy.json()["message"] and op_id in retry.json()["message"]
        audit = api.get("/v1/audit", params={"target": name}).json()["items"]
        assert [(a["action"], a["decision"]) for a in audit] == [("site.destroy", "refused")]
        assert op_id in audit[0]["reason"]
    proxy.mode = "pass"
    proxy.released.set()
    assert cp.wait_operation(op_id)["status"] == "SUCCEEDED"


def test_a_worker_killed_mid_workflow_resumes_it_on_restart(
    behind_proxy, proxy, caddy: CaddyServer
):
    cp = behind_proxy
    name = f"killed-{uuid.uuid4().hex[:6]}"
    proxy.mode = "stall"
    loads_before = proxy.loads_seen  # the control plane loads the edge once at start-up
    with cp.api() as api:
        op_id = api.post("/v1/sites", json={"name": name}).json()["operation"]["id"]
    wait_for(lambda: proxy.loads_seen > loads_before, "the edge step to reach Caddy")
    assert (cp.site_dir(name) / "public" / "index.html").is_file()

    cp.kill()  # SIGKILL: the workflow is cut off in the middle of the edge step
    proxy.released.set()

    # The same control plane comes back, this time talking to Caddy directly.
    cp.extra_env["HOSTPLANE_CADDY_ADMIN_URL"] = caddy.admin_url
    cp.start()
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op
    files = [s for s in op["steps"] if s["name"] == "files"]
    assert [(s["phase"], s["attempt"], s["status"]) for s in files] == [("apply", 1, "succeeded")]
    assert any(s["name"] == "confirm" and s["status"] == "succeeded" for s in op["steps"])
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    with cp.api() as api:
        assert api.get(f"/v1/sites/{name}").json()["status"] == "ACTIVE"


def test_api_and_worker_as_separate_processes(backend_url, tmp_path):
    """`hostctl api` only records and enqueues; a `hostctl worker` started later picks the
    operation up from the queue and runs it (with its own supervised Caddy)."""
    cp = ControlPlane(tmp_path / "data", database_url=backend_url, command="api").start()
    worker = None
    name = f"split-{uuid.uuid4().hex[:6]}"
    try:
        with cp.api() as api:
            op_id = api.post("/v1/sites", json={"name": name}).json()["operation"]["id"]
            time.sleep(0.5)
            assert api.get(f"/v1/operations/{op_id}").json()["status"] == "PENDING"
        worker = cp.start_worker()
        op = cp.wait_operation(op_id, timeout=60)
        assert op["status"] == "SUCCEEDED", op
        wait_for(lambda: _serves(cp, f"{name}.localhost"), "the worker's edge to serve")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        cp.stop()


def _serves(cp: ControlPlane, host: str) -> bool:
    try:
        return cp.edge_get(host).status_code == 200
    except Exception:
        return False
