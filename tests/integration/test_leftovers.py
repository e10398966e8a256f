"""An earlier test run killed before its teardown: the next run's start clears the site and
tenant users and processes its control planes left (real /etc/passwd, real processes), and
leaves a run that is still going, and everything outside the tests' directories, alone."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.providers.local import users
from hostplane.providers.local.processes import processes_of
from tests import leftovers
from tests.e2e.harness import host_rootdir, host_tmpdir, wait_for


def _site_user(home: Path) -> str:
    site = f"left-{uuid.uuid4().hex[:6]}"
    user = f"hp-{site}"
    home.mkdir(parents=True)
    owner = users.Owner(f"hpgone{uuid.uuid4().hex[:6]}")
    users.ensure_user(user, home, owner=owner, site=site)
    return user


def _tenant_user(home: Path) -> str:
    """A tenant's user as this branch makes them: `hp-<tenant>`, marked `tenant=<name>`."""
    tenant = f"left-{uuid.uuid4().hex[:6]}"
    user = f"hp-{tenant}"
    home.mkdir(parents=True)
    owner = users.Owner(f"hpgone{uuid.uuid4().hex[:6]}")
    users.ensure_user(user, home, owner=owner, tenant=tenant)
    return user


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def _detached(command: str) -> int:
    shell = subprocess.run(
        ["sh", "-c", f"{command} >/dev/null 2>&1 </dev/null & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(shell.stdout)


def _named(title: str) -> int:
    """A detached process whose command line is `title` (an edge's, an sshd's), running."""
    pid = _detached(f"bash -c 'exec -a \"{title}\" sleep 300'")
    wait_for(lambda: title.encode() in Path(f"/proc/{pid}/cmdline").read_bytes(), title)
    return pid


def _kill_run(directory: Path) -> None:
    """Record a test process that is gone as `directory`'s maker."""
    gone = subprocess.Popen(["true"])
    identity = leftovers.process_identity(gone.pid)
    gone.wait()
    (directory / leftovers.OWNER_FILE).write_text(identity or f"{gone.pid} 0")


@pytest.fixture
def two_runs() -> Iterator[tuple[Path, Path, Path, Path]]:
    """The host and root directories of a killed run (its test process is gone) and of this
    run, each with a marked user: a site's in the host directories, a tenant's (its home in
    the root directory's tenants/) in the root directories."""
    dead, live = host_tmpdir(), host_tmpdir()
    dead_root, live_root = host_rootdir(), host_rootdir()
    _kill_run(dead)
    _kill_run(dead_root)
    made = [
        _site_user(dead / "sites" / "a"),
        _site_user(live / "sites" / "b"),
        _tenant_user(dead_root / "tenants" / "c"),
        _tenant_user(live_root / "tenants" / "d"),
    ]
    yield dead, live, dead_root, live_root
    for user in made:
        subprocess.run(["userdel", user], capture_output=True)


def _user_of(home: Path) -> str:
    return next(p.pw_name for p in pwd.getpwall() if p.pw_dir == str(home))


def test_a_killed_runs_users_and_processes_are_cleared_and_a_live_runs_kept(two_runs):
    dead, live, dead_root, live_root = two_runs
    dead_user, live_user = _user_of(dead / "sites" / "a"), _user_of(live / "sites" / "b")
    dead_tenant = _user_of(dead_root / "tenants" / "c")
    live_tenant = _user_of(live_root / "tenants" / "d")
    uid, tenant_uid = pwd.getpwnam(dead_user).pw_uid, pwd.getpwnam(dead_tenant).pw_uid
    # Not this process's children (a killed run's are nobody's): reaped by init, not by us.
    orphan = _detached(f"setpriv --reuid={uid} --regid=65534 --clear-groups sleep 300")
    tenant_orphan = _detached(
        f"setpriv --reuid={tenant_uid} --regid=65534 --clear-groups sleep 300"
    )
    edge = _named(f"caddy run --config {dead}/edge/caddy-boot.json")
    sshd = _named(f"sshd: /usr/sbin/sshd -D -f {dead_root}/sftp/sshd_config [listener]")
    # An sshd the killed run lost track of, whose directory its exit removed: named, gone.
    gone_root = host_rootdir()
    shutil.rmtree(gone_root)
    lost = _named(f"sshd: /usr/sbin/sshd -D -f {gone_root}/sftp/sshd_config [listener]")
    wait_for(lambda: processes_of(uid)[0], "the orphan to run as the site's user")
    wait_for(lambda: processes_of(tenant_uid)[0], "the orphan to run as the tenant's user")

    removed = leftovers.sweep()

    assert f"user {dead_user}" in removed and not _exists(dead_user)
    assert f"user {dead_tenant}" in removed and not _exists(dead_tenant)
    for pid, what in (
        (orphan, "the site user's process"),
        (tenant_orphan, "the tenant user's process"),
        (edge, "the killed run's edge"),
        (sshd, "the killed run's sshd"),
        (lost, "the sshd of a directory that is gone"),
    ):
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), f"{what} to end")
    assert not dead.exists() and not dead_root.exists()
    # This run's own: untouched.
    assert _exists(live_user) and live.exists()
    assert _exists(live_tenant) and live_root.exists()
    assert leftovers.sweep() == []  # nothing more to do
