"""The cache kind's isolation canary (issue 17 item 9, `hostctl canary`): each tenant gets a
cache, tenant A two users on it (`p:` and `o:`, the second holding a key); then A's `p:` user
tries to learn or touch what is not its own inside the instance, B's system user tries to
reach A's socket at all, B's user tries A's instance with its own password, and nobody gets
anything done before AUTH."""

from __future__ import annotations

import os
import pwd
import socket as sockets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from hostplane.cli.isolation import Canary, Probe

KIND = "cache"
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


@dataclass(frozen=True)
class World:
    """Tenant A's cache with its two users, and what tenant B has to attack it with."""

    cache: str
    socket: str
    me: dict[str, Any]  # A's user of `p:`, the attacker inside the instance
    other: dict[str, Any]  # A's user of `o:`, holding the secret
    stranger: dict[str, Any]  # B's user of its own cache
    stranger_system_user: str


def probes(canary: Canary) -> Iterator[Probe]:
    yield from attack(made(canary))


def made(canary: Canary) -> World:
    a, b = canary.tenants
    cache, theirs = _cache(canary, a), _cache(canary, b)
    me = _user(canary, cache, "probe", "p:")
    world = World(
        cache=cache,
        socket=str(me["connection"]["socket"]),
        me=me,
        other=_user(canary, cache, "other", "o:"),
        stranger=_user(canary, theirs, "probe", "p:"),
        stranger_system_user=str(canary.api.get(f"/v1/tenants/{b}")["system_user"]),
    )
    with _client(world.socket, world.other) as conn:
        conn.set(SECRET, "canary")
    with _client(world.socket, world.me) as conn:
        conn.set("p:mine", "1")
        conn.rpush("p:list", "1")
    return world


def attack(world: World) -> Iterator[Probe]:
    me, cache = world.me, world.cache
    for command in INSIDE:
        with _client(world.socket, me) as conn:  # one each: MONITOR or SUBSCRIBE would stay
            yield _refused(conn, f"{' '.join(command)[:48]} ({me['user']} on {cache})", command)
    for command in (("PING",), ("SELECT", "1"), ("GET", SECRET)):
        answer = _unauthenticated(world.socket, *command)
        held = answer.startswith(b"-NOAUTH")
        yield Probe(KIND, f"{command[0]} before AUTH ({cache})", held, answer[:60].decode())
    yield _password_elsewhere(world.socket, world.stranger, cache)
    yield _socket_refused(world.socket, world.stranger_system_user, cache)


def _cache(canary: Canary, tenant: str) -> str:
    body = {"name": "canary", "memory_mb": 8}
    return str(canary.done("POST", f"/v1/tenants/{tenant}/caches", body)["cache"])


def _user(canary: Canary, cache: str, name: str, prefix: str) -> dict[str, Any]:
    body = {"name": name, "key_prefix": prefix}
    return dict(canary.done("POST", f"/v1/caches/{cache}/users", body))


def _client(socket: str, user: dict[str, Any]) -> redis.Redis:
    return redis.Redis(
        unix_socket_path=socket,
        username=user["user"],
        password=user["password"],
        socket_timeout=5,
        protocol=2,
    )


def _unauthenticated(socket: str, *command: str) -> bytes:
    """The first line of the answer to `command` on a connection that never authenticated
    (no client library: they send their own commands first)."""
    request = f"*{len(command)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in command)
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(socket)
        conn.sendall(request.encode())
        answer = b""
        while not answer.endswith(b"\r\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.strip()


def _refused(conn: redis.Redis, name: str, command: tuple[str, ...]) -> Probe:
    try:
        answer = conn.execute_command(*command)  # type: ignore[no-untyped-call]
    except redis.ResponseError as exc:
        return Probe(KIND, name, True, f"refused: {str(exc)[:60]}")
    return Probe(KIND, name, False, f"answered: {answer!r:.80}")


def _password_elsewhere(socket: str, user: dict[str, Any], cache: str) -> Probe:
    name = f"another tenant's user and password ({cache})"
    try:
        with _client(socket, user) as conn:
            conn.ping()
    except (redis.AuthenticationError, redis.ResponseError) as exc:
        return Probe(KIND, name, True, f"refused: {str(exc)[:60]}")
    return Probe(KIND, name, False, "logged in")


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
