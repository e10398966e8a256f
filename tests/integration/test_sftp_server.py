"""The SFTP server's sshd, for real (root: OpenSSH's chroot and keys rules): a plane never
loses track of the sshd it started, however often it reloads it while watching it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.providers.openssh import server as sftp_server
from hostplane.providers.openssh.config import SftpState
from hostplane.providers.openssh.server import SftpConfig, SftpServer
from tests.e2e.harness import free_port, host_rootdir, wait_for, wait_gone


def _sshds_of(config: Path) -> set[int]:
    """Every sshd listener whose command line names `config` (sessions' do not)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"-f {config}" in (proc / "cmdline").read_bytes().decode(
                errors="replace"
            ).replace("\0", " "):
                found.add(int(proc.name))
        except OSError:
            continue
    return found


@pytest.fixture
def sftp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SftpServer]:
    # The watcher looks as often as it can: a reload it misreads is then all but certain.
    monkeypatch.setattr(sftp_server, "WATCH_INTERVAL", 0.005)
    server = SftpServer(SftpConfig(host_rootdir() / "sftp", "127.0.0.1", free_port()))
    server.apply(SftpState(users=()))
    yield server
    server.terminate()
    for pid in _sshds_of(server.layout.config):  # whatever it lost track of: not left running
        os.kill(pid, signal.SIGKILL)


def test_reloads_while_watched_keep_the_one_sshd_it_started(sftp: SftpServer):
    """sshd re-executes itself on SIGHUP (same pid, its listener closed then bound again):
    the watcher must see it as the same server, never start a second one beside it, and the
    pid it knows must stay the one serving, which terminate() then ends."""
    sftp.start()
    first = sftp.running_pid()
    assert first is not None
    # What apply() does on each changed config. Spaced: a SIGHUP that lands while sshd is
    # still re-executing from the last one ends it (its handler is not set yet), which the
    # watcher would then make up for with a new sshd; a burst of 30 did that on a loaded host.
    for _ in range(5):
        os.kill(first, signal.SIGHUP)
        time.sleep(0.3)
        wait_for(lambda: b"[listener]" in Path(f"/proc/{first}/cmdline").read_bytes(), "a reload")
    time.sleep(0.5)  # the watcher's later rounds, had it been misled
    assert sftp.running_pid() == first
    assert _sshds_of(sftp.layout.config) == {first}
    sftp.terminate()
    wait_gone(first, "the sshd to end")
    assert _sshds_of(sftp.layout.config) == set()


def test_a_lost_pid_file_does_not_lose_the_sshd(sftp: SftpServer):
    """The pid file removed under it (an sshd of an older config removes its own on SIGHUP):
    the plane still knows the sshd it started, writes the file again, starts no other."""
    sftp.start()
    first = sftp.running_pid()
    sftp.layout.pid_file.unlink()
    time.sleep(0.3)
    assert sftp.running_pid() == first
    assert sftp.layout.pid_file.read_text().strip() == str(first)
    assert _sshds_of(sftp.layout.config) == {first}


def test_a_killed_sshd_is_started_again_by_the_watcher(sftp: SftpServer):
    """The watcher sleeps on the sshd's pidfd: its death wakes it, and a new sshd serves."""
    sftp.start()
    first = sftp.running_pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: sftp.running_pid() not in (None, first), "a new sshd")
    assert _sshds_of(sftp.layout.config) == {sftp.running_pid()}
