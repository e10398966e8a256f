"""What an earlier test run left on this host when it was stopped before its teardown (a
session that ended mid-run, a SIGKILL): sites' system users made by its control planes, and
the processes still running from its host directories (edges, PowerDNS, PHP-FPM masters).
Left there, they break the next run: a same-named site meets a user marked by a plane that no
longer exists and is refused, as it must be.

Each host directory (tests/e2e/harness.py: host_tmpdir) records the test process that made it.
A directory is abandoned once that process is gone, or the directory itself is; only what is
rooted in an abandoned directory is removed, so a run going on beside this one (another
worktree's) keeps everything of its own, and nothing outside the tests' directories (a real
plane's users live under /srv/hostplane) is ever looked at.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from hostplane.providers.local.processes import end_processes
from hostplane.providers.local.users import MARK

HOST_DIR_PREFIX = "/tmp/hostplane-host-"
OWNER_FILE = ".test-process"


def process_identity(pid: int) -> str | None:
    """`pid` and its start time (field 22 of /proc/<pid>/stat): a reused pid differs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{pid} {stat.rpartition(')')[2].split()[19]}"


def claim(host_dir: Path) -> None:
    (host_dir / OWNER_FILE).write_text(process_identity(os.getpid()) or "")


def host_dir_of(path: str) -> Path | None:
    """The tests' host directory `path` lies in, if any. Pure."""
    if not path.startswith(HOST_DIR_PREFIX):
        return None
    name = path[len("/tmp/") :].split("/", 1)[0]
    return Path("/tmp") / name


def is_abandoned(exists: bool, owner: str | None, owner_now: str | None) -> bool:
    """A host directory is abandoned when it is gone, or its recorded test process is gone
    (`owner_now`: what that pid is now). One with no record (made by an older harness) is
    left alone. Pure."""
    if not exists:
        return True
    if owner is None:
        return False
    return owner_now != owner


def abandoned(host_dir: Path) -> bool:
    try:
        owner: str | None = (host_dir / OWNER_FILE).read_text().strip()
    except FileNotFoundError:
        owner = None
    except NotADirectoryError:
        return False
    now = process_identity(int(owner.split()[0])) if owner else None
    return is_abandoned(host_dir.is_dir(), owner, now)


def sweep() -> list[str]:
    """Remove what abandoned host directories left; returns what was removed."""
    removed: list[str] = []
    for host_dir in Path("/tmp").glob(f"{Path(HOST_DIR_PREFIX).name}*"):
        if abandoned(host_dir):
            removed += _end_processes_of(host_dir)
    for entry in pwd.getpwall():
        host_dir = host_dir_of(entry.pw_dir)
        if host_dir is None or not MARK.match(entry.pw_gecos.strip()) or not abandoned(host_dir):
            continue
        end_processes(entry.pw_uid, entry.pw_name)
        subprocess.run(["userdel", entry.pw_name], capture_output=True, check=False)
        removed.append(f"user {entry.pw_name}")
    for host_dir in Path("/tmp").glob(f"{Path(HOST_DIR_PREFIX).name}*"):
        if abandoned(host_dir):
            shutil.rmtree(host_dir, ignore_errors=True)
            removed.append(f"directory {host_dir}")
    return removed


def _end_processes_of(host_dir: Path) -> list[str]:
    """PHP-FPM masters (by their pid files in the host directory), then whatever names the
    directory on its command line (the edge, PowerDNS)."""
    pids = set()
    for pid_file in host_dir.glob("run/php-fpm/*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            if b"php-fpm" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.add(pid)
    marker = f"{host_dir}/".encode()
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes():
                pids.add(int(proc.name))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return [f"process {pid}" for pid in sorted(pids)]
