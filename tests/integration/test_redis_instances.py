"""One supervised redis-server per cache (providers/redis/instances.py), on the real binary:
started as its tenant's user, adopted after a control-plane restart, put back when edited,
restarted when killed, removed whole; nothing without this plane's mark is ever touched."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hostplane.errors import ForeignResourceError, PermanentError
from hostplane.providers.base import Outcome
from hostplane.providers.redis import process
from hostplane.providers.redis.acl import generate_password
from hostplane.providers.redis.config import read_mark, render
from hostplane.providers.redis.instances import RedisInstances
from hostplane.providers.redis.rules import password_hash
from hostplane.providers.redis.supervise import RedisSupervisor
from tests.fixtures_redis import Caches, connect, kill, proc_uid, wait_for

PASSWORD = "cache-user-password-0123456789"


def mode_owner(path: Path) -> tuple[int, int, int]:
    st = os.stat(path, follow_symlinks=False)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def redis_processes_of(config: Path) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if len(argv) > 1 and argv[1] == os.fsencode(config):
                pids.append(int(entry.name))
    return pids


def test_ensure_starts_it_as_its_user_then_changes_nothing(caches: Caches, tenant_users) -> None:
    user = tenant_users[0]
    spec = caches.spec("first", user)
    assert caches.instances.ensure(spec) is Outcome.CREATED
    pid = caches.pid("first")
    assert caches.instances.ensure(spec) is Outcome.UNCHANGED
    assert caches.pid("first") == pid
    paths = caches.instances.paths("first")
    assert proc_uid(pid) == user.uid
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1] == bytes(paths.config)
    assert mode_owner(spec.socket) == (0o660, user.uid, user.gid)
    assert stat.S_ISSOCK(os.stat(spec.socket).st_mode)
    assert mode_owner(paths.root) == (0o750, 0, user.gid)
    assert mode_owner(paths.config) == (0o640, 0, user.gid)
    assert mode_owner(paths.data) == (0o700, user.uid, user.gid)
    state = caches.state("first")
    assert state.alive and state.config_intact and state.digest == caches.instances.digest(spec)
    assert paths.config.read_text() == render(spec, paths, caches.instances.owner)
    with caches.admin("first") as admin:
        assert admin.ping()
        assert admin.info("memory")["maxmemory"] == 16 * 1024 * 1024


ADOPT = """
import json, sys
from pathlib import Path
from hostplane.providers.redis.config import InstanceSpec
from hostplane.providers.redis.instances import RedisInstances
job = json.load(sys.stdin)
spec = InstanceSpec(**{**job["spec"], "socket": Path(job["spec"]["socket"])})
provider = RedisInstances(Path(job["base"]), job["owner"], lambda name: job["password"])
print(provider.ensure(spec))
"""


def test_a_restarted_control_plane_adopts_its_running_instance(
    caches: Caches, tenant_users
) -> None:
    """Another control-plane process starts the instance and exits; this one adopts it."""
    spec = caches.spec("adopted", tenant_users[0])
    job = {
        "base": str(caches.root),
        "owner": caches.instances.owner,
        "password": caches.admin_passwords.setdefault("adopted", generate_password()),
        "spec": {**dataclasses.asdict(spec), "socket": str(spec.socket)},
    }
    ran = subprocess.run(
        [sys.executable, "-c", ADOPT], input=json.dumps(job), capture_output=True, text=True
    )
    assert ran.returncode == 0 and ran.stdout.strip().endswith("created"), ran.stderr
    pid = caches.pid("adopted")
    status = Path(f"/proc/{pid}/status").read_text()
    parent = int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])
    assert parent != os.getpid()  # not a child of this process: nothing of it in memory here
    fresh = RedisInstances(caches.root, caches.instances.owner, caches.admin_passwords.__getitem__)
    assert fresh.ensure(spec) is Outcome.UNCHANGED
    assert caches.pid("adopted") == pid
    assert fresh.remove("adopted") is Outcome.DELETED
    assert not process.alive(pid)


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


def test_a_lost_pid_file_never_starts_a_second_process(caches: Caches, tenant_users) -> None:
    spec = caches.spec("lostpid", tenant_users[0])
    caches.instances.ensure(spec)
    pid = caches.pid("lostpid")
    paths = caches.instances.paths("lostpid")
    paths.pidfile.unlink()
    assert caches.instances.ensure(spec) is Outcome.UNCHANGED
    assert caches.instances.watch_once() == []
    assert redis_processes_of(paths.config) == [pid]


def test_a_config_edited_by_hand_is_detected_and_put_back(caches: Caches, tenant_users) -> None:
    spec = caches.spec("edited", tenant_users[0])
    caches.instances.ensure(spec)
    pid = caches.pid("edited")
    paths = caches.instances.paths("edited")
    rendered = paths.config.read_text()
    paths.config.write_text(rendered.replace("maxmemory 16mb", "maxmemory 999mb"))
    state = caches.state("edited")
    assert state.alive and not state.config_intact
    assert caches.instances.ensure(spec) is Outcome.UPDATED
    assert paths.config.read_text() == rendered
    assert caches.pid("edited") != pid  # restarted: what it had loaded is unknown
    assert caches.state("edited").config_intact
    with caches.admin("edited") as admin:
        assert admin.info("memory")["maxmemory"] == 16 * 1024 * 1024


def test_a_changed_spec_restarts_it_and_keeps_its_aof_data(caches: Caches, tenant_users) -> None:
    spec = caches.spec("grown", tenant_users[0], persistence="aof")
    caches.instances.ensure(spec)
    caches.acl.ensure_user("grown", "app", PASSWORD, "app:")
    with connect(spec.socket, "app", PASSWORD) as app:
        app.set("app:kept", "yes")
    pid = caches.pid("grown")
    bigger = dataclasses.replace(spec, maxmemory_mb=32)
    assert caches.instances.digest(bigger) != caches.state("grown").digest
    assert caches.instances.ensure(bigger) is Outcome.UPDATED
    assert caches.pid("grown") != pid
    assert caches.instances.ensure(bigger) is Outcome.UNCHANGED
    with caches.admin("grown") as admin:
        assert admin.info("memory")["maxmemory"] == 32 * 1024 * 1024
    with connect(spec.socket, "app", PASSWORD) as app:
        assert app.get("app:kept") == "yes"


def test_a_killed_instance_is_restarted_by_watch_with_its_data_and_users(
    caches: Caches, tenant_users
) -> None:
    spec = caches.spec("killed", tenant_users[0], persistence="aof")
    caches.instances.ensure(spec)
    caches.acl.ensure_user("killed", "app", PASSWORD, "app:")
    caches.acl.ensure_user("killed", "paused", PASSWORD, "paused:", enabled=False)
    with connect(spec.socket, "app", PASSWORD) as app:
        app.set("app:survives", "a kill -9")
    kill(caches.pid("killed"))
    assert not caches.state("killed").alive
    assert caches.instances.watch_once() == ["killed"]
    with connect(spec.socket, "app", PASSWORD) as app:
        assert app.get("app:survives") == "a kill -9"
    users = caches.acl.users("killed")
    assert users["app"].enabled and not users["paused"].enabled
    assert caches.instances.watch_once() == []


def test_the_supervisor_thread_restarts_a_killed_instance(caches: Caches, tenant_users) -> None:
    spec = caches.spec("supervised", tenant_users[0])
    caches.instances.ensure(spec)
    restarted = threading.Event()
    names: list[str] = []
    supervisor = RedisSupervisor(
        caches.instances, interval=0.05, on_restart=lambda n: (names.extend(n), restarted.set())
    )
    supervisor.start()
    try:
        kill(caches.pid("supervised"))
        assert restarted.wait(10)
    finally:
        supervisor.stop()
    assert names == ["supervised"]
    with caches.admin("supervised") as admin:
        assert admin.ping()


def test_watch_leaves_an_edited_config_to_ensure(caches: Caches, tenant_users) -> None:
    spec = caches.spec("tampered", tenant_users[0])
    caches.instances.ensure(spec)
    paths = caches.instances.paths("tampered")
    kill(caches.pid("tampered"))
    paths.config.write_text(paths.config.read_text() + "enable-module-command yes\n")
    assert caches.instances.watch_once() == []
    assert not caches.state("tampered").alive
    assert caches.instances.ensure(spec) is Outcome.UPDATED
    assert caches.state("tampered").alive and caches.state("tampered").config_intact


def test_remove_stops_it_and_removes_its_files(caches: Caches, tenant_users) -> None:
    live = caches.spec("gone", tenant_users[0])
    dead = caches.spec("dead", tenant_users[0])
    caches.instances.ensure(live)
    caches.instances.ensure(dead)
    live_pid, dead_pid = caches.pid("gone"), caches.pid("dead")
    kill(dead_pid)  # SIGKILL leaves its socket behind
    assert dead.socket.exists()
    for spec, pid in ((live, live_pid), (dead, dead_pid)):
        assert caches.instances.remove(spec.name) is Outcome.DELETED
        assert not process.alive(pid)
        assert not caches.instances.paths(spec.name).root.exists()
        assert not os.path.lexists(spec.socket)
        assert caches.instances.remove(spec.name) is Outcome.ABSENT
    assert caches.instances.observe() == []


def test_remove_unlinks_only_a_socket_at_the_socket_path(caches: Caches, tenant_users) -> None:
    spec = caches.spec("planted", tenant_users[0])
    caches.instances.ensure(spec)
    kill(caches.pid("planted"))
    spec.socket.unlink()
    spec.socket.write_text("not a socket: a file someone put there\n")
    assert caches.instances.remove("planted") is Outcome.DELETED
    assert spec.socket.read_text().startswith("not a socket")
    spec.socket.unlink()


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


def test_an_instance_that_cannot_start_fails_with_its_answer(caches: Caches, tenant_users) -> None:
    unwritable = caches.root.with_name(f"{caches.root.name}-root-only")
    unwritable.mkdir(mode=0o755)  # the instance's user cannot create its socket there
    spec = caches.spec("nosocket", tenant_users[0], socket=unwritable / "x.sock")
    with pytest.raises(PermanentError) as failed:
        caches.instances.ensure(spec)
    assert "Permission denied" in str(failed.value)
    assert not caches.state("nosocket").alive
    assert redis_processes_of(caches.instances.paths("nosocket").config) == []
    with pytest.raises(PermanentError, match="never runs as root"):
        caches.instances.ensure(dataclasses.replace(spec, name="asroot", user="root", group="root"))
    assert read_mark(caches.instances.paths("nosocket").config.read_text()) is not None
    unwritable.rmdir()


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
