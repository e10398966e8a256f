"""The cache kind's isolation canary (issue 17 item 9, `hostctl canary`): each tenant gets a
cache, tenant A's made with `tcp` (a loopback port any local user reaches) and two users on
it (`p:` and `o:`, the second holding a key); then A's `p:` user tries to learn or touch what
is not its own inside the instance, on its socket and over TCP; B's system user tries to
reach A's socket at all, B's user tries A's instance with its own password (on both), the
default user is tried over TCP, and nobody gets anything done before AUTH (on both)."""

from __future__ import annotations

import os
import pwd
import socket as sockets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hostplane.cli.isolation import Canary, Probe
from hostplane.kinds.cache.canary_wire import (
    KIND,
    Address,
    before_auth,
    client,
    login_refused,
    refused,
)

SECRET = "o:secret"

# Each must be refused for a user whose keys and channels are `p:*` alone.
INSIDE = (
    ("GET", SECRET),
    ("SET", "o:planted", "x"),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("SCAN", "0", "MATCH", "o:*"),
    ("RANDOMKEY",),
    ("DBSIZE",),
    ("INFO", "keyspace"),
    ("SELECT", "1"),
    ("SWAPDB", "0", "1"),
    ("MOVE", "p:mine", "1"),
    ("COPY", SECRET, "p:copy"),
    ("FLUSHDB",),
    ("FLUSHALL",),
    ("ACL", "LIST"),
    ("CONFIG", "GET", "*"),
    ("CLIENT", "LIST"),
    ("CLIENT", "TRACKING", "ON", "BCAST"),
    ("MEMORY", "STATS"),
    ("MONITOR",),
    ("DEBUG", "OBJECT", SECRET),
    ("SORT", "p:list", "BY", "o:*"),
    ("SORT", "p:list", "GET", "o:*"),
    ("EVAL", "return redis.call('get', 'o:secret')", "0"),
    ("PUBLISH", "o:news", "forged"),
    ("SUBSCRIBE", "o:news"),
    ("PSUBSCRIBE", "*"),
)
# The same user over TCP: what a key of `o:` would give away or let it change.
INSIDE_TCP = (("GET", SECRET), ("SET", "o:planted", "x"), ("KEYS", "*"), ("COPY", SECRET, "p:copy"))
BEFORE_AUTH = (("PING",), ("SELECT", "1"), ("GET", SECRET))


@dataclass(frozen=True)
class World:
    """Tenant A's cache with its two users, and what tenant B has to attack it with."""

    cache: str
    socket: str
    port: tuple[str, int]  # its loopback port (made with tcp)
    me: dict[str, Any]  # A's user of `p:`, the attacker inside the instance
    other: dict[str, Any]  # A's user of `o:`, holding the secret
    stranger: dict[str, Any]  # B's user of its own cache
    stranger_system_user: str


def probes(canary: Canary) -> Iterator[Probe]:
    yield from attack(made(canary))


def made(canary: Canary) -> World:
    a, b = canary.tenants
    cache, theirs = _cache(canary, a, tcp=True), _cache(canary, b)
    me = _user(canary, cache, "probe", "p:")
    world = World(
        cache=cache,
        socket=str(me["connection"]["socket"]),
        port=(str(me["connection"]["host"]), int(me["connection"]["port"])),
        me=me,
        other=_user(canary, cache, "other", "o:"),
        stranger=_user(canary, theirs, "probe", "p:"),
        stranger_system_user=str(canary.api.get(f"/v1/tenants/{b}")["system_user"]),
    )
    with client(world.socket, world.other) as conn:
        conn.set(SECRET, "canary")
    with client(world.socket, world.me) as conn:
        conn.set("p:mine", "1")
        conn.rpush("p:list", "1")
    return world


def attack(world: World) -> Iterator[Probe]:
    me, cache = world.me, world.cache
    for command in INSIDE:
        with client(world.socket, me) as conn:  # one each: MONITOR or SUBSCRIBE would stay
            yield refused(conn, f"{' '.join(command)[:48]} ({me['user']} on {cache})", command)
    for address in (world.socket, world.port):
        over = "" if isinstance(address, str) else " over TCP"
        for command in BEFORE_AUTH:
            yield before_auth(address, command, f"{command[0]} before AUTH{over} ({cache})")
        name = f"another tenant's user and password{over} ({cache})"
        yield login_refused(address, world.stranger, name)
    yield from _over_tcp(world, world.port)
    yield _socket_refused(world.socket, world.stranger_system_user, cache)


def _over_tcp(world: World, port: Address) -> Iterator[Probe]:
    """What only the loopback port adds: the default user (any password: on `nopass` it
    would take any), and A's `p:` user on `o:` keys there too."""
    default = {"user": "default", "password": os.urandom(8).hex()}
    yield login_refused(port, default, f"the default user over TCP ({world.cache})")
    for command in INSIDE_TCP:
        with client(port, world.me) as conn:
            name = f"{' '.join(command)[:48]} over TCP ({world.me['user']} on {world.cache})"
            yield refused(conn, name, command)


def _cache(canary: Canary, tenant: str, *, tcp: bool = False) -> str:
    body = {"name": "canary", "memory_mb": 8, "tcp": tcp}
    return str(canary.done("POST", f"/v1/tenants/{tenant}/caches", body)["cache"])


def _user(canary: Canary, cache: str, name: str, prefix: str) -> dict[str, Any]:
    body = {"name": name, "key_prefix": prefix}
    return dict(canary.done("POST", f"/v1/caches/{cache}/users", body))


def _socket_refused(socket: str, system_user: str, cache: str) -> Probe:
    """Connect to the socket as another tenant's system user (a child that drops to its uid
    and gid): refused by the file system, before Redis sees anything."""
    entry = pwd.getpwnam(system_user)
    name = f"{system_user} opens the socket ({cache})"
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as s:
                s.connect(socket)
            code = 1  # connected: a leak
        except PermissionError:
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    details = {0: "refused: permission denied", 1: "connected"}
    return Probe(KIND, name, code == 0, details.get(code, f"could not try (exit {code})"))
