"""Which listening sockets a process holds, in the kernel's word (/proc): how a HAProxy that
took its listeners from the one before it (`-x`) is proved to serve its runtime socket and
ports. SO_PEERCRED cannot prove it: a socket passed on keeps the credentials of the process
that first listened on it, which has exited."""

from __future__ import annotations

import os
import re
from pathlib import Path

PROC = Path("/proc")
_LISTEN_TCP = "0A"
_LISTEN_UNIX = "01"


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets `pid` holds open (empty when it is gone)."""
    found: set[int] = set()
    try:
        fds = os.listdir(PROC / str(pid) / "fd")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return found
    for fd in fds:
        try:
            target = os.readlink(PROC / str(pid) / "fd" / fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def _bound_as(name: str, path: Path) -> bool:
    """HAProxy binds `path.<pid>.tmp` and renames it over `path`; the kernel keeps the name it
    was bound with."""
    return name == str(path) or re.fullmatch(re.escape(str(path)) + r"\.\d+\.tmp", name) is not None


def holds_unix_listener(pid: int, path: Path) -> bool:
    """Whether `pid` holds a listening unix socket bound at `path`."""
    held = socket_inodes(pid)
    try:
        lines = (PROC / "net" / "unix").read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        listening = len(fields) >= 8 and fields[5] == _LISTEN_UNIX
        if listening and int(fields[6]) in held and _bound_as(fields[7], path):
            return True
    return False


def holds_tcp_port(pid: int, port: int) -> bool:
    """Whether `pid` holds a TCP socket listening on `port` (any address)."""
    held = socket_inodes(pid)
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == _LISTEN_TCP and inode in held and int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False
