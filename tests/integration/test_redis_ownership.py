"""Ownership and trust around a cache instance (providers/redis/instances.py), on the real
binary: nothing without this plane's mark is adopted, changed or removed, no stranger's process
is taken for the instance's, what the tenant controls is read as untrusted, secrets appear
nowhere, and a cache moves whole from one tenant's user to another's."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from hostplane.errors import ForeignResourceError
from hostplane.providers.base import Outcome
from hostplane.providers.redis.instances import RedisInstances
from hostplane.providers.redis.rules import password_hash
from tests.fixtures_redis import Caches, connect, kill, mode_owner, proc_uid, wait_for

PASSWORD = "cache-user-password-0123456789"


FOREIGN = {
    "unmarked": "port 0\nunixsocket /tmp/x.sock\n",
    "another plane's": "# hostplane-redis owner=hpother name=foreign user=a group=a sha256=00\n",
    "empty": None,
}


@pytest.mark.parametrize("content", FOREIGN.values(), ids=FOREIGN.keys())
def test_a_directory_without_our_mark_is_never_touched(
    caches: Caches, tenant_users, content: str | None
) -> None:
    root = caches.instances.paths("foreign").root
    root.mkdir(parents=True)
    if content is not None:
        (root / "redis.conf").write_text(content)
    (root / "data").mkdir()
    (root / "data" / "keep").write_text("theirs")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    spec = caches.spec("foreign", tenant_users[0])
    with pytest.raises(ForeignResourceError):
        caches.instances.ensure(spec)
    with pytest.raises(ForeignResourceError):
        caches.instances.remove("foreign")
    assert all(s.name != "foreign" for s in caches.instances.observe())
    assert caches.instances.watch_once() == []
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert not spec.socket.exists()


def test_another_planes_instance_is_never_touched(caches: Caches, tenant_users) -> None:
    other = RedisInstances(caches.root, "hpotherplane", lambda name: "other-admin-password-123")
    spec = caches.spec("theirs", tenant_users[0])
    assert other.ensure(spec) is Outcome.CREATED
    try:
        pid = next(s.pid for s in other.observe() if s.name == "theirs")
        with pytest.raises(ForeignResourceError):
            caches.instances.ensure(spec)
        with pytest.raises(ForeignResourceError):
            caches.instances.remove("theirs")
        assert [s.name for s in caches.instances.observe()] == []
        kill(pid)
        assert caches.instances.watch_once() == []
        assert other.watch_once() == ["theirs"]
    finally:
        other.remove("theirs")


def test_a_cache_given_to_another_tenant_runs_as_its_user_with_its_data(
    caches: Caches, tenant_users
) -> None:
    first, second = tenant_users
    spec = caches.spec("moved", first, persistence="aof")
    caches.instances.ensure(spec)
    caches.acl.ensure_user("moved", "app", PASSWORD, "app:")
    with connect(spec.socket, "app", PASSWORD) as app:
        app.set("app:kept", "across owners")
    moved = caches.spec("moved", second, persistence="aof")
    assert caches.instances.ensure(moved) is Outcome.UPDATED
    paths = caches.instances.paths("moved")
    assert proc_uid(caches.pid("moved")) == second.uid
    assert mode_owner(paths.root)[2] == second.gid
    owners = {
        os.stat(p, follow_symlinks=False).st_uid for p in [paths.data, *paths.data.rglob("*")]
    }
    assert owners == {second.uid}
    assert mode_owner(moved.socket) == (0o660, second.uid, second.gid)
    assert not os.path.lexists(spec.socket)  # nothing left in the first tenant's directory
    with connect(moved.socket, "app", PASSWORD) as app:
        assert app.get("app:kept") == "across owners"


def test_passwords_are_in_no_log_argument_environment_or_file(caches: Caches, tenant_users) -> None:
    import structlog.testing

    spec = caches.spec("secret", tenant_users[0], persistence="aof")
    with structlog.testing.capture_logs() as logs:
        caches.instances.ensure(spec)
        caches.acl.ensure_user("secret", "app", PASSWORD, "app:")
        caches.acl.set_enabled("secret", "app", False)
    admin_password = caches.admin_passwords["secret"]
    assert logs and not [e for e in logs if PASSWORD in repr(e) or admin_password in repr(e)]
    pid = caches.pid("secret")
    paths = caches.instances.paths("secret")
    exposed = [
        Path(f"/proc/{pid}/cmdline").read_bytes(),
        Path(f"/proc/{pid}/environ").read_bytes(),
        *(p.read_bytes() for p in paths.root.rglob("*") if p.is_file()),
    ]
    for blob in exposed:
        assert PASSWORD.encode() not in blob and admin_password.encode() not in blob
    acl_text = paths.aclfile.read_text()
    assert password_hash(admin_password) in acl_text and password_hash(PASSWORD) in acl_text
    assert b"HOSTPLANE" not in Path(f"/proc/{pid}/environ").read_bytes()


def test_files_the_tenant_controls_are_read_as_untrusted(caches: Caches, tenant_users) -> None:
    """data/ is the tenant's: a symlink or a FIFO put there is never followed, opened or
    written through; the instance comes back with a fresh aclfile of its own."""
    user = tenant_users[0]
    spec = caches.spec("untrusted", user)
    caches.instances.ensure(spec)
    paths = caches.instances.paths("untrusted")
    kill(caches.pid("untrusted"))
    target = caches.root.with_name(f"{caches.root.name}-roots-file")
    target.write_text("root's alone\n")
    target.chmod(0o600)
    paths.aclfile.unlink()
    os.symlink(target, paths.aclfile)
    paths.pidfile.unlink(missing_ok=True)
    os.mkfifo(paths.pidfile)
    for planted in (paths.aclfile, paths.pidfile):
        os.chown(planted, user.uid, user.gid, follow_symlinks=False)
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(caches.instances.ensure(spec)))
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "ensure blocked on what the tenant put in data/"
    assert outcome == [Outcome.UPDATED]
    assert target.read_text() == "root's alone\n" and mode_owner(target) == (0o600, 0, 0)
    assert stat.S_ISREG(os.lstat(paths.aclfile).st_mode)
    assert mode_owner(paths.aclfile) == (0o600, user.uid, user.gid)
    assert set(caches.acl.users("untrusted")) == {"default", "hostplane"}
    target.unlink()


def test_a_socket_opened_up_by_hand_is_detected_and_put_back(caches: Caches, tenant_users) -> None:
    spec = caches.spec("opened", tenant_users[0])
    caches.instances.ensure(spec)
    assert caches.state("opened").socket_as_configured
    spec.socket.chmod(0o666)  # its owner may do this; then anyone could connect
    assert not caches.state("opened").socket_as_configured
    assert caches.instances.ensure(spec) is Outcome.UPDATED
    assert mode_owner(spec.socket)[0] == 0o660
    assert caches.state("opened").socket_as_configured


def test_a_stranger_in_the_pid_file_is_never_adopted(caches: Caches, tenant_users) -> None:
    user = tenant_users[0]
    spec = caches.spec("stranger", user)
    caches.instances.ensure(spec)
    kill(caches.pid("stranger"))
    paths = caches.instances.paths("stranger")
    binary = str(caches.instances.binary.path)
    stranger = subprocess.Popen(  # the instance's own user, posing under the binary's name
        [
            "setpriv",
            f"--reuid={user.uid}",
            f"--regid={user.gid}",
            "--clear-groups",
            "bash",
            "-c",
            f"exec -a {binary} sleep 300",
        ],
    )
    try:
        wait_for(lambda: proc_uid(stranger.pid) == user.uid, "the stranger to drop to its user")
        paths.pidfile.write_text(f"{stranger.pid}\n")
        assert not caches.state("stranger").alive
        assert caches.instances.ensure(spec) is Outcome.UPDATED
        assert caches.pid("stranger") != stranger.pid
        assert stranger.poll() is None  # never signalled
        assert caches.instances.remove("stranger") is Outcome.DELETED
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
