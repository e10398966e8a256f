"""A cache instance given to another system user (providers/redis/instances.py `relocate`), on
the real binary: its keys kept (memory-only through a SAVE, AOF as written), its users gone,
its files the new user's with no link followed, resumable after a crash halfway, and back."""

from __future__ import annotations

import os

import pytest
import redis

from hostplane.errors import PermanentError
from hostplane.providers.base import Outcome
from hostplane.providers.redis import process
from hostplane.providers.redis.config import SNAPSHOT_FILE
from tests.fixtures_redis import Caches, connect, mode_owner

PASSWORD = "cache-user-password-0123456789"


def _filled(caches: Caches, spec_name: str, user, persistence: str) -> None:
    spec = caches.spec(spec_name, user, persistence=persistence)
    caches.instances.ensure(spec)
    caches.acl.ensure_user(spec_name, "app", PASSWORD, "p:")
    with connect(caches.socket(spec_name), "app", PASSWORD) as conn:
        conn.set("p:kept", "yes")


@pytest.mark.parametrize("persistence", ["none", "aof"])
def test_relocate_keeps_the_keys_drops_the_users_and_changes_hands(
    caches: Caches, tenant_users, persistence: str
) -> None:
    a, b = tenant_users
    _filled(caches, "from-a", a, persistence)
    old_socket = caches.socket("from-a")
    spec = caches.spec("to-b", b, persistence=persistence)
    assert caches.instances.relocate("from-a", spec) is Outcome.UPDATED
    assert not os.path.lexists(caches.instances.paths("from-a").root)
    assert not os.path.lexists(old_socket)
    assert caches.instances.relocate("from-a", spec) is Outcome.UNCHANGED
    assert caches.instances.ensure(spec) is Outcome.UPDATED  # started on its config
    snapshot = Outcome.DELETED if persistence == "none" else Outcome.ABSENT
    assert caches.instances.drop_snapshot("to-b") is snapshot
    paths = caches.instances.paths("to-b")
    assert mode_owner(paths.data)[1:] == (b.uid, b.gid)
    assert all(
        os.stat(os.path.join(top, f), follow_symlinks=False).st_uid == b.uid
        for top, _, names in os.walk(paths.data)
        for f in names
    )
    with caches.admin("to-b") as admin:
        assert admin.get("p:kept") == "yes"
        assert "app" not in admin.acl_users()
    with pytest.raises(redis.AuthenticationError), connect(spec.socket, "app", PASSWORD) as c:
        c.ping()
    assert not os.path.lexists(paths.data / SNAPSHOT_FILE)


def test_a_move_stopped_after_the_rename_is_finished_and_skipped_meanwhile(
    caches: Caches, tenant_users
) -> None:
    """A crash after the rename leaves the directory marked with its old name: the
    supervisor's scan does not see it (so never starts it), relocate finishes it."""
    a, b = tenant_users
    _filled(caches, "half-a", a, "aof")
    process.stop(caches.pid("half-a"))
    caches.instances.paths("half-a").root.rename(caches.instances.paths("half-b").root)
    assert [s.name for s in caches.instances.observe()] == []
    assert caches.instances.watch_once() == []
    spec = caches.spec("half-b", b, persistence="aof")
    assert caches.instances.relocate("half-a", spec) is Outcome.UPDATED
    caches.instances.ensure(spec)
    with caches.admin("half-b") as admin:
        assert admin.get("p:kept") == "yes"


def test_relocate_back_returns_the_instance_to_its_first_user(caches: Caches, tenant_users) -> None:
    a, b = tenant_users
    _filled(caches, "back-a", a, "none")
    there, home = caches.spec("back-b", b), caches.spec("back-a", a)
    caches.instances.relocate("back-a", there)
    caches.instances.ensure(there)
    caches.instances.drop_snapshot("back-b")
    assert caches.instances.relocate("back-b", home) is Outcome.UPDATED
    caches.instances.ensure(home)
    assert mode_owner(caches.instances.paths("back-a").data)[1:] == (a.uid, a.gid)
    with caches.admin("back-a") as admin:
        assert admin.get("p:kept") == "yes"


def test_relocate_refuses_when_both_exist_and_when_neither_does(
    caches: Caches, tenant_users
) -> None:
    a, b = tenant_users
    caches.instances.ensure(caches.spec("both-a", a))
    caches.instances.ensure(caches.spec("both-b", b))
    with pytest.raises(PermanentError, match="both exist"):
        caches.instances.relocate("both-a", caches.spec("both-b", b))
    with caches.admin("both-a") as admin:  # nothing was stopped
        assert admin.ping()
    with pytest.raises(Exception, match="no cache instance"):
        caches.instances.relocate("nowhere-a", caches.spec("nowhere-b", b))


def test_what_the_old_user_planted_or_holds_open_never_reaches_the_new_users_data(
    caches: Caches, tenant_users, tmp_path
) -> None:
    """The old tenant owns data/ until the move: a symlink, a FIFO or a hard link it put there
    is left out, and a descriptor it still holds on a file there reads nothing the new
    instance writes (its data is new files)."""
    a, b = tenant_users
    _filled(caches, "plant-a", a, "aof")
    data = caches.instances.paths("plant-a").data
    aof = data / "appendonlydir"
    incr = next(p for p in aof.iterdir() if p.name.endswith(".incr.aof"))
    held = open(incr, "rb")  # noqa: SIM115 - the old tenant's process keeps it open
    outside = tmp_path / "outside"
    outside.write_text("not the cache's")
    (data / "planted-link").symlink_to(outside)
    os.mkfifo(data / "planted-fifo")
    os.link(incr, data / "planted-hardlink")
    spec = caches.spec("plant-b", b, persistence="aof")
    caches.instances.relocate("plant-a", spec)
    caches.instances.ensure(spec)
    moved = caches.instances.paths("plant-b").data
    assert not {"planted-link", "planted-fifo"} & {p.name for p in moved.iterdir()}
    assert all(
        os.stat(os.path.join(top, f), follow_symlinks=False).st_nlink == 1
        for top, _, names in os.walk(moved)
        for f in names
    )
    caches.acl.ensure_user("plant-b", "new", PASSWORD, "n:")
    with connect(spec.socket, "new", PASSWORD) as conn:
        conn.set("n:secret", "only-for-b")
    held.seek(0)
    assert b"only-for-b" not in held.read()
    held.close()
    assert outside.read_text() == "not the cache's"
    with caches.admin("plant-b") as admin:
        assert admin.get("p:kept") == "yes"
