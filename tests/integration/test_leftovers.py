"""An earlier test run killed before its teardown: the next run's start clears the site users
and processes its control planes left (real /etc/passwd, real processes), and leaves a run
that is still going, and everything outside the tests' directories, alone."""

from __future__ import annotations

import pwd
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.providers.local import users
from hostplane.providers.local.processes import processes_of
from tests import leftovers
from tests.e2e.harness import host_tmpdir, wait_for


def _site_user(home: Path) -> str:
    site = f"left-{uuid.uuid4().hex[:6]}"
    user = f"hp-{site}"
    home.mkdir(parents=True)
    owner = users.Owner(f"hpgone{uuid.uuid4().hex[:6]}")
    users.ensure_user(user, home, owner=owner, site=site)
    return user


def _detached(command: str) -> int:
    shell = subprocess.run(
        ["sh", "-c", f"{command} >/dev/null 2>&1 </dev/null & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(shell.stdout)


@pytest.fixture
def two_runs() -> Iterator[tuple[Path, Path]]:
    """A host directory of a killed run (its test process is gone) and one of this run."""
    dead, live = host_tmpdir(), host_tmpdir()
    gone = subprocess.Popen(["true"])
    identity = leftovers.process_identity(gone.pid)
    gone.wait()
    (dead / leftovers.OWNER_FILE).write_text(identity or f"{gone.pid} 0")
    made = [_site_user(dead / "sites" / "a"), _site_user(live / "sites" / "b")]
    yield dead, live
    for user in made:
        subprocess.run(["userdel", user], capture_output=True)


def test_a_killed_runs_users_and_processes_are_cleared_and_a_live_runs_kept(two_runs):
    dead, live = two_runs
    dead_user = next(p.pw_name for p in pwd.getpwall() if p.pw_dir == str(dead / "sites" / "a"))
    live_user = next(p.pw_name for p in pwd.getpwall() if p.pw_dir == str(live / "sites" / "b"))
    uid = pwd.getpwnam(dead_user).pw_uid
    # Not this process's children (a killed run's are nobody's): reaped by init, not by us.
    orphan = _detached(f"setpriv --reuid={uid} --regid=65534 --clear-groups sleep 300")
    edge = _detached(f"sleep 300 {dead}/edge/caddy-boot.json")
    wait_for(lambda: processes_of(uid)[0], "the orphan to run as the site's user")

    removed = leftovers.sweep()

    assert f"user {dead_user}" in removed and not users.exists(dead_user)
    wait_for(lambda: not Path(f"/proc/{orphan}").exists(), "the site user's process to end")
    wait_for(lambda: not Path(f"/proc/{edge}").exists(), "the killed run's edge to end")
    assert not dead.exists()
    assert users.exists(live_user) and live.exists()  # this run's own: untouched
    assert leftovers.sweep() == []  # nothing more to do
