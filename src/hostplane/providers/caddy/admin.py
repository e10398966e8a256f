"""Caddy's admin API, over TCP (an operator's Caddy) or a unix socket (the managed one).

Caddy checks the Host header of every admin request against the addresses it listens on; on
a unix socket only an empty Host is allowed, so the socket client sends one.
"""

from __future__ import annotations

import socket
import struct

import httpx

from hostplane.providers import http_clients

UNIX_SCHEME = "unix://"


def socket_path(url: str) -> str | None:
    """The socket of a unix:///path admin URL; None for http(s) URLs."""
    return url[len(UNIX_SCHEME) :] if url.startswith(UNIX_SCHEME) else None


def listen_address(url: str) -> str:
    """The admin URL as Caddy's own `admin.listen`: `unix//path` or `host:port`."""
    path = socket_path(url)
    if path is not None:
        return f"unix/{path}"
    return httpx.URL(url).netloc.decode()


def admin_client(url: str, *, timeout: float = 10.0) -> httpx.Client:
    """A client whose relative requests (`/config/`, `/load`) reach the admin API at `url`."""
    path = socket_path(url)
    if path is None:
        return http_clients.client(base_url=url, timeout=timeout)
    return http_clients.unix_socket_client(
        path, base_url="http://localhost", headers={"Host": ""}, timeout=timeout
    )


def peer(path: str, timeout: float = 2.0) -> tuple[int, int]:
    """(pid, uid) of the process listening on the unix socket `path` (SO_PEERCRED: the
    kernel's word, not the server's); OSError when nothing accepts there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", raw)
    return pid, uid
