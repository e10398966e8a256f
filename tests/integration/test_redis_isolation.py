"""Isolation inside one cache instance, against a real redis-server (7.0 on Debian 12).

A user limited to `p:*` attacks everything else on its instance: it can neither learn nor
touch a key outside its prefix, whichever command it tries. Every test here runs with the
neighbour's keys in place and checks, after it, that every one of them is exactly as before.
"""

from __future__ import annotations

import socket as socketlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.fixtures_redis import Caches, SystemUser, connect

TENANT_PASSWORD = "tenant-password-0123456789"
NEIGHBOUR_PASSWORD = "neighbour-password-0123456789"


@dataclass(frozen=True)
class Instance:
    caches: Caches
    socket: Path

    def admin(self) -> redis.Redis:
        return connect(self.socket, "hostplane", self.caches.admin_passwords["iso"])

    def tenant(self) -> redis.Redis:
        return connect(self.socket, "tenant", TENANT_PASSWORD)


@pytest.fixture(scope="module")
def iso(module_caches: Caches, tenant_users: tuple[SystemUser, SystemUser]) -> Instance:
    caches = module_caches
    caches.instances.ensure(caches.spec("iso", tenant_users[0]))
    caches.acl.ensure_user("iso", "tenant", TENANT_PASSWORD, "p:")
    caches.acl.ensure_user("iso", "neighbour", NEIGHBOUR_PASSWORD, "q:")
    instance = Instance(caches, caches.socket("iso"))
    neighbour = connect(instance.socket, "neighbour", NEIGHBOUR_PASSWORD)
    neighbour.set("q:secret", "the neighbour's")
    neighbour.rpush("q:list", "3", "1", "2")
    neighbour.hset("q:hash", mapping={"card": "4111"})
    neighbour.sadd("q:set", "a", "b")
    for i in range(5):
        neighbour.set(f"q:weight:{i}", str(i))
    neighbour.close()
    with instance.tenant() as tenant:
        tenant.rpush("p:list", "3", "1", "2")
        tenant.set("p:own", "mine")
    return instance


def keyspace(admin: redis.Redis) -> dict[str, Any]:
    """Every key outside p:* with its type, value and ttl, as the admin sees it."""
    found = {}
    for key in admin.scan_iter(count=1000):
        if not key.startswith("p:"):
            found[key] = (admin.type(key), admin.dump(key), admin.ttl(key))
    return found


@pytest.fixture(autouse=True)
def others_unchanged(iso: Instance) -> Iterator[None]:
    with iso.admin() as admin:
        before = keyspace(admin)
    assert "q:secret" in before and len(before) == 9
    yield
    with iso.admin() as admin:
        assert keyspace(admin) == before, "a key outside the tenant's prefix changed"
        assert admin.dbsize() == len(before) + len([k for k in admin.scan_iter("p:*")])


@pytest.fixture
def tenant(iso: Instance) -> Iterator[redis.Redis]:
    client = iso.tenant()
    yield client
    client.close()


def refused(call: Callable[..., Any], *args: Any) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        call(*args)
    return str(caught.value)


def noperm(tenant: redis.Redis, *command: str) -> None:
    message = refused(tenant.execute_command, *command)
    assert message.startswith("this user has no permissions"), (command, message)


def test_the_tenant_uses_its_own_prefix(tenant: redis.Redis) -> None:
    """The positive control: everything below fails for what it reaches, not for nothing."""
    assert tenant.set("p:a", "1") and tenant.get("p:a") == "1"
    assert tenant.hset("p:h", "f", "v") == 1 and tenant.expire("p:h", 60)
    pipe = tenant.pipeline(transaction=True)
    pipe.incr("p:n").incr("p:n")
    assert pipe.execute() == [1, 2]
    assert tenant.eval("return redis.call('get', KEYS[1])", 1, "p:a") == "1"
    assert tenant.publish("p:news", "hi") == 0
    assert tenant.delete("p:a", "p:h", "p:n") == 3


def test_get_and_set_of_another_prefix_are_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "GET", "q:secret")
    noperm(tenant, "SET", "q:secret", "mine now")
    noperm(tenant, "EXISTS", "q:secret")
    noperm(tenant, "TYPE", "q:secret")
    noperm(tenant, "TTL", "q:secret")


def test_multi_key_commands_across_prefixes_are_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "MSET", "p:x", "1", "q:planted", "1")
    noperm(tenant, "RENAME", "p:own", "q:stolen")
    noperm(tenant, "LMOVE", "q:list", "p:list", "LEFT", "LEFT")
    noperm(tenant, "SUNIONSTORE", "p:copy", "q:set")
    noperm(tenant, "MGET", "p:own", "q:secret")
    assert tenant.get("p:own") == "mine"


def test_keys_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "KEYS", "*")
    noperm(tenant, "KEYS", "p:*")


def test_scan_is_refused_with_and_without_match(tenant: redis.Redis) -> None:
    noperm(tenant, "SCAN", "0")
    noperm(tenant, "SCAN", "0", "MATCH", "q:*")
    noperm(tenant, "SCAN", "0", "MATCH", "p:*", "COUNT", "1000")
    noperm(tenant, "SCAN", "0", "TYPE", "string")


def test_randomkey_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "RANDOMKEY")


def test_dbsize_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "DBSIZE")


def test_info_keyspace_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "INFO", "keyspace")
    noperm(tenant, "INFO")


def test_select_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "SELECT", "0")
    noperm(tenant, "SELECT", "1")


def test_swapdb_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "SWAPDB", "0", "1")


def test_move_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "MOVE", "p:own", "1")
    noperm(tenant, "MOVE", "q:secret", "1")


def test_copy_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "COPY", "q:secret", "p:copy")
    noperm(tenant, "COPY", "p:own", "p:copy", "DB", "1")


def test_flushdb_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "FLUSHDB")
    noperm(tenant, "FLUSHDB", "ASYNC")


def test_flushall_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "FLUSHALL")
    noperm(tenant, "FLUSHALL", "SYNC")


def test_acl_list_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "ACL", "LIST")
    noperm(tenant, "ACL", "GETUSER", "neighbour")
    noperm(tenant, "ACL", "SETUSER", "tenant", "~*")
    noperm(tenant, "ACL", "WHOAMI")


def test_config_get_is_refused(tenant: redis.Redis, iso: Instance) -> None:
    """CONFIG is renamed away for everyone (the admin too): no `CONFIG SET dir` to abuse."""
    assert "unknown command 'CONFIG'" in refused(tenant.execute_command, "CONFIG", "GET", "*")
    assert "unknown command" in refused(tenant.execute_command, "CONFIG", "SET", "dir", "/tmp")
    with iso.admin() as admin:
        assert "unknown command" in refused(admin.execute_command, "CONFIG", "GET", "dir")


def test_client_list_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "CLIENT", "LIST")
    noperm(tenant, "CLIENT", "KILL", "USER", "neighbour")
    assert "user=tenant" in tenant.execute_command("CLIENT", "INFO")  # its own connection only


def test_client_tracking_broadcast_is_refused(tenant: redis.Redis) -> None:
    """7.0 checks no key pattern for BCAST tracking: it would push every changed key's name."""
    noperm(tenant, "CLIENT", "TRACKING", "ON", "BCAST")
    noperm(tenant, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "q:")


def test_memory_stats_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "MEMORY", "STATS")
    noperm(tenant, "MEMORY", "USAGE", "q:secret")


def test_monitor_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "MONITOR")


def test_debug_is_refused(tenant: redis.Redis, iso: Instance) -> None:
    """`enable-debug-command no` refuses DEBUG before the ACL is asked; the ACL would too."""
    message = refused(tenant.execute_command, "DEBUG", "OBJECT", "q:secret")
    assert message.startswith(("DEBUG command not allowed", "this user has no permissions"))
    with iso.admin() as admin:
        assert "no permissions" in admin.execute_command("ACL", "DRYRUN", "tenant", "DEBUG", "HELP")


def test_sort_by_and_get_of_other_keys_are_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "SORT", "p:list", "BY", "q:weight:*")
    noperm(tenant, "SORT", "p:list", "GET", "q:weight:*")
    noperm(tenant, "SORT", "p:list", "BY", "nosort", "GET", "#", "GET", "q:secret")
    noperm(tenant, "SORT_RO", "p:list", "GET", "q:*")
    noperm(tenant, "SORT", "q:list")


def test_eval_touching_another_key_is_refused(tenant: redis.Redis) -> None:
    """Redis checks what a script's commands touch, declared in KEYS or not."""
    undeclared = refused(tenant.eval, "return redis.call('get', 'q:secret')", 0)
    assert "can't access at least one of the keys" in undeclared
    declared = refused(tenant.eval, "return redis.call('set', KEYS[1], 'x')", 1, "q:secret")
    assert declared.startswith("this user has no permissions")
    wide = refused(tenant.eval, "return redis.call('keys', '*')", 0)
    assert "can't run this command" in wide
    flush = refused(tenant.eval, "return redis.call('flushall')", 0)
    assert "can't run this command" in flush
    noperm(tenant, "EVAL", "return 1", "1", "q:secret")


def test_functions_and_script_management_are_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "FUNCTION", "LIST")
    noperm(tenant, "FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() end)")
    noperm(tenant, "FCALL", "f", "0")
    noperm(tenant, "SCRIPT", "FLUSH")
    noperm(tenant, "SCRIPT", "KILL")


def test_publish_on_another_channel_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "PUBLISH", "q:news", "forged")
    noperm(tenant, "SPUBLISH", "q:news", "forged")


def test_subscribe_and_psubscribe_on_other_channels_are_refused(iso: Instance) -> None:
    for command in (
        ("SUBSCRIBE", "q:news"),
        ("SUBSCRIBE", "p:news", "q:news"),
        ("PSUBSCRIBE", "q:*"),
        ("PSUBSCRIBE", "*"),
        ("PSUBSCRIBE", "p*"),  # a pattern wider than its own is not its own
        ("SSUBSCRIBE", "q:news"),
    ):
        with iso.tenant() as client:
            noperm(client, *command)
    with iso.tenant() as client:
        noperm(client, "PUBSUB", "CHANNELS")
        noperm(client, "PUBSUB", "NUMSUB", "q:news")


def test_subscribing_to_its_own_channels_works(iso: Instance) -> None:
    with iso.tenant() as client:
        pubsub = client.pubsub()
        pubsub.psubscribe("p:*")
        assert pubsub.get_message(timeout=2)["type"] == "psubscribe"
        with iso.tenant() as publisher:
            assert publisher.publish("p:news", "hello") == 1
        message = pubsub.get_message(timeout=2)
        assert message is not None and message["data"] == "hello"
        pubsub.close()


def test_object_encoding_of_another_key_is_refused(tenant: redis.Redis) -> None:
    noperm(tenant, "OBJECT", "ENCODING", "q:secret")
    noperm(tenant, "OBJECT", "FREQ", "q:secret")
    noperm(tenant, "DUMP", "q:secret")
    noperm(tenant, "RESTORE", "q:new", "0", "x")


def raw_session(path: Path) -> Callable[..., bytes]:
    """A bare RESP connection, nothing done for us: each command's reply line (a bulk
    string's content instead of its length)."""
    sock = socketlib.socket(socketlib.AF_UNIX)
    sock.settimeout(5)
    sock.connect(str(path))
    reader = sock.makefile("rb")

    def send(*args: str) -> bytes:
        parts = [f"*{len(args)}\r\n".encode()]
        parts += [f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args]
        sock.sendall(b"".join(parts))
        line = reader.readline().rstrip(b"\r\n")
        if line.startswith(b"$") and line != b"$-1":
            return reader.read(int(line[1:]) + 2)[:-2]
        return line

    return send


def test_the_default_user_cannot_be_used(iso: Instance) -> None:
    send = raw_session(iso.socket)
    assert send("PING").startswith(b"-NOAUTH")
    assert send("GET", "q:secret").startswith(b"-NOAUTH")
    assert send("HELLO", "3").startswith(b"-NOAUTH")
    assert send("AUTH", iso.caches.admin_passwords["iso"]).startswith(b"-WRONGPASS")
    assert send("AUTH", "default", "").startswith(b"-WRONGPASS")
    assert send("AUTH", "default", "nopass").startswith(b"-WRONGPASS")
    assert send("HELLO", "3", "AUTH", "default", "x").startswith(b"-WRONGPASS")
    assert send("GET", "q:secret").startswith(b"-NOAUTH")


def test_select_before_auth_cannot_leave_a_session_in_another_database(iso: Instance) -> None:
    """On Redis 7.0 a `nopass` default user let `SELECT 1` then `AUTH` keep the user in db 1.
    Here SELECT before AUTH is refused, there is no db 1, and the session ends up in db 0."""
    send = raw_session(iso.socket)
    assert send("SELECT", "1").startswith(b"-NOAUTH")
    assert send("AUTH", "tenant", TENANT_PASSWORD) == b"+OK"
    assert send("SET", "p:where", "here") == b"+OK"
    assert b"db=0" in send("CLIENT", "INFO")
    assert send("SELECT", "1").startswith(b"-NOPERM")
    with iso.admin() as admin:
        assert admin.get("p:where") == "here"  # written in database 0
        assert "out of range" in refused(admin.execute_command, "SELECT", "1")
        admin.delete("p:where")
