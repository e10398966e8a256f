"""Pure: a Redis instance's whole configuration, rendered from its spec, with the mark that
makes it ours. No I/O here (the ACL rules, as pure, are in `rules.py`).

What a generated configuration closes, and why (Redis 7.0.15, checked on this machine):

- `port 0` unless a loopback port is asked for (then `bind 127.0.0.1`), `protected-mode yes`,
  a unix socket `unixsocketperm` without bits for others: only the instance's user and group
  can connect at all.
- `aclfile` of its own with `default` off and no password: a connection that has not sent
  `AUTH user pass` can run nothing (`SELECT`, `HELLO` and `PING` answer NOAUTH), so no session
  can pick a database before it authenticates (Redis 7.0 with a `nopass` default user let
  `SELECT 1` then `AUTH` leave the new user in database 1). `databases 1`: there is no other
  database to reach by `SELECT`, `SWAPDB`, `MOVE` or `COPY ... DB`.
- `CONFIG` renamed away: `CONFIG SET dir` + `dbfilename` + `SAVE` writes any file the
  instance's user may write (the classic Redis-to-shell), `CONFIG SET` changes limits and ACL
  files. `enable-protected-configs no` keeps `dir` & co. fixed even if it came back.
- `enable-debug-command no` (`DEBUG` crashes, reloads or edits the keyspace),
  `enable-module-command no` and no `loadmodule` (`MODULE LOAD` runs native code).
- `REPLICAOF`/`SLAVEOF`/`FAILOVER` renamed away (a rogue master replaces the dataset, the
  module-loading trick), `SYNC`/`PSYNC` (a client turns replica and receives every key of every
  user), `MIGRATE` (connects anywhere and moves keys there), `SHUTDOWN` (the control plane
  stops an instance with SIGTERM and confirms it).
- `set-proc-title no`: the process keeps `redis-server <config path>` as its command line,
  which is how a restarted control plane recognizes its own process.
- `save ""`, `appendonly yes|no`: persistence is exactly what the spec says; no RDB snapshots.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hostplane.errors import ValidationError

Persistence = Literal["none", "aof"]

MARK = "# hostplane-redis"
CONFIG_FILE = "redis.conf"
DATA_DIR = "data"
ACL_FILE = "users.acl"
PID_FILE = "redis.pid"
LOG_FILE = "redis.log"
AOF_DIR = "appendonlydir"
SNAPSHOT_FILE = "dump.rdb"  # Redis's default dbfilename: what SAVE writes into `dir`

POLICIES = frozenset(
    {
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    }
)
RENAMED_AWAY = (
    "CONFIG",
    "REPLICAOF",
    "SLAVEOF",
    "FAILOVER",
    "SYNC",
    "PSYNC",
    "MIGRATE",
    "SHUTDOWN",
)

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_OWNER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SYSTEM_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./@+-]*$")
SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with its NUL


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValidationError(
            f"cache instance name {name!r}: lowercase letters, digits and '-', 1-63 characters"
        )
    return name


def check_owner(owner: str) -> str:
    if not _OWNER.match(owner):
        raise ValidationError(f"owner {owner!r}: letters, digits, '_', '.', '-', 1-64 characters")
    return owner


def check_path(path: Path, what: str) -> Path:
    """Paths go into the config unquoted: absolute, no spaces, quotes or glob characters."""
    if not _SAFE_PATH.match(str(path)) or "/../" in f"{path}/":
        raise ValidationError(f"{what} {str(path)!r}: an absolute path of [A-Za-z0-9_./@+-]")
    return path


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """What one cache instance is: everything its configuration is rendered from."""

    name: str
    user: str  # the system user (and group) its process runs as, e.g. the tenant's
    group: str
    socket: Path
    maxmemory_mb: int
    maxmemory_policy: str = "noeviction"
    persistence: Persistence = "none"
    port: int = 0  # a loopback TCP port; 0 = the unix socket only
    socket_mode: int = 0o660
    maxclients: int = 256

    def __post_init__(self) -> None:
        check_name(self.name)
        for what, value in (("user", self.user), ("group", self.group)):
            if not _SYSTEM_NAME.match(value):
                raise ValidationError(f"{what} {value!r} is not a system {what} name")
        check_path(self.socket, "socket path")
        if len(str(self.socket).encode()) > SOCKET_PATH_MAX:
            raise ValidationError(f"socket path {self.socket} is over {SOCKET_PATH_MAX} bytes")
        if not 1 <= self.maxmemory_mb <= 1 << 20:
            raise ValidationError("maxmemory_mb must be between 1 and 1048576")
        if self.maxmemory_policy not in POLICIES:
            raise ValidationError(f"maxmemory_policy must be one of {sorted(POLICIES)}")
        if self.persistence not in ("none", "aof"):
            raise ValidationError("persistence must be 'none' or 'aof'")
        if self.port != 0 and not 1024 <= self.port <= 65535:
            raise ValidationError("port must be 0 (no TCP) or 1024-65535 (on 127.0.0.1)")
        if self.socket_mode & ~0o770 or self.socket_mode & 0o600 != 0o600:
            raise ValidationError("socket_mode: read/write for its user, nothing for others")
        if not 16 <= self.maxclients <= 10000:
            raise ValidationError("maxclients must be between 16 and 10000")


@dataclass(frozen=True, slots=True)
class InstancePaths:
    """An instance's files under the provider's directory.

    root (root:group 0750) holds the config (root:group 0640, the mark) and the log (root 0600,
    the process's stdout); data (user:group 0700) is all the process may write: the AOF, the
    aclfile (`ACL SAVE` renames a temp file beside it) and the pid file.
    """

    root: Path

    @classmethod
    def under(cls, base: Path, name: str) -> InstancePaths:
        return cls(base / check_name(name))

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def log(self) -> Path:
        return self.root / LOG_FILE

    @property
    def data(self) -> Path:
        return self.root / DATA_DIR

    @property
    def aclfile(self) -> Path:
        return self.data / ACL_FILE

    @property
    def pidfile(self) -> Path:
        return self.data / PID_FILE


def render_body(spec: InstanceSpec, paths: InstancePaths) -> str:
    lines = [
        "# generated by Hostplane from its state database; ensure() puts back any edit",
        "daemonize no",
        "supervised no",
        "set-proc-title no",
        f"pidfile {paths.pidfile}",
        'logfile ""',
        "always-show-logo no",
        f"dir {paths.data}",
        "bind 127.0.0.1",
        f"port {spec.port}",
        "protected-mode yes",
        f"unixsocket {spec.socket}",
        f"unixsocketperm {spec.socket_mode:o}",
        "databases 1",
        f"maxclients {spec.maxclients}",
        f"maxmemory {spec.maxmemory_mb}mb",
        f"maxmemory-policy {spec.maxmemory_policy}",
        f"aclfile {paths.aclfile}",
        'save ""',
        f"appendonly {'yes' if spec.persistence == 'aof' else 'no'}",
        f"appenddirname {AOF_DIR}",
        "appendfsync everysec",
        "enable-protected-configs no",
        "enable-debug-command no",
        "enable-module-command no",
        *(f'rename-command {command} ""' for command in RENAMED_AWAY),
    ]
    return "\n".join(lines) + "\n"


def _digest(owner: str, spec: InstanceSpec, body: str) -> str:
    signed = "\n".join((owner, spec.name, spec.user, spec.group, body))
    return hashlib.sha256(signed.encode()).hexdigest()


def render(spec: InstanceSpec, paths: InstancePaths, owner: str) -> str:
    """The whole file: the mark (owner, name, run-as user and group, digest), then the body."""
    body = render_body(spec, paths)
    digest = _digest(check_owner(owner), spec, body)
    mark = f"{MARK} owner={owner} name={spec.name} user={spec.user} group={spec.group}"
    return f"{mark} sha256={digest}\n{body}"


@dataclass(frozen=True, slots=True)
class Mark:
    """The first line of a generated config: whose it is, and whether the rest is untouched."""

    owner: str
    name: str
    user: str
    group: str
    digest: str
    intact: bool  # the body (and the mark's fields) are exactly what was rendered


def read_mark(text: str) -> Mark | None:
    """None when the text does not start with a well-formed mark (not made by a Hostplane)."""
    first, _, body = text.partition("\n")
    head, _, rest = first.partition(" owner=")
    if head != MARK or not rest:
        return None
    fields: dict[str, str] = {}
    for part in f"owner={rest}".split(" "):
        key, _, value = part.partition("=")
        fields[key] = value
    try:
        mark = Mark(
            owner=fields["owner"],
            name=fields["name"],
            user=fields["user"],
            group=fields["group"],
            digest=fields["sha256"],
            intact=False,
        )
    except KeyError:
        return None
    signed = "\n".join((mark.owner, mark.name, mark.user, mark.group, body))
    intact = hashlib.sha256(signed.encode()).hexdigest() == mark.digest
    return Mark(mark.owner, mark.name, mark.user, mark.group, mark.digest, intact)


def config_value(text: str, directive: str) -> str | None:
    """The value of one directive in a config this module rendered (for observe and remove)."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == directive:
            return value
    return None
