"""An instance's process: started as its own system user, recognized through /proc, stopped.

A process is ours only if /proc says all of: its executable is the redis-server binary, its
command line is exactly `<binary> <our config path>` (the config sets `set-proc-title no`),
it runs as the instance's user, and it is not a zombie. A pid file alone proves nothing: it
lies in a directory the instance's user may write.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hostplane.errors import PermanentError
from hostplane.providers import procfs

# What a tenant's process sees of the control plane's environment: nothing but these.
CHILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
_DELETED = " (deleted)"  # /proc/<pid>/exe of a binary replaced by a package upgrade


@dataclass(frozen=True, slots=True)
class RunAs:
    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class Binary:
    """What is executed (Debian's /usr/bin/redis-server: Redis picks its role from argv[0])
    and the file /proc shows as the executable (the symlink's target, redis-check-rdb)."""

    path: Path
    exe: str

    @classmethod
    def find(cls, name: str) -> Binary:
        path = Path(shutil.which(name) or name).absolute()
        return cls(path, os.path.realpath(path))


def read_small(path: Path, limit: int = 1 << 20) -> str | None:
    """A regular file's text, without following a symlink or blocking on a FIFO someone put
    there; None when it is absent or not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode(errors="replace")
    finally:
        os.close(fd)


def read_pid(pidfile: Path) -> int | None:
    text = read_small(pidfile, 32)
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def is_ours(pid: int, binary: Binary, config: Path, uid: int) -> bool:
    proc = Path(f"/proc/{pid}")
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
        if argv[:2] != [os.fsencode(binary.path), os.fsencode(config)]:
            return False  # the cheap test first: /proc scans read little else
        exe = os.readlink(proc / "exe").removesuffix(_DELETED)
        status = (proc / "status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return False
    fields = dict(line.partition(":")[::2] for line in status.splitlines())
    real_uid = int(fields.get("Uid", "-1").split()[0])
    zombie = fields.get("State", "").strip().startswith("Z")
    return exe == binary.exe and real_uid == uid and not zombie


def config_of(pid: int) -> Path | None:
    """The config path a process was started with (its first argument), if it has one."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return None
    return Path(os.fsdecode(argv[1])) if len(argv) > 2 and argv[1] else None


def find_ours(binary: Binary, config: Path, uid: int) -> int | None:
    """One pass over /proc for a process of this config whose pid file was lost."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and is_ours(int(entry.name), binary, config, uid):
            return int(entry.name)
    return None


def spawn(
    binary: Binary, config: Path, run_as: RunAs, log: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    """`redis-server <config>` as `run_as` (setpriv: that uid and gid only, no supplementary
    groups, no new privileges), in a session of its own so it outlives the control plane."""
    argv = [str(binary.path), str(config)]
    if os.geteuid() != run_as.uid:
        argv = [
            "setpriv",
            f"--reuid={run_as.uid}",
            f"--regid={run_as.gid}",
            "--clear-groups",
            "--no-new-privs",
            "--",
            *argv,
        ]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=CHILD_ENV,
            umask=0o077,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise PermanentError(f"{argv[0]} was not found: install Debian's redis-server") from exc
    finally:
        os.close(fd)


def alive(pid: int, child: subprocess.Popen[bytes] | None = None) -> bool:
    if child is not None and child.pid == pid:
        return child.poll() is None
    return procfs.alive(pid)


def stop(pid: int, child: subprocess.Popen[bytes] | None = None, timeout: float = 10.0) -> None:
    """SIGTERM (Redis flushes its AOF and removes its socket), SIGKILL after `timeout`; returns
    only once the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while alive(pid, child):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        else:
            return
    raise PermanentError(f"redis-server {pid} outlived SIGKILL")


def log_tail(log: Path, lines: int = 6) -> str:
    text = read_small(log) or ""
    return "\n".join(text.splitlines()[-lines:]) or "no output"
