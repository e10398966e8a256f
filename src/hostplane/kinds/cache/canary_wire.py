"""How the cache canary reaches an instance: its unix socket or its loopback port, as a user
or as a connection that never authenticated, and how an answer reads as refused or not."""

from __future__ import annotations

import socket as sockets
from typing import Any

import redis

from hostplane.cli.isolation import Probe

KIND = "cache"
Address = str | tuple[str, int]  # a unix socket's path, or (host, port)


def client(address: Address, user: dict[str, Any]) -> redis.Redis:
    at: dict[str, Any] = (
        {"unix_socket_path": address}
        if isinstance(address, str)
        else {"host": address[0], "port": address[1]}
    )
    return redis.Redis(
        **at, username=user["user"], password=user["password"], socket_timeout=5, protocol=2
    )


def unauthenticated(address: Address, *command: str) -> bytes:
    """The first line of the answer to `command` on a connection that never authenticated
    (no client library: they send their own commands first)."""
    request = f"*{len(command)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in command)
    family = sockets.AF_UNIX if isinstance(address, str) else sockets.AF_INET
    with sockets.socket(family, sockets.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(address)
        conn.sendall(request.encode())
        answer = b""
        while not answer.endswith(b"\r\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.strip()


def before_auth(address: Address, command: tuple[str, ...], name: str) -> Probe:
    """Held when the server refuses `command` to a connection that never authenticated:
    NOAUTH (the default user off) or NOPERM (a default user on with no rights; the default
    user's own probe reports that)."""
    answer = unauthenticated(address, *command)
    held = answer.startswith((b"-NOAUTH", b"-NOPERM"))
    return Probe(KIND, name, held, answer[:60].decode(errors="replace"))


def refused(conn: redis.Redis, name: str, command: tuple[str, ...]) -> Probe:
    try:
        answer = conn.execute_command(*command)  # type: ignore[no-untyped-call]
    except redis.ResponseError as exc:
        return Probe(KIND, name, True, f"refused: {str(exc)[:60]}")
    return Probe(KIND, name, False, f"answered: {answer!r:.80}")


def login_refused(address: Address, user: dict[str, Any], name: str) -> Probe:
    """Held when `user` with its password cannot log in at `address`: AUTH alone, so a user
    that logs in but may run nothing (a `default` on with no rights) is still seen."""
    answer = unauthenticated(address, "AUTH", str(user["user"]), str(user["password"]))
    held = not answer.startswith(b"+OK")
    detail = f"refused: {answer[1:61].decode(errors='replace')}" if held else "logged in"
    return Probe(KIND, name, held, detail)
