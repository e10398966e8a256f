"""What an earlier test run left on this host when it was stopped before its teardown (a
session that ended mid-run, a SIGKILL): the system users made by its control planes (sites'
users of older releases, tenants' users), and the processes still running from its test
directories (edges, PowerDNS, PHP-FPM masters, the SFTP server's sshd). Left there, they break
the next run: a same-named site or tenant meets a user marked by a plane that no longer exists
and is refused, as it must be.

The tests' directories are of two kinds (tests/e2e/harness.py): host directories in /tmp
(host_tmpdir: webroots, sockets, the edge's state) and root directories in /srv/hostplane-test
(host_rootdir: tenants' homes, the SFTP server's files, which OpenSSH wants under directories
only root can write). Each records the test process that made it. A directory is abandoned once
that process is gone, or the directory itself is; only what is rooted in an abandoned directory
is removed, so a run going on beside this one (another worktree's) keeps everything of its own,
and nothing outside the tests' directories (a real plane's users live under /srv/hostplane) is
ever looked at.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from hostplane.providers.local.processes import end_processes
from hostplane.providers.local.users import MARK

# The tests' host directories (host_tmpdir), then their root directories (host_rootdir).
TEST_DIR_PREFIXES = ("/tmp/hostplane-host-", "/srv/hostplane-test/hostplane-test-")
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
    """The test directory (of either kind) `path` lies in, if any. Pure."""
    for prefix in TEST_DIR_PREFIXES:
        if path.startswith(prefix):
            parent = prefix.rsplit("/", 1)[0]
            return Path(parent) / path[len(parent) + 1 :].split("/", 1)[0]
    return None


def test_dirs() -> list[Path]:
    """Every test directory of either kind on this host."""
    found: list[Path] = []
    for prefix in TEST_DIR_PREFIXES:
        parent, _, stem = prefix.rpartition("/")
        found += Path(parent).glob(f"{stem}*")
    return found


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
    """Remove what abandoned test directories left; returns what was removed. A user is
    removed only if its home lies in one and it carries Hostplane's mark (users.MARK: a
    tenant's or, of an older release, a site's)."""
    pids: set[int] = set()
    for host_dir in test_dirs():
        if abandoned(host_dir):
            pids |= _pid_file_processes(host_dir)
    pids |= _processes_naming_abandoned_dirs()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    removed = [f"process {pid}" for pid in sorted(pids)]
    removed += remove_users(abandoned)
    for host_dir in test_dirs():
        if abandoned(host_dir):
            shutil.rmtree(host_dir, ignore_errors=True)
            removed.append(f"directory {host_dir}")
    return removed


def remove_users(chosen: Callable[[Path], bool]) -> list[str]:
    """End the processes of, then remove, every user carrying Hostplane's mark whose home lies
    in a test directory that `chosen` picks; returns what was removed."""
    removed = []
    for entry in pwd.getpwall():
        home_in = host_dir_of(entry.pw_dir)
        if home_in is None or not MARK.match(entry.pw_gecos.strip()) or not chosen(home_in):
            continue
        end_processes(entry.pw_uid, entry.pw_name)
        subprocess.run(["userdel", entry.pw_name], capture_output=True, check=False)
        removed.append(f"user {entry.pw_name}")
    return removed


def _pid_file_processes(host_dir: Path) -> set[int]:
    """PHP-FPM masters and the SFTP server's sshd, by their pid files in the directory."""
    pids = set()
    for pattern, binary in (("run/php-fpm/*.pid", b"php-fpm"), ("sftp/sshd.pid", b"sshd")):
        for pid_file in host_dir.glob(pattern):
            with contextlib.suppress(OSError, ValueError):
                pid = int(pid_file.read_text().strip())
                if binary in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.add(pid)
    return pids


def dirs_named(cmdline: str) -> set[Path]:
    """The test directories a command line names (its arguments split on NULs and blanks: an
    sshd's title is one argument, `sshd: /usr/sbin/sshd -D -f <dir>/sftp/sshd_config ...`).
    Pure."""
    found = set()
    for word in cmdline.replace("\0", " ").split():
        for prefix in TEST_DIR_PREFIXES:
            at = word.find(prefix)
            if at >= 0 and (host_dir := host_dir_of(word[at:])) is not None:
                found.add(host_dir)
    return found


def _processes_naming_abandoned_dirs() -> set[int]:
    """Whatever names an abandoned test directory on its command line, one that is gone
    included (the edge, PowerDNS, an sshd whose directory was removed under it), or in its
    environment (a control plane: `hostctl up` with HOSTPLANE_RUN_DIR there, whose reconciler
    would make its sites' users again)."""
    pids, verdicts = set(), {}
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            named = (proc / "cmdline").read_bytes() + b"\0" + (proc / "environ").read_bytes()
            named += haproxy_config(proc)
            for host_dir in dirs_named(named.decode(errors="replace")):
                if host_dir not in verdicts:
                    verdicts[host_dir] = abandoned(host_dir)
                if verdicts[host_dir]:
                    pids.add(int(proc.name))
    return pids


def haproxy_config(proc: Path) -> bytes:
    """The managed HAProxy is `haproxy -db -f <config>` with its config in the plane's data
    directory and a cleared environment: the test directories it uses (its runtime socket,
    Caddy's socket behind it) are named in the config alone, whose text this returns."""
    args = (proc / "cmdline").read_bytes().split(b"\0")
    if len(args) < 4 or args[1:3] != [b"-db", b"-f"] or not args[0].endswith(b"haproxy"):
        return b""
    try:
        return b"\0" + Path(args[3].decode()).read_bytes()[:8192]
    except OSError:
        return b""
