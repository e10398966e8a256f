"""What /proc says of a process: whether it has exited, its command line. For the processes
the control plane starts and supervises (Caddy, PowerDNS, PHP-FPM masters, Redis, sshd)."""

from __future__ import annotations

import os
from pathlib import Path


def exited(pid: int) -> bool:
    """Every thread of it gone or a zombie: only then are its files, sockets included, closed.
    Neither an empty command line (memory is released before files) nor a zombie main thread
    (the other threads may still be exiting: PowerDNS has ten, Redis four) is enough."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return True
    for task in tasks:
        try:
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if stat.rpartition(")")[2].split()[0] not in ("Z", "X"):
            return False
    return True


def alive(pid: int) -> bool:
    return not exited(pid)
