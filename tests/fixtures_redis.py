"""Cache instances for the tests: real redis-server processes under a private directory, run
as system users the suite creates (and removes at the end), reached over their unix sockets.

Needs root (useradd, setpriv) and Debian's redis-server, as `make test` provides; nothing
here skips. The system Redis on 6379, if any, is never touched: every instance here has a
socket in the suite's own directory and no TCP port unless a test asks for one on loopback.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hostplane.providers.redis import process
from hostplane.providers.redis.acl import RedisAcl, generate_password
from hostplane.providers.redis.config import InstanceSpec
from hostplane.providers.redis.instances import InstanceState, RedisInstances
from tests.services import ServiceError


@dataclass(frozen=True)
class SystemUser:
    name: str
    uid: int
    gid: int
    run_dir: Path  # where its instances' sockets go: its own, traversable by others


@dataclass
class Caches:
    """A provider of one (test) control plane, with the admin passwords it was given."""

    root: Path
    instances: RedisInstances
    acl: RedisAcl
    admin_passwords: dict[str, str]

    def spec(self, name: str, user: SystemUser, **changes: object) -> InstanceSpec:
        fields: dict[str, object] = {
            "name": name,
            "user": user.name,
            "group": user.name,
            "socket": user.run_dir / f"{name}.sock",
            "maxmemory_mb": 16,
        }
        fields.update(changes)
        return InstanceSpec(**fields)  # type: ignore[arg-type]

    def state(self, name: str) -> InstanceState:
        return next(s for s in self.instances.observe() if s.name == name)

    def socket(self, name: str) -> Path:
        socket = self.state(name).socket
        assert socket is not None
        return socket

    def pid(self, name: str) -> int:
        pid = self.state(name).pid
        assert pid is not None, f"{name} is not running"
        return pid

    def admin(self, name: str) -> redis.Redis:
        return connect(self.socket(name), "hostplane", self.admin_passwords[name])


def connect(socket: Path, user: str | None = None, password: str | None = None) -> redis.Redis:
    """A client as `user`, over the socket; no retries, replies as text."""
    return redis.Redis(
        unix_socket_path=str(socket),
        username=user,
        password=password,
        decode_responses=True,
        protocol=2,
        retry=Retry(NoBackoff(), 0),
        socket_timeout=5,
        single_connection_client=True,
    )


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def kill(pid: int) -> None:
    """SIGKILL an instance the test started (through the provider), and wait until it is dead."""
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process.alive(pid), f"redis-server {pid} to die")


def proc_uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def mode_owner(path: Path) -> tuple[int, int, int]:
    """(mode, uid, gid) of a path itself, never what a symlink points at."""
    st = os.stat(path, follow_symlinks=False)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def redis_processes_of(config: Path) -> list[int]:
    """Every process on the machine whose first argument is this config path."""
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


def _make_user(root: Path, name: str) -> SystemUser:
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        check=True,
        capture_output=True,
    )
    entry = pwd.getpwnam(name)
    run_dir = root / f"run-{name}"
    run_dir.mkdir(mode=0o755)
    os.chown(run_dir, entry.pw_uid, entry.pw_gid)
    return SystemUser(name, entry.pw_uid, grp.getgrnam(name).gr_gid, run_dir)


@pytest.fixture(scope="session")
def redis_root() -> Iterator[Path]:
    if os.geteuid() != 0:
        raise ServiceError("the cache tests run as root (they create system users): `make test`")
    if shutil.which("redis-server") is None:
        raise ServiceError("redis-server not found: run `make test` (package redis-server)")
    root = Path(tempfile.mkdtemp(prefix="hostplane-test-redis-"))
    root.chmod(0o711)  # the instances' users reach their configs and sockets through it
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def tenant_users(redis_root: Path) -> Iterator[tuple[SystemUser, SystemUser]]:
    """Two system users, as two tenants would be; removed (userdel) at the end."""
    tag = secrets.token_hex(3)
    users = (_make_user(redis_root, f"hpt{tag}a"), _make_user(redis_root, f"hpt{tag}b"))
    yield users
    for user in users:
        subprocess.run(["userdel", user.name], check=False, capture_output=True)


def _caches(root: Path) -> Caches:
    passwords: dict[str, str] = {}

    def admin_password(name: str) -> str:
        return passwords.setdefault(name, generate_password())

    base = root / f"base-{secrets.token_hex(3)}"
    instances = RedisInstances(base, f"hptest{secrets.token_hex(3)}", admin_password)
    return Caches(base, instances, RedisAcl(instances), passwords)


def _tear_down(caches: Caches) -> None:
    for state in caches.instances.observe():
        caches.instances.remove(state.name)


@pytest.fixture
def caches(redis_root: Path, tenant_users: tuple[SystemUser, SystemUser]) -> Iterator[Caches]:
    """A fresh provider directory and plane id; every instance in it removed afterwards."""
    made = _caches(redis_root)
    yield made
    _tear_down(made)


@pytest.fixture(scope="module")
def module_caches(
    redis_root: Path, tenant_users: tuple[SystemUser, SystemUser]
) -> Iterator[Caches]:
    made = _caches(redis_root)
    yield made
    _tear_down(made)
