"""What the fault tests share: one control plane per module whose failpoints each test arms
at run time, the kill-and-restart of a request, and the checks every fault test ends with."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hostplane import failpoints
from tests.e2e.harness import ControlPlane

POINTS = ("before", "after", "checkpointed")


def failpoint_plane(
    tmp_path_factory: pytest.TempPathFactory, name: str, **env: str
) -> ControlPlane:
    """The module's control plane, not started yet, in a temporary directory `name`, with
    HOSTPLANE_FAILPOINTS=@armed and `env`: each test arms its failpoints at run time, so a
    test costs the restart its kill needs, not a plane of its own."""
    data_dir = tmp_path_factory.mktemp(name) / "data"
    return ControlPlane(data_dir, extra_env={"HOSTPLANE_FAILPOINTS": failpoints.FROM_FILE, **env})


def started(plane: ControlPlane) -> Iterator[ControlPlane]:
    """For a module-scoped fixture: the plane, started; stopped (with its edge, caches and
    PowerDNS) and its system users removed when the module ends."""
    try:
        yield plane.start()
    finally:
        plane.stop()
        plane.clean_host()


def disarmed(plane: ControlPlane) -> Iterator[ControlPlane]:
    """The module's plane, running and disarmed, for one test; disarmed again after it (a
    test that failed leaves it as it was, and the next one starts it if it is down)."""
    if not plane.running:
        plane.arm("")
        plane.start()
    yield plane
    plane.arm("")


def request_killed(cp: ControlPlane, method: str, path: str, owner: str, **kwargs: Any) -> str:
    """Make the request, see the control plane kill itself at the failpoint, start it again;
    return the operation. The process may die before it answers (the workflow starts in the
    same process): the operation is then read from `owner`, the URL of what it works on."""
    op_id = None
    try:
        with cp.api() as api:
            op_id = str(api.request(method, path, **kwargs).json()["operation"]["id"])
    except httpx.TransportError:
        pass
    killed_then_restarted(cp)
    if op_id is None:
        with cp.api() as api:
            op_id = str(api.get(owner).json()["operation"]["id"])
    return op_id


def killed_then_restarted(cp: ControlPlane) -> None:
    """The control plane killed itself at the failpoint; start it again on the same data."""
    assert cp.proc is not None
    assert cp.proc.wait(timeout=60) == -9, cp.log_tail()
    cp.proc = None
    cp.start()


def killed_request(cp: ControlPlane, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """The request, the plane killing itself at the armed failpoint, the plane started again,
    and the request asked again with the same Idempotency-Key when its answer was lost: the
    answer (a replay shows no password)."""
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    answer = None
    try:
        with cp.api() as api:
            response = api.request(method, path, json=body, headers=headers)
        assert response.status_code == 202, response.text
        answer = response.json()
    except httpx.TransportError:
        pass
    killed_then_restarted(cp)
    if answer is None:
        with cp.api() as api:
            response = api.request(method, path, json=body, headers=headers)
        assert response.status_code == 202, response.text
        answer = response.json()
    return dict(answer)


def succeeded_once(cp: ControlPlane, answer: dict[str, Any], phase: str) -> None:
    op = cp.wait_operation(str(answer["operation"]["id"]))
    assert op["status"] == "SUCCEEDED", op
    done_once(op, phase)


def done(cp: ControlPlane, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """The request accepted and its operation SUCCEEDED (through the API, not hostctl: these
    only set the scene); the accepted body."""
    with cp.api() as api:
        accepted = api.request(method, path, json=body)
    assert accepted.status_code == 202, accepted.text
    op = cp.wait_operation(str(accepted.json()["operation"]["id"]))
    assert op["status"] == "SUCCEEDED", op
    return dict(accepted.json())


def done_once(op: dict[str, Any], phase: str) -> None:
    succeeded = [
        s["name"] for s in op["steps"] if s["phase"] == phase and s["status"] == "succeeded"
    ]
    assert len(succeeded) == len(set(succeeded)), op["steps"]


def no_drift(cp: ControlPlane) -> None:
    result = cp.cli("drift", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def log_events(cp: ControlPlane, event: str) -> list[dict[str, Any]]:
    found = []
    for line in cp.log_path.read_text().splitlines():
        if f'"{event}"' in line:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == event:
                found.append(entry)
    return found
