"""WordPress on the local runtime with each real dependency made to fail in turn — MariaDB,
PHP-FPM, the edge — and the worker killed with SIGKILL inside a step: every failure leaves the
site FAILED with an actionable error and nothing behind; retry and restart converge."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from hostplane import naming
from hostplane.providers.wordpress import WordPressInstaller
from tests.e2e.harness import (
    CaddyServer,
    ControlPlane,
    FaultyAdminProxy,
    TcpProxy,
    php_fpm_wrapper,
    stalling_commands,
    wait_for,
)
from tests.e2e.traces import assert_no_trace, db_traces, fpm_running, system_user_exists


@dataclass
class Rig:
    cp: ControlPlane
    db: TcpProxy
    edge: FaultyAdminProxy
    fpm_faults: Path
    mariadb: object
    caddy: CaddyServer
    commands: Path  # stall-<cmd> files make cp/userdel hang


@pytest.fixture
def rig(mariadb_server, tmp_path: Path) -> Iterator[Rig]:
    caddy = CaddyServer(tmp_path / "caddy")
    edge = FaultyAdminProxy(caddy.admin_port)
    db = TcpProxy(int(mariadb_server.url.rsplit(":", 1)[1].strip("/")))
    faults = tmp_path / "fpm-faults"
    commands = stalling_commands(tmp_path / "bin", "cp", "userdel")
    cp = ControlPlane(
        tmp_path / "data",
        extra_env={
            "PATH": f"{commands}:{os.environ['PATH']}",
            "HOSTPLANE_SITE_DB_URL": db.url,
            "HOSTPLANE_CADDY_ADMIN_URL": edge.url,
            "HOSTPLANE_PHP_FPM_BINARY": str(php_fpm_wrapper(faults)),
            "HOSTPLANE_EDGE_CONFIRM_TIMEOUT": "3",
        },
    ).start()
    try:
        yield Rig(cp, db, edge, faults, mariadb_server, caddy, commands)
    finally:
        cp.stop()
        cp.clean_host()
        db.close()
        edge.close()
        caddy.stop()


def _create(rig: Rig, name: str) -> str:
    with rig.cp.api() as api:
        r = api.post("/v1/sites", json={"name": name, "type": "wordpress"})
    assert r.status_code == 202, r.text
    return str(r.json()["operation"]["id"])


def _failed_cleanly(rig: Rig, name: str, op_id: str, expect: str) -> None:
    op = rig.cp.wait_operation(op_id, timeout=90)
    assert op["status"] == "FAILED", op
    with rig.cp.api() as api:
        site = api.get(f"/v1/sites/{name}").json()
    assert site["status"] == "FAILED"
    assert expect in site["last_error"], site["last_error"]
    assert_no_trace(rig.cp, rig.mariadb, name)


def _retry_succeeds(rig: Rig, name: str) -> None:
    retried = rig.cp.cli("site", "retry", name, "--wait")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    _serving_once(rig, name)


def _serving_once(rig: Rig, name: str) -> None:
    """ACTIVE, answering with WordPress, with exactly one of each resource."""
    with rig.cp.api() as api:
        assert api.get(f"/v1/sites/{name}").json()["status"] == "ACTIVE"
    page = rig.cp.edge_get(f"{name}.localhost:{rig.cp.edge_port}")
    assert page.status_code in (200, 302), page.text[:300]
    assert db_traces(rig.mariadb, name) == (
        [naming.site_database(name)],
        [naming.site_database_user(name)],
    )
    assert system_user_exists(name) and fpm_running(rig.cp, name)
    pools = list((rig.cp.data_dir / "php-fpm").glob(f"{name}*"))
    assert sorted(p.name for p in pools) == sorted([f"{name}.conf", f"{name}.log"])


def test_mariadb_unreachable_fails_cleanly_then_retry_succeeds(rig):
    name = f"nodb-{uuid.uuid4().hex[:6]}"
    rig.db.mode = "refuse"
    _failed_cleanly(rig, name, _create(rig, name), "MariaDB at 127.0.0.1")
    rig.db.mode = "pass"
    _retry_succeeds(rig, name)


def test_php_fpm_not_starting_compensates_every_earlier_step(rig):
    name = f"nofpm-{uuid.uuid4().hex[:6]}"
    (rig.fpm_faults / "fail").touch()
    _failed_cleanly(rig, name, _create(rig, name), "injected fault: php-fpm cannot start")
    (rig.fpm_faults / "fail").unlink()
    _retry_succeeds(rig, name)


def test_edge_rejecting_its_config_compensates_every_earlier_step(rig):
    name = f"noedge-{uuid.uuid4().hex[:6]}"
    rig.edge.mode = "reject"
    _failed_cleanly(rig, name, _create(rig, name), "injected fault: config refused")
    rig.edge.mode = "pass"
    _retry_succeeds(rig, name)


def _steps(op: dict) -> list[tuple[str, str, str, int]]:
    return [(s["name"], s["phase"], s["status"], s["attempt"]) for s in op["steps"]]


def _interrupted_then_done(op: dict, step: str, phase: str = "apply") -> None:
    """The killed run left the step unfinished; the resumed run finished it."""
    runs = [s["status"] for s in op["steps"] if (s["name"], s["phase"]) == (step, phase)]
    assert runs[0] == "running" and runs[-1] == "succeeded", _steps(op)


def _kill_and_restart(rig: Rig) -> None:
    rig.cp.kill()
    for stall in rig.commands.glob("stall-*"):
        stall.unlink()
    rig.db.mode = "pass"
    rig.edge.mode = "pass"
    rig.edge.released.set()
    (rig.fpm_faults / "stall").unlink(missing_ok=True)
    rig.cp.start()


@pytest.mark.parametrize("step", ["database", "app", "edge"])
def test_sigkill_inside_a_provision_step_converges_after_restart(rig, step):
    name = f"kill-{step[:4]}-{uuid.uuid4().hex[:4]}"
    connections, loads = rig.db.connections, rig.edge.loads_seen
    if step == "database":
        rig.db.mode = "stall"
        reached = lambda: rig.db.connections > connections  # noqa: E731
    elif step == "app":
        (rig.fpm_faults / "stall").touch()
        reached = lambda: (rig.cp.data_dir / "php-fpm" / f"{name}.conf").exists()  # noqa: E731
    else:
        rig.edge.mode = "stall"
        reached = lambda: rig.edge.loads_seen > loads  # noqa: E731
    op_id = _create(rig, name)
    wait_for(reached, f"the {step} step to start")
    time.sleep(0.2)
    _kill_and_restart(rig)
    op = rig.cp.wait_operation(op_id, timeout=90)
    assert op["status"] == "SUCCEEDED", op
    _interrupted_then_done(op, step)
    _serving_once(rig, name)


@pytest.mark.parametrize("step", ["edge", "database"])
def test_sigkill_inside_a_destroy_step_converges_after_restart(rig, step):
    name = f"kdes-{step[:4]}-{uuid.uuid4().hex[:4]}"
    assert rig.cp.wait_operation(_create(rig, name))["status"] == "SUCCEEDED"
    connections, loads = rig.db.connections, rig.edge.loads_seen
    if step == "database":
        rig.db.mode = "stall"
        reached = lambda: rig.db.connections > connections  # noqa: E731
    else:
        rig.edge.mode = "stall"
        reached = lambda: rig.edge.loads_seen > loads  # noqa: E731
    with rig.cp.api() as api:
        op_id = api.delete(f"/v1/sites/{name}").json()["operation"]["id"]
    wait_for(reached, f"the {step} undo to start")
    time.sleep(0.2)
    _kill_and_restart(rig)
    op = rig.cp.wait_operation(op_id, timeout=90)
    assert op["status"] == "SUCCEEDED", op
    _interrupted_then_done(op, step, "undo")
    assert_no_trace(rig.cp, rig.mariadb, name)


def test_sigkill_inside_the_files_step_converges_after_restart(rig):
    name = f"kill-file-{uuid.uuid4().hex[:4]}"
    (rig.commands / "stall-cp").touch()
    op_id = _create(rig, name)
    wait_for(lambda: (rig.commands / "reached-cp").exists(), "the files step to copy")
    _kill_and_restart(rig)
    op = rig.cp.wait_operation(op_id, timeout=90)
    assert op["status"] == "SUCCEEDED", op
    _interrupted_then_done(op, "files")
    _serving_once(rig, name)


def test_sigkill_inside_the_confirm_step_converges_after_restart(rig):
    name = f"kill-conf-{uuid.uuid4().hex[:4]}"
    frozen: list[int] = []
    pid_file = rig.cp.run_dir / "php-fpm" / f"{name}.pid"

    def freeze_php() -> None:  # the confirm request waits on a PHP-FPM that cannot answer
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGSTOP)
        frozen.append(pid)

    rig.edge.after_load = freeze_php
    op_id = _create(rig, name)
    wait_for(lambda: bool(frozen), "the edge step to load")
    time.sleep(0.5)
    rig.cp.kill()
    os.kill(frozen[0], signal.SIGCONT)
    _kill_and_restart(rig)
    op = rig.cp.wait_operation(op_id, timeout=90)
    assert op["status"] == "SUCCEEDED", op
    _interrupted_then_done(op, "confirm")
    _serving_once(rig, name)


def test_sigkill_inside_the_install_step_converges_after_restart(rig):
    name = f"kill-inst-{uuid.uuid4().hex[:4]}"
    locks = []

    def block_writes() -> None:  # WordPress's install writes, so it waits on this lock
        conn = pymysql.connect(unix_socket=rig.mariadb.socket, user="root", autocommit=True)
        conn.cursor().execute("FLUSH TABLES WITH READ LOCK")
        locks.append(conn)

    rig.edge.after_load = block_writes
    with rig.cp.api() as api:
        r = api.post(
            "/v1/sites", json={"name": name, "type": "wordpress", "admin_email": "me@example.org"}
        )
        op_id, password = r.json()["operation"]["id"], r.json()["admin"]["password"]

        def installing() -> bool:
            steps = api.get(f"/v1/operations/{op_id}").json()["steps"]
            return any(s["name"] == "install" for s in steps)

        wait_for(installing, "the install step to start")
    time.sleep(0.3)
    rig.cp.kill()
    locks[0].close()
    _kill_and_restart(rig)
    op = rig.cp.wait_operation(op_id, timeout=90)
    assert op["status"] == "SUCCEEDED", op
    _interrupted_then_done(op, "install")
    host = f"{name}.localhost:{rig.cp.edge_port}"
    WordPressInstaller(f"http://127.0.0.1:{rig.cp.edge_port}").check_login(host, password)
    assert rig.cp.edge_get(host).status_code == 200
    _serving_once(rig, name)


def test_sigkill_inside_the_account_undo_of_a_tenant_delete_converges_after_restart(rig):
    """A site's destroy leaves its tenant's account (the tenant outlives its sites); the
    account goes with the tenant. Killed while userdel runs, the delete resumes and ends."""
    name = f"kdes-acct-{uuid.uuid4().hex[:4]}"
    created = rig.cp.wait_operation(_create(rig, name))
    assert created["status"] == "SUCCEEDED", (created.get("error"), created["steps"])
    with rig.cp.api() as api:
        destroy = api.delete(f"/v1/sites/{name}").json()["operation"]["id"]
    assert rig.cp.wait_operation(destroy)["status"] == "SUCCEEDED"
    assert system_user_exists(name)
    (rig.commands / "stall-userdel").touch()
    with rig.cp.api() as api:
        r = api.delete(f"/v1/tenants/{name}")
    assert r.status_code == 202, r.text
    wait_for(lambda: (rig.commands / "reached-userdel").exists(), "the account undo")
    _kill_and_restart(rig)
    op = rig.cp.wait_operation(r.json()["operation"]["id"], timeout=90)
    assert op["status"] == "SUCCEEDED", op
    _interrupted_then_done(op, "tenant-account", "undo")
    assert not system_user_exists(name) and not (rig.cp.homes_dir / name).exists()
    with rig.cp.api() as api:
        assert api.get(f"/v1/tenants/{name}").status_code == 404


def test_sigkill_inside_the_app_undo_of_destroy_converges_after_restart(rig):
    name = f"kdes-app-{uuid.uuid4().hex[:4]}"
    assert rig.cp.wait_operation(_create(rig, name))["status"] == "SUCCEEDED"
    frozen: list[int] = []
    pid_file = rig.cp.run_dir / "php-fpm" / f"{name}.pid"

    def freeze_php() -> None:  # the app undo then waits for a master that cannot stop
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGSTOP)
        frozen.append(pid)

    rig.edge.after_load = freeze_php  # the edge undo comes right before the app undo
    with rig.cp.api() as api:
        op_id = api.delete(f"/v1/sites/{name}").json()["operation"]["id"]
        wait_for(lambda: bool(frozen), "the edge undo to load")

        def stopping_app() -> bool:
            steps = api.get(f"/v1/operations/{op_id}").json()["steps"]
            return any((s["name"], s["phase"]) == ("app", "undo") for s in steps)

        wait_for(stopping_app, "the app undo to start")
    time.sleep(0.3)
    rig.cp.kill()
    os.kill(frozen[0], signal.SIGCONT)
    _kill_and_restart(rig)
    op = rig.cp.wait_operation(op_id, timeout=90)
    assert op["status"] == "SUCCEEDED", op
    _interrupted_then_done(op, "app", "undo")
    assert_no_trace(rig.cp, rig.mariadb, name)
