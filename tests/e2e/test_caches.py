"""A tenant's cache on a real control plane with real redis-server processes (issue 17 items
6-8): a tenant, a cache and a user through hostctl; the user connects over the socket in the
tenant's home with the password shown once, may SET within its key prefix and nothing else;
the reconciler finds the instance as rendered, puts back a config and an ACL user edited by
hand; a killed instance is back within seconds (the plane's supervisor); a restarted plane
adopts the running instance; suspension turns the user off and back on; a delete leaves no
process, socket or directory behind. And the kind's part of the isolation canaries: another
tenant's user cannot reach the socket, nobody gets anything done before AUTH, another tenant's
token sees nothing."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from hostplane.cli.client import ApiClient
from hostplane.cli.isolation import Canary, tenant_names
from hostplane.kernel.store.db import create_engine
from hostplane.kernel.store.uow import Store
from hostplane.kinds.cache.canary import BEFORE_AUTH, INSIDE, INSIDE_TCP, World, attack, made
from hostplane.providers.redis.rules import ADMIN_USER
from hostplane.secretbox import load_secret_box
from hostplane.services import CacheAdminPasswords
from hostplane.settings import Settings
from tests.e2e.harness import ControlPlane, wait_for, wait_gone
from tests.fixtures_redis import connect
from tests.services import free_port

TAG = uuid.uuid4().hex[:5]
TENANT = f"ca-{TAG}"
CACHE = f"tc-{len(TENANT)}-{TENANT}-main"


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    port = free_port()  # the one loopback port of the module's tcp cache
    plane = ControlPlane(
        tmp_path_factory.mktemp("caches") / "data",
        extra_env={"HOSTPLANE_CACHE_PORTS": f"{port}-{port}"},
    ).start()
    try:
        yield plane
    finally:
        for tenant in (TENANT, *(f"c{x}-{TAG}" for x in "bcdefgh")):
            plane.cli("tenant", "delete", tenant, "--cascade", "--wait")
        plane.stop()
        plane.clean_host()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def answers(socket: Path, user: str, password: str) -> bool:
    try:
        with connect(socket, user, password) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def cache_findings(cp: ControlPlane, command: str) -> list[tuple[str, str]]:
    found = json.loads(ok(cp.cli(command, "--json")))
    return [(f["kind"], f["resource"]) for f in found if f["handler"] == "cache"]


def test_a_cache_serves_its_user_within_its_prefix_survives_kills_and_leaves_nothing(
    cp: ControlPlane,
):
    ok(cp.cli("tenant", "create", TENANT, "--wait"))
    out = ok(cp.cli("cache", "create", "main", "--tenant", TENANT, "--memory-mb", "32", "--wait"))
    assert CACHE in out
    made = json.loads(
        ok(cp.cli("cache", "user", "create", CACHE, "app", "--key-prefix", "app:", "--json"))
    )
    assert cp.wait_operation(made["operation"]["id"])["status"] == "SUCCEEDED"
    password, socket = made["password"], Path(made["connection"]["socket"])
    assert socket == cp.homes_dir / TENANT / "private" / "cache-main.sock"

    # the user, over the socket, with the password shown once: its prefix only
    with connect(socket, "app", password) as app:
        assert app.set("app:greeting", "hello") is True
        assert app.get("app:greeting") == "hello"
        for refused in (
            lambda: app.set("other:key", "x"),
            lambda: app.get("other:key"),
            lambda: app.keys("*"),
            lambda: app.flushall(),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                refused()
    with pytest.raises(redis.AuthenticationError):
        connect(socket, "app", "not-the-password").ping()
    with pytest.raises(redis.AuthenticationError):
        connect(socket).ping()  # the default user is off
    shown = ok(cp.cli("cache", "show", CACHE, "--json"))
    detail = json.loads(shown)
    assert password not in shown and detail["status"] == "ACTIVE"
    assert detail["connection"]["socket"] == str(socket)
    assert [(u["name"], u["key_prefix"]) for u in detail["users"]] == [("app", "app:")]
    users = json.loads(ok(cp.cli("cache", "user", "list", CACHE, "--json")))
    assert [u["connection"]["user"] for u in users] == ["app"] and password not in str(users)

    # the reconciler finds it as rendered; a config edited by hand is put back
    assert cache_findings(cp, "drift") == []
    config = cp.caches_dir / CACHE / "redis.conf"
    config.write_text(config.read_text().replace("maxmemory 32mb", "maxmemory 900mb"))
    assert cache_findings(cp, "reconcile") == [("drifted", f"instance:{CACHE}")]
    assert "maxmemory 32mb" in config.read_text()
    assert answers(socket, "app", password) and cache_findings(cp, "drift") == []

    # killed: the plane's supervisor starts it again, the user still in its ACL file
    pid = cp.cache_pids()[CACHE]  # restarted by the reconciler with its config put back
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid, "the killed redis-server")
    wait_for(lambda: answers(socket, "app", password), "the cache to be restarted", timeout=20)
    assert cp.cache_pids()[CACHE] != pid

    # an ACL user edited by hand (its file, then a restart) is put back by the reconciler
    acl_file = cp.caches_dir / CACHE / "data" / "users.acl"
    assert " ~app:* " in acl_file.read_text()
    acl_file.write_text(acl_file.read_text().replace(" ~app:* ", " ~* "))
    pid = cp.cache_pids()[CACHE]
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid, "the killed redis-server")
    wait_for(lambda: answers(socket, "app", password), "the cache to be restarted", timeout=20)
    with connect(socket, "app", password) as app:
        assert app.set("other:key", "widened by hand") is True
    assert cache_findings(cp, "reconcile") == [("drifted", f"user:{CACHE}/app")]
    with connect(socket, "app", password) as app, pytest.raises(redis.exceptions.NoPermissionError):
        app.get("other:key")
    assert cache_findings(cp, "drift") == []

    # a restarted plane adopts the running instance (the same process) and supervises it
    pid = cp.cache_pids()[CACHE]
    cp.stop(edge=False)
    assert answers(socket, "app", password)  # the instance outlives the plane
    cp.start()
    assert cp.cache_pids()[CACHE] == pid
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid, "the killed redis-server")
    wait_for(lambda: answers(socket, "app", password), "the cache to be restarted", timeout=20)

    # suspension turns the user off (the instance and its data kept); unsuspension on again
    pid = cp.cache_pids()[CACHE]
    with connect(socket, "app", password) as app:
        app.set("app:kept", "yes")
    ok(cp.cli("tenant", "suspend", TENANT, "--reason", "test", "--wait"))
    assert not answers(socket, "app", password)
    ok(cp.cli("tenant", "unsuspend", TENANT, "--wait"))
    with connect(socket, "app", password) as app:
        assert app.get("app:kept") == "yes"
    assert cp.cache_pids()[CACHE] == pid  # the suspension ended the tenant's processes but it

    # a delete leaves no process, socket or directory behind; audited
    pid = cp.cache_pids()[CACHE]
    ok(cp.cli("cache", "delete", CACHE, "--wait"))
    wait_gone(pid, "the deleted cache's redis-server")
    assert CACHE not in cp.cache_pids()
    assert not socket.exists() and not (cp.caches_dir / CACHE).exists()
    assert "cache.deleted" in ok(cp.cli("audit", "--json"))
    ok(cp.cli("tenant", "delete", TENANT, "--cascade", "--wait"))


def as_user(user: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`argv` run as a tenant's system user (its uid and gid only)."""
    entry = pwd.getpwnam(user)
    ids = [f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"]
    return subprocess.run(
        ["setpriv", *ids, *argv], capture_output=True, text=True, timeout=30, check=False
    )


def test_canary_another_tenant_cannot_reach_a_cache_and_nobody_works_unauthenticated(
    cp: ControlPlane,
):
    """What the kind adds to the provider's canaries (tests/integration/test_redis_*.py): the
    socket it places in the tenant's home is its tenant's alone; its own tenant gets nothing
    done before AUTH (no SELECT of another database either); another tenant's token sees none
    of it."""
    a, b = f"cb-{TAG}", f"cc-{TAG}"
    for tenant in (a, b):
        ok(cp.cli("tenant", "create", tenant, "--wait"))
        ok(cp.cli("cache", "create", "main", "--tenant", tenant, "--memory-mb", "8", "--wait"))
    theirs = f"tc-{len(a)}-{a}-main"
    made = json.loads(
        ok(cp.cli("cache", "user", "create", theirs, "app", "--key-prefix", "a:", "--json"))
    )
    assert cp.wait_operation(made["operation"]["id"])["status"] == "SUCCEEDED"
    socket = made["connection"]["socket"]
    auth = ["--user", "app", "--pass", made["password"], "--no-auth-warning"]
    assert as_user(f"hp-{a}", "redis-cli", "-s", socket, *auth, "SET", "a:k", "v").stdout == "OK\n"
    for probe in (
        ["redis-cli", "-s", socket, *auth, "GET", "a:k"],  # B's user, even with A's password
        ["ls", str(Path(socket).parent)],
        ["cat", str(cp.caches_dir / theirs / "redis.conf")],
    ):
        seen = as_user(f"hp-{b}", *probe)
        assert "Permission denied" in seen.stdout + seen.stderr, (probe, seen)
        assert "v" not in seen.stdout.split()
    for command in (["PING"], ["SELECT", "1"], ["GET", "a:k"], ["KEYS", "*"]):
        seen = as_user(f"hp-{a}", "redis-cli", "-s", socket, *command)
        assert seen.stdout.startswith("NOAUTH"), (command, seen)
    token = json.loads(ok(cp.cli("token", "create", "--tenant", b, "--json")))["token"]
    with httpx.Client(base_url=cp.api_url, headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.get(f"/v1/caches/{theirs}").status_code == 404
        assert api.get(f"/v1/caches/{theirs}/users").status_code == 404
        assert api.get(f"/v1/tenants/{a}/caches").status_code == 404
        assert api.delete(f"/v1/caches/{theirs}").status_code == 404
        spy = api.post(f"/v1/caches/{theirs}/users", json={"name": "spy", "key_prefix": "a:"})
        assert spy.status_code == 404
        mine = api.get(f"/v1/tenants/{b}/caches").json()["items"]
        assert [c["name"] for c in mine] == [f"tc-{len(b)}-{b}-main"]
    ok(cp.cli("tenant", "delete", a, "--cascade", "--wait"))
    ok(cp.cli("tenant", "delete", b, "--cascade", "--wait"))
    assert not {theirs, f"tc-{len(b)}-{b}-main"} & set(cp.cache_pids())
    assert not Path(socket).exists()


def test_hostctl_canary_passes_for_caches_and_leaves_nothing(cp: ControlPlane):
    result = cp.cli("canary", "--kind", "cache", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    probes = json.loads(result.stdout)
    expected = len(INSIDE) + len(INSIDE_TCP) + 2 * len(BEFORE_AUTH) + 4
    assert len(probes) == expected and all(p["held"] for p in probes), probes
    over_tcp = [p for p in probes if " over TCP" in p["name"]]
    assert len(over_tcp) == len(INSIDE_TCP) + len(BEFORE_AUTH) + 2, over_tcp
    assert all(p["detail"].startswith("-NOAUTH") for p in over_tcp if "AUTH" in p["name"])
    with cp.api() as api:
        tenants = {t["name"] for t in api.get("/v1/tenants").json()["items"]}
    assert not {t for t in tenants if t.startswith(("cn-", "cnx"))}
    assert not {name for name in cp.cache_pids() if "-cn" in name}


@contextmanager
def canary_world(cp: ControlPlane) -> Iterator[World]:
    """The cache canary's world (tenant A's tcp cache and users, B's), removed afterwards."""
    canary = Canary(ApiClient(Settings(api_url=cp.api_url, api_token=cp.token)), tenant_names())
    for tenant in canary.tenants:
        canary.done("POST", "/v1/tenants", {"name": tenant})
    try:
        yield made(canary)
    finally:
        for tenant in canary.tenants:
            canary.done("DELETE", f"/v1/tenants/{tenant}?cascade=true")


def leaks(world: World) -> set[str]:
    return {p.name.split(" (")[0] for p in attack(world) if not p.held}


def test_the_canary_reports_a_user_widened_by_hand(cp: ControlPlane):
    """A's `p:` user given every key by hand (its ACL file, then a restart): the probes that
    must see it do, on the socket and over TCP, and the ones that do not depend on its key
    pattern still hold."""
    with canary_world(cp) as world:
        acl_file = cp.caches_dir / world.cache / "data" / "users.acl"
        user = world.me["user"]
        widened = acl_file.read_text().replace(" ~p:* ", " ~* ").replace(" &p:* ", " &* ")
        assert widened != acl_file.read_text()
        acl_file.write_text(widened)
        pid = cp.cache_pids()[world.cache]
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, "the killed redis-server")
        wait_for(lambda: answers(Path(world.socket), user, world.me["password"]), "a restart")
        found = leaks(world)
        widened_leaks = {
            "GET o:secret",
            "SET o:planted x",
            "SUBSCRIBE o:news",
            "PUBLISH o:news forged",
            "GET o:secret over TCP",
            "SET o:planted x over TCP",
        }
        assert widened_leaks <= found, found
        assert not found & {"KEYS *", "KEYS * over TCP", "FLUSHALL", "ACL LIST"}, found
        assert not {f for f in found if "before AUTH" in f or "default" in f}, found


def test_the_canary_reports_the_default_user_turned_on_by_hand(cp: ControlPlane):
    """`ACL SETUSER default on nopass` on A's tcp cache (the control plane's admin, by hand):
    any local user now logs in as `default` on the loopback port with any password, and the
    one probe of the default user reports exactly that (an unauthenticated connection is
    `default` now, still without rights: NOPERM, not a leak of its own)."""
    with canary_world(cp) as world:
        assert not leaks(world)
        settings = Settings(data_dir=cp.data_dir)
        store = Store(create_engine(settings.state_database_url))
        try:
            password = CacheAdminPasswords(store, load_secret_box(settings))(world.cache)
        finally:
            store.dispose()
        with connect(Path(world.socket), ADMIN_USER, password) as admin:
            assert admin.execute_command("ACL", "SETUSER", "default", "on", "nopass") == "OK"
        assert leaks(world) == {"the default user over TCP"}
        found = {p.name.split(" (")[0]: p for p in attack(world)}
        assert found["PING before AUTH over TCP"].detail.startswith("-NOPERM")


def test_a_reassigned_cache_keeps_its_keys_and_its_old_tenant_loses_it(cp: ControlPlane):
    """A memory-only cache of A with a key and a connected user, reassigned to B through
    hostctl: the open connection is cut, A's user is refused and A's system user cannot even
    reach the new socket (in B's home), the old socket is gone, the instance runs as B's
    user, and B's new user reads the key A wrote; nothing drifted."""
    a, b = f"cd-{TAG}", f"ce-{TAG}"
    for tenant in (a, b):
        ok(cp.cli("tenant", "create", tenant, "--wait"))
    ok(cp.cli("cache", "create", "main", "--tenant", a, "--memory-mb", "8", "--wait"))
    old, new = f"tc-{len(a)}-{a}-main", f"tc-{len(b)}-{b}-main"
    made = json.loads(
        ok(cp.cli("cache", "user", "create", old, "app", "--key-prefix", "a:", "--json"))
    )
    assert cp.wait_operation(made["operation"]["id"])["status"] == "SUCCEEDED"
    old_socket = Path(made["connection"]["socket"])
    held = connect(old_socket, "app", made["password"])
    held.set("a:k", "kept")
    out = ok(cp.cli("cache", "reassign", old, "--to", b, "--wait"))
    assert new in out
    with pytest.raises(redis.ConnectionError):
        held.ping()
    assert not old_socket.exists() and old not in cp.cache_pids()
    pid = cp.cache_pids()[new]
    uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
    assert uid == pwd.getpwnam(f"hp-{b}").pw_uid
    mine = json.loads(
        ok(cp.cli("cache", "user", "create", new, "reader", "--key-prefix", "a:", "--json"))
    )
    assert cp.wait_operation(mine["operation"]["id"])["status"] == "SUCCEEDED"
    socket = Path(mine["connection"]["socket"])
    assert socket.parent.parent == cp_home(cp, b)
    with connect(socket, "reader", mine["password"]) as client:
        assert client.get("a:k") == "kept"
    assert not answers(socket, "app", made["password"])  # A's user is gone from it
    auth = ["--user", "app", "--pass", made["password"], "--no-auth-warning"]
    seen = as_user(f"hp-{a}", "redis-cli", "-s", str(socket), *auth, "GET", "a:k")
    assert "Permission denied" in seen.stdout + seen.stderr, seen
    assert "kept" not in seen.stdout
    assert cache_findings(cp, "drift") == []
    shown = json.loads(ok(cp.cli("cache", "show", new, "--json")))
    assert shown["tenant"] == b
    ok(cp.cli("tenant", "delete", a, "--cascade", "--wait"))
    ok(cp.cli("tenant", "delete", b, "--cascade", "--wait"))
    assert new not in cp.cache_pids()


def cp_home(cp: ControlPlane, tenant: str) -> Path:
    """The tenant's home, as its system user's passwd entry says."""
    return Path(pwd.getpwnam(f"hp-{tenant}").pw_dir)


def test_a_tcp_cache_listens_on_loopback_only_and_needs_a_password_there(cp: ControlPlane):
    """Asked with --tcp: the cache answers on the module's one port of 127.0.0.1 (not on
    every address), its user works over TCP, and another tenant's system user, which reaches
    any loopback port, gets nothing done there without a password (the default user is off);
    a second tcp cache finds no port left (409 naming the setting)."""
    a, b = f"cf-{TAG}", f"cg-{TAG}"
    for tenant in (a, b):
        ok(cp.cli("tenant", "create", tenant, "--wait"))
    out = cp.cli("cache", "create", "web", "--tenant", a, "--memory-mb", "8", "--tcp", "--wait")
    ok(out)
    cache = f"tc-{len(a)}-{a}-web"
    shown = json.loads(ok(cp.cli("cache", "show", cache, "--json")))
    port = shown["port"]
    assert cp.extra_env["HOSTPLANE_CACHE_PORTS"] == f"{port}-{port}"
    assert (shown["connection"]["host"], shown["connection"]["port"]) == ("127.0.0.1", port)
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    assert f"127.0.0.1:{port} " in listening and f"0.0.0.0:{port} " not in listening
    made = json.loads(
        ok(cp.cli("cache", "user", "create", cache, "app", "--key-prefix", "a:", "--json"))
    )
    assert cp.wait_operation(made["operation"]["id"])["status"] == "SUCCEEDED"
    assert made["connection"]["port"] == port
    with redis.Redis(
        host="127.0.0.1", port=port, username="app", password=made["password"], protocol=2
    ) as client:
        client.set("a:k", "v")
        assert client.get("a:k") == b"v"
    for probe in (["PING"], ["GET", "a:k"], ["--user", "default", "--pass", "x", "PING"]):
        seen = as_user(f"hp-{b}", "redis-cli", "-h", "127.0.0.1", "-p", str(port), *probe)
        assert "v" not in seen.stdout.split() and "PONG" not in seen.stdout, (probe, seen)
        assert "NOAUTH" in seen.stdout or "WRONGPASS" in seen.stdout, (probe, seen)
    second = cp.cli("cache", "create", "more", "--tenant", b, "--memory-mb", "8", "--tcp")
    assert second.returncode != 0 and "HOSTPLANE_CACHE_PORTS" in second.stdout + second.stderr
    ok(cp.cli("tenant", "delete", a, "--cascade", "--wait"))
    ok(cp.cli("tenant", "delete", b, "--cascade", "--wait"))
    assert (
        f"127.0.0.1:{port} "
        not in subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    )


def test_a_rotated_password_replaces_the_old_one_and_cuts_its_sessions(cp: ControlPlane):
    tenant = f"ch-{TAG}"
    ok(cp.cli("tenant", "create", tenant, "--wait"))
    ok(cp.cli("cache", "create", "main", "--tenant", tenant, "--memory-mb", "8", "--wait"))
    cache = f"tc-{len(tenant)}-{tenant}-main"
    made = json.loads(
        ok(cp.cli("cache", "user", "create", cache, "app", "--key-prefix", "a:", "--json"))
    )
    assert cp.wait_operation(made["operation"]["id"])["status"] == "SUCCEEDED"
    socket = Path(made["connection"]["socket"])
    held = connect(socket, "app", made["password"])
    assert held.ping()
    out = ok(cp.cli("cache", "user", "rotate", cache, "app", "--wait"))
    new = out.split("(shown once): ")[1].split()[0]
    assert new != made["password"]
    with pytest.raises(redis.ConnectionError):
        held.ping()
    assert not answers(socket, "app", made["password"])
    assert answers(socket, "app", new)
    assert made["password"] not in ok(cp.cli("cache", "show", cache, "--json"))
    assert cache_findings(cp, "drift") == []
    ok(cp.cli("tenant", "delete", tenant, "--cascade", "--wait"))
