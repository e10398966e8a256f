"""Tenants' caches under faults (issue 17, "how it is checked"), against a real control plane
and real redis-server instances: the worker killed with SIGKILL at each point of a cache's
create, of a cache user's create and of a cache's reassign to another tenant, and a cache's
instance killed while a user's create waits on it. Each ends with the operation SUCCEEDED,
its step done once, one redis-server for the cache (a restarted step adopts the one it
started), the user able to work within its prefix, and no drift."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.e2e.harness import ControlPlane, wait_for, wait_gone
from tests.faults.common import (
    POINTS,
    disarmed,
    done,
    failpoint_plane,
    killed_request,
    log_events,
    no_drift,
    started,
    succeeded_once,
)
from tests.fixtures_redis import connect
from tests.inprocess.test_cache_reassign import REASSIGN_KILLS


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    yield from started(failpoint_plane(tmp_path_factory, "cache-faults"))


@pytest.fixture
def cp(plane: ControlPlane) -> Iterator[ControlPlane]:
    yield from disarmed(plane)


APP = {"name": "app", "key_prefix": "p:"}
MAIN = {"name": "main", "memory_mb": 8}


def _tenant(cp: ControlPlane) -> str:
    name = f"c{uuid.uuid4().hex[:7]}"
    done(cp, "POST", "/v1/tenants", {"name": name})
    return name


def _works(user: dict[str, Any]) -> None:
    """The user SETs and GETs within its prefix and is refused outside it."""
    with redis.Redis(
        unix_socket_path=user["connection"]["socket"],
        username=user["user"],
        password=user["password"],
        socket_timeout=5,
        protocol=2,
    ) as conn:
        conn.set("p:k", "v")
        assert conn.get("p:k") == b"v"
        with pytest.raises(redis.exceptions.NoPermissionError):
            conn.get("elsewhere")


def _one_instance(cp: ControlPlane, cache: str) -> int:
    pids = [pid for name, pid in cp.cache_pids().items() if name == cache]
    assert len(pids) == 1, cp.cache_pids()
    return pids[0]


@pytest.mark.parametrize("point", POINTS)
def test_cache_create_killed_at_its_step_converges(cp, point):
    tenant = _tenant(cp)
    cp.arm(f"cache-instance.apply.{point}=kill")
    answer = killed_request(cp, "POST", f"/v1/tenants/{tenant}/caches", MAIN)
    succeeded_once(cp, answer, "apply")
    _one_instance(cp, answer["cache"])
    _works(done(cp, "POST", f"/v1/caches/{answer['cache']}/users", APP))
    no_drift(cp)


@pytest.mark.parametrize("point", POINTS)
def test_cache_user_create_killed_at_its_step_converges(cp, point):
    tenant = _tenant(cp)
    cache = done(cp, "POST", f"/v1/tenants/{tenant}/caches", MAIN)["cache"]
    cp.arm(f"cache-user.apply.{point}=kill")
    answer = killed_request(cp, "POST", f"/v1/caches/{cache}/users", APP)
    succeeded_once(cp, answer, "apply")
    if answer["password"] is not None:  # the first answer arrived: its password works
        _works(answer)
    _one_instance(cp, cache)
    no_drift(cp)


def test_an_instance_killed_while_a_user_create_waits_on_it_converges(cp):
    """Broke: froze the cache's redis-server (SIGSTOP) so a user's create waited on it and
    timed out, then killed it (SIGKILL) once the step had been retried. Verified: the plane's
    supervisor starts the instance again, the step's retry reaches it, the operation
    SUCCEEDS, the user works, and nothing drifted."""
    tenant = _tenant(cp)
    cache = done(cp, "POST", f"/v1/tenants/{tenant}/caches", MAIN)["cache"]
    pid = _one_instance(cp, cache)
    os.kill(pid, signal.SIGSTOP)
    try:
        with cp.api() as api:
            accepted = api.post(f"/v1/caches/{cache}/users", json=APP)
        assert accepted.status_code == 202, accepted.text
        answer = accepted.json()
        op_id = answer["operation"]["id"]
        wait_for(
            lambda: any(
                e.get("operation") == op_id and e.get("step") == "cache-user"
                for e in log_events(cp, "step.retry")
            ),
            "the user's create to find the instance frozen and retry",
            timeout=60,
        )
    finally:
        os.kill(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGCONT)
    wait_gone(pid, "the killed redis-server")
    succeeded_once(cp, answer, "apply")
    assert _one_instance(cp, cache) != pid
    _works(answer)
    no_drift(cp)


@pytest.mark.parametrize("failpoint", REASSIGN_KILLS)
def test_a_reassign_killed_at_a_step_converges(cp, failpoint):
    """After the restart the reassign finishes, each step's work done once: one redis-server,
    under the new tenant's name and user, with the key the old tenant's user wrote (a
    memory-only cache: SAVEd before its stop), the old tenant's user refused, and no drift."""
    a, b = _tenant(cp), _tenant(cp)
    old, new = f"tc-{len(a)}-{a}-main", f"tc-{len(b)}-{b}-main"
    done(cp, "POST", f"/v1/tenants/{a}/caches", MAIN)
    theirs = done(cp, "POST", f"/v1/caches/{old}/users", APP)
    with connect(theirs["connection"]["socket"], "app", theirs["password"]) as conn:
        conn.set("p:moved", "kept")
    cp.arm(f"{failpoint}=kill")
    answer = killed_request(cp, "POST", f"/v1/caches/{old}/reassign", {"tenant": b})
    succeeded_once(cp, answer, "apply")
    assert old not in cp.cache_pids()
    _one_instance(cp, new)
    mine = done(cp, "POST", f"/v1/caches/{new}/users", APP)
    _works(mine)
    with connect(mine["connection"]["socket"], "app", mine["password"]) as conn:
        assert conn.get("p:moved") == "kept"
    with pytest.raises(redis.AuthenticationError):
        connect(mine["connection"]["socket"], "app", theirs["password"]).ping()
    no_drift(cp)
