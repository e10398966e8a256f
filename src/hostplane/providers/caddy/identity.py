"""Proving that a process is the Caddy this control plane started, and that the addresses a
new one needs are free. Reads /proc and the kernel's socket credentials; changes nothing."""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from hostplane.providers.base import PermanentError
from hostplane.providers.caddy import admin

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Expected:
    """What our Caddy looks like: its program, its command line's config, its user."""

    exe: Path  # the resolved caddy binary
    config: Path  # the boot config it was started with (`caddy run --config <config>`)
    uid: int
    socket: Path  # its admin socket


def is_caddy_of(cmdline: bytes, exe: str, program: Path, config: Path) -> str | None:
    """None when a process with this /proc cmdline and exe runs `program run --config
    <config>`; else why not. Pure."""
    if Path(exe) != program:
        return f"its program is {exe or 'unknown'}, not {program}"
    args = [a.decode(errors="replace") for a in cmdline.split(b"\0") if a]
    if args[1:2] != ["run"] or "--config" not in args:
        return f"it was not started as `caddy run --config ...`: {' '.join(args)[:200]}"
    given = args[args.index("--config") + 1 : args.index("--config") + 2]
    if given != [str(config)]:
        return f"its config is {given[0] if given else 'missing'}, not {config}"
    return None


def process_is_caddy_of(pid: int, program: Path, config: Path) -> str | None:
    try:
        exe = os.readlink(PROC / str(pid) / "exe")
        cmdline = (PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return f"no process {pid} is running"
    return is_caddy_of(cmdline, exe, program, config)


def why_not_ours(pid: int, expected: Expected) -> str | None:
    """None when `pid` is our Caddy, answering on its admin socket itself; else why not."""
    reason = process_is_caddy_of(pid, expected.exe, expected.config)
    if reason is not None:
        return reason
    try:
        uid = os.stat(PROC / str(pid)).st_uid
    except FileNotFoundError:
        return f"no process {pid} is running"
    if uid != expected.uid:
        return f"it runs as uid {uid}, not {expected.uid}"
    try:
        peer_pid, _ = admin.peer(str(expected.socket))
    except OSError as exc:
        return f"nothing answers on {expected.socket}: {exc.strerror or exc}"
    if peer_pid != pid:
        return f"the admin socket is served by pid {peer_pid}, not by {pid}"
    return None


def socket_holder(path: Path) -> tuple[int, int] | None:
    """(pid, uid) of whatever accepts connections on the unix socket `path`; None (and a
    stale socket file removed) when nothing does."""
    if not path.exists() and not path.is_symlink():
        return None
    try:
        return admin.peer(str(path))
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK):
            path.unlink(missing_ok=True)
            return None
        raise PermanentError(f"cannot check the edge's admin socket {path}: {exc}") from exc


def check_port_free(host: str, port: int, setting: str) -> None:
    """PermanentError naming `host:port` when another process listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Caddy binds
        probe.bind((host or "0.0.0.0", port))
    except OSError as exc:
        shown = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host or '*'}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise PermanentError(
                f"the edge's address {shown} is already in use by another process: stop it, "
                f"or choose another {setting}"
            ) from exc
        raise PermanentError(f"the edge cannot bind {shown}: {exc.strerror}") from exc
    finally:
        probe.close()
