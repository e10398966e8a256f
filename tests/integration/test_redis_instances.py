"""One supervised redis-server per cache (providers/redis/instances.py), on the real binary:
started as its tenant's user, adopted after a control-plane restart, put back when edited,
restarted when killed, removed whole (ownership and trust: test_redis_ownership.py)."""

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

from hostplane.errors import PermanentError
from hostplane.providers.base import Outcome
from hostplane.providers.local.processes import end_processes
from hostplane.providers.redis import process
from hostplane.providers.redis.acl import generate_password
from hostplane.providers.redis.config import read_mark, render
from hostplane.providers.redis.instances import RedisInstances
from hostplane.providers.redis.supervise import RedisSupervisor
from tests.fixtures_redis import (
    Caches,
    connect,
    kill,
    mode_owner,
    proc_uid,
    redis_processes_of,
)

PASSWORD = "cache-user-password-0123456789"


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


def test_runs_knows_its_instances_and_a_suspension_spares_only_them(
    caches: Caches, tenant_users
) -> None:
    """What a tenant's suspension ends (every process of its user) spares its running cache
    instances, as `runs` recognizes them: a `sleep` of the same user is ended, the instance
    keeps its pid; another plane's provider does not claim it."""
    user = tenant_users[1]
    caches.instances.ensure(caches.spec("kept", user))
    pid = caches.pid("kept")
    other = RedisInstances(caches.root.with_name(caches.root.name + "-x"), "other", str)
    sleeper = subprocess.Popen(
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "sleep", "60"]
    )
    try:
        assert caches.instances.runs(pid) and not other.runs(pid)
        assert not caches.instances.runs(sleeper.pid) and not caches.instances.runs(os.getpid())
        reaper = threading.Thread(target=sleeper.wait)  # no zombie of ours is left waiting
        reaper.start()
        ended = end_processes(user.uid, user.name, spare=caches.instances.runs)
        reaper.join(5)
        assert ended == 1 and sleeper.returncode is not None
        assert process.alive(pid) and caches.pid("kept") == pid
    finally:
        sleeper.kill()
        sleeper.wait()
