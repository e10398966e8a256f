"""Ending every process of a system user, whoever started them, and confirming they are gone.

Processes are found in /proc (real, effective, saved or filesystem uid), and signalled through
a pidfd opened before the uid is read again, so a pid reused in between is never hit.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from hostplane.providers.base import TemporaryError

log = structlog.get_logger(__name__)

PROC = Path("/proc")


def parse_status(text: str) -> tuple[set[int], str]:
    """The uids (real, effective, saved, filesystem) and the state letter in a
    /proc/<pid>/status text. Pure."""
    uids: set[int] = set()
    state = "?"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Uid":
            uids = {int(v) for v in value.split()}
        elif key == "State":
            state = value.strip()[:1] or "?"
    return uids, state


def _status(pid: int) -> tuple[set[int], str] | None:
    try:
        return parse_status((PROC / str(pid) / "status").read_text())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def processes_of(uid: int) -> tuple[list[int], list[int]]:
    """(live, zombie) pids running as `uid`, in one /proc scan."""
    live: list[int] = []
    zombies: list[int] = []
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        status = _status(int(entry.name))
        if status is None or uid not in status[0]:
            continue
        (zombies if status[1] == "Z" else live).append(int(entry.name))
    return live, zombies


def _signal(pid: int, uid: int, sig: signal.Signals) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        status = _status(pid)  # read after the pidfd pins the process: no reused pid is hit
        if status is not None and uid in status[0]:
            signal.pidfd_send_signal(fd, sig)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def _never(pid: int) -> bool:
    return False


def _to_end(uid: int, spare: Callable[[int], bool]) -> tuple[list[int], list[int]]:
    live, zombies = processes_of(uid)
    return [pid for pid in live if not spare(pid)], zombies


def _wait_gone(
    uid: int, timeout: float, spare: Callable[[int], bool] = _never
) -> tuple[list[int], list[int]]:
    deadline = time.monotonic() + timeout
    while True:
        live, zombies = _to_end(uid, spare)
        if (not live and not zombies) or time.monotonic() > deadline:
            return live, zombies
        time.sleep(0.02)


def end_processes(
    uid: int,
    user: str,
    *,
    grace: float = 3.0,
    timeout: float = 10.0,
    spare: Callable[[int], bool] = _never,
) -> int:
    """SIGTERM every process of `uid`, wait up to `grace`; SIGKILL whatever is left (and
    whatever was started meanwhile) until none is left or `timeout` passes. A live process
    `spare(pid)` says to keep (asked again each round, so a restarted one is kept too) is
    neither signalled nor waited for. Returns how many there were; TemporaryError names those
    that outlived it."""
    live, zombies = _to_end(uid, spare)
    found = len(live) + len(zombies)
    if not found:
        return 0
    log.info("system_user.ending_processes", user=user, pids=live)
    for pid in live:
        _signal(pid, uid, signal.SIGTERM)
    live, zombies = _wait_gone(uid, grace, spare)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        log.warning("system_user.killing_processes", user=user, pids=live)
        for pid in live:
            _signal(pid, uid, signal.SIGKILL)
        live, zombies = _wait_gone(uid, 1.0, spare)
    if zombies and not live:
        live, zombies = _wait_gone(uid, max(0.0, deadline - time.monotonic()), spare)
    if live or zombies:
        raise TemporaryError(
            f"processes of system user {user} outlived SIGKILL: {sorted(live + zombies)}",
            detail="zombies wait for their parent to reap them" if zombies else None,
        )
    return found
