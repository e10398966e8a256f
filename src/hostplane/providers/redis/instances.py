"""One Redis instance per cache: its own config, process, user and socket, supervised.

`ensure(spec)` renders the whole config, starts the instance if it is not running, adopts it
if it is (after a control-plane restart: pid file checked against /proc), restarts it only
when the config on disk is not the rendered one (an edit by hand included: it is put back),
and confirms it answers `PING` as the control plane's admin user over its socket.
`remove(name)` stops it and removes its files; `observe()` lists every instance of this plane
in one directory scan; `watch_once()` restarts the dead ones (a supervisor loop calls it).
A directory whose config does not carry this plane's mark is never adopted, changed or removed.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
import structlog

from hostplane.errors import (
    ForeignResourceError,
    HostplaneError,
    NotFoundError,
    PermanentError,
    TemporaryError,
)
from hostplane.providers.base import Outcome
from hostplane.providers.redis import client, files, process
from hostplane.providers.redis.config import (
    ACL_FILE,
    PID_FILE,
    SNAPSHOT_FILE,
    InstancePaths,
    InstanceSpec,
    Mark,
    check_name,
    check_owner,
    config_value,
    read_mark,
    render,
)
from hostplane.providers.redis.process import RunAs
from hostplane.providers.redis.rules import ADMIN_USER, merge_aclfile, password_hash

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class InstanceState:
    """What `observe()` saw of one instance of this plane."""

    name: str
    pid: int | None
    config_intact: bool  # the file is exactly as rendered (compare `digest` with the spec's)
    digest: str
    user: str
    group: str
    socket: Path | None
    socket_as_configured: bool  # there, a socket, of its user and group, with its mode

    @property
    def alive(self) -> bool:
        return self.pid is not None


class RedisInstances:
    """`admin_password(name)` gives an instance's admin password (the caller generated and
    keeps it); it is written nowhere but as a hash in the instance's aclfile."""

    def __init__(
        self,
        base_dir: Path,
        owner: str,
        admin_password: Callable[[str], str],
        *,
        binary: str = "redis-server",
        start_timeout: float = 10.0,
    ) -> None:
        self.base_dir = base_dir
        self.owner = check_owner(owner)
        self._admin_password = admin_password
        self.binary = process.Binary.find(binary)
        self.start_timeout = start_timeout
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._children_lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._backoff: dict[str, float] = {}

    def paths(self, name: str) -> InstancePaths:
        return InstancePaths.under(self.base_dir, name)

    def digest(self, spec: InstanceSpec) -> str:
        """The digest of the config `spec` renders to: `InstanceState.digest` when as wanted."""
        mark = read_mark(render(spec, self.paths(spec.name), self.owner))
        assert mark is not None
        return mark.digest

    # --- mutations -------------------------------------------------------------------------

    def ensure(self, spec: InstanceSpec) -> Outcome:
        with self._locked(spec.name):
            paths = self.paths(spec.name)
            run_as = _run_as(spec.user, spec.group)
            desired = render(spec, paths, self.owner)
            current = self._own_config(paths)
            if current is None:
                files.create(paths, desired, run_as)
                self._start(spec.name, paths, run_as, desired)
                return Outcome.CREATED
            pid = self._pid(spec.name, paths)
            if current == desired and pid is not None and self._healthy(spec, paths, run_as):
                return Outcome.UNCHANGED
            if pid is not None:
                log.info("redis.instance.restarting", instance=spec.name, pid=pid)
                process.stop(pid, self._child(spec.name))
            old_socket = config_value(current, "unixsocket")
            if old_socket and Path(old_socket) != spec.socket:
                files.remove_socket(Path(old_socket))  # a move: nothing left at the old place
            files.write_config(paths, desired, run_as)
            files.apply_ownership(paths, run_as)
            self._start(spec.name, paths, run_as, desired)
            return Outcome.UPDATED

    def remove(self, name: str) -> Outcome:
        with self._locked(name):
            paths = self.paths(name)
            text = self._own_config(paths)
            if text is None:
                return Outcome.ABSENT
            pid = self._pid(name, paths)
            if pid is not None:
                process.stop(pid, self._child(name))
            socket = config_value(text, "unixsocket")
            if socket:
                files.remove_socket(Path(socket))
            shutil.rmtree(paths.root)
            with self._children_lock:
                self._children.pop(name, None)
            if os.path.lexists(paths.root) or (pid is not None and process.alive(pid)):
                raise PermanentError(f"cache instance {name} is still there after its removal")
            log.info("redis.instance.removed", instance=name, pid=pid)
            return Outcome.DELETED

    def relocate(self, old: str, spec: InstanceSpec) -> Outcome:
        """The instance `old` becomes `spec.name` (a cache given to another tenant), not
        started (`ensure(spec)` starts it): stopped (a memory-only one SAVEd first, so its
        keys survive), its directory renamed, its data copied into new files of `spec`'s user
        (`files.hand_over`: no link followed, nothing the old user still holds open), its
        aclfile with no user but `default` and the admin (the old tenant's users never reach
        the new instance), its config rendered for `spec` last.
        Resumable at every point: a directory renamed but not yet rewritten still carries
        `old`'s mark, which `observe` (so the supervisor) skips and this finishes."""
        with self._locked(min(old, spec.name)), self._locked(max(old, spec.name)):
            paths, source = self.paths(spec.name), self.paths(old)
            if os.path.lexists(source.root):
                text = self._own_config(source)
                assert text is not None
                if os.path.lexists(paths.root):
                    raise PermanentError(
                        f"cache instances {old} and {spec.name} both exist: one was made "
                        "outside this move; remove one by hand"
                    )
                self._stop_saved(old, source, text)
                socket = config_value(text, "unixsocket")
                if socket:
                    files.remove_socket(Path(socket))
                source.root.rename(paths.root)
                log.info("redis.instance.renamed", instance=old, to=spec.name)
            elif not os.path.lexists(paths.root):
                raise NotFoundError(f"there is no cache instance {old} (nor {spec.name})")
            desired = render(spec, paths, self.owner)
            if self._config_moving(paths, old) == desired:
                return Outcome.UNCHANGED
            run_as = _run_as(spec.user, spec.group)
            files.hand_over(paths, run_as, skip=frozenset({ACL_FILE, PID_FILE}))
            admin_hash = password_hash(self._admin_password(spec.name))
            files.write_aclfile(paths, merge_aclfile("", admin_hash), run_as)
            files.write_config(paths, desired, run_as)
            log.info("redis.instance.relocated", instance=old, to=spec.name, user=spec.user)
            return Outcome.UPDATED

    def drop_snapshot(self, name: str) -> Outcome:
        """The RDB snapshot a move's SAVE left, once the instance loaded it: a memory-only
        cache restarted later must not come back with these keys."""
        with self._locked(name):
            try:
                (self.paths(name).data / SNAPSHOT_FILE).unlink()  # a link itself, if one
            except FileNotFoundError:
                return Outcome.ABSENT
            except IsADirectoryError:
                return Outcome.UNCHANGED  # not a snapshot Redis would load
            return Outcome.DELETED

    # --- observation and supervision -------------------------------------------------------

    def observe(self) -> list[InstanceState]:
        """Every instance of this plane under the provider's directory, in one scan."""
        if not self.base_dir.is_dir():
            return []
        states = []
        for entry in sorted(os.scandir(self.base_dir), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            paths = InstancePaths(Path(entry.path))
            text = process.read_small(paths.config)
            mark = read_mark(text) if text is not None else None
            if text is None or mark is None or (mark.owner, mark.name) != (self.owner, entry.name):
                continue  # another plane's, or nobody's: not even looked at further
            states.append(self._state(entry.name, paths, text, mark))
        return states

    def _state(self, name: str, paths: InstancePaths, text: str, mark: Mark) -> InstanceState:
        socket = config_value(text, "unixsocket")
        mode = int(config_value(text, "unixsocketperm") or "0", 8)
        run_as = files.run_as_of(paths)
        return InstanceState(
            name=name,
            pid=self._pid(name, paths, scan=False),
            config_intact=mark.intact,
            digest=mark.digest,
            user=mark.user,
            group=mark.group,
            socket=Path(socket) if socket else None,
            socket_as_configured=bool(socket)
            and run_as is not None
            and files.socket_matches(Path(socket or "/"), run_as, mode),
        )

    def runs(self, pid: int) -> bool:
        """Whether `pid` is the redis-server of an instance of this plane (its config under
        the provider's directory, the binary, the instance's user: as `_pid` recognizes it).
        A tenant's suspension ends its user's processes but these."""
        config = process.config_of(pid)
        if config is None or config.parent.parent != self.base_dir:
            return False
        paths = InstancePaths(config.parent)
        run_as = files.run_as_of(paths)
        return (
            config == paths.config
            and run_as is not None
            and process.is_ours(pid, self.binary, config, run_as.uid)
        )

    def watch_once(self) -> list[str]:
        """Restart every instance of this plane whose process died, from its config on disk
        (only an intact one: an edited config waits for `ensure`). Returns their names; one
        that fails to start is logged and tried again on a later round, after a backoff."""
        restarted = []
        now = time.monotonic()
        for state in self.observe():
            if state.alive or not state.config_intact or self._backoff.get(state.name, 0) > now:
                continue
            try:
                if self._restart_dead(state):
                    restarted.append(state.name)
                self._failures.pop(state.name, None)
                self._backoff.pop(state.name, None)
            except HostplaneError as exc:
                failures = self._failures.get(state.name, 0) + 1
                self._failures[state.name] = failures
                self._backoff[state.name] = now + min(60.0, 0.5 * 2**failures)
                log.error("redis.instance.restart_failed", instance=state.name, error=str(exc))
        return restarted

    def _restart_dead(self, state: InstanceState) -> bool:
        with self._locked(state.name):
            paths = self.paths(state.name)
            text = self._own_config(paths)
            if text is None or self._pid(state.name, paths) is not None:
                return False  # removed, or started by someone else, meanwhile
            log.warning("redis.instance.died", instance=state.name)
            self._start(state.name, paths, _run_as(state.user, state.group), text)
            return True

    def socket(self, name: str) -> Path:
        """The instance's socket, as its config on disk says; NotFoundError without one."""
        text = self._own_config(self.paths(name))
        socket = config_value(text, "unixsocket") if text else None
        if socket is None:
            raise NotFoundError(f"there is no cache instance {name}")
        return Path(socket)

    @contextmanager
    def admin(self, name: str, what: str) -> Iterator[redis.Redis]:
        """A connection to the instance as the control plane's admin user, over its socket."""
        socket = self.socket(name)
        with client.session(socket, ADMIN_USER, self._admin_password(name), what) as r:
            yield r

    # --- internals -------------------------------------------------------------------------

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """One mutation of an instance at a time, across threads and processes (flock)."""
        check_name(name)
        files.prepare_base(self.base_dir)
        fd = os.open(self.base_dir / ".locks" / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _own_config(self, paths: InstancePaths) -> str | None:
        """The config of an instance of ours; None when there is no directory at all."""
        if not os.path.lexists(paths.root):
            return None
        text = process.read_small(paths.config)
        mark = read_mark(text) if text is not None else None
        if mark is None or (mark.owner, mark.name) != (self.owner, paths.root.name):
            holder = f"Hostplane {mark.owner}" if mark else "nobody known (no mark)"
            raise ForeignResourceError(
                f"{paths.root} exists and belongs to {holder}, not to this control plane "
                f"({self.owner}): it is left alone"
            )
        return text

    def _config_moving(self, paths: InstancePaths, old: str) -> str:
        """The config of an instance being renamed from `old`: ours, marked `old` or its own."""
        text = process.read_small(paths.config)
        mark = read_mark(text) if text is not None else None
        if text is None or mark is None or mark.owner != self.owner:
            raise ForeignResourceError(f"{paths.root} is not this control plane's: left alone")
        if mark.name not in (old, paths.root.name):
            raise ForeignResourceError(f"{paths.root} holds instance {mark.name}, not {old}")
        return text

    def _stop_saved(self, name: str, paths: InstancePaths, text: str) -> None:
        """Its process stopped, a memory-only one's keys SAVEd to its data directory first."""
        pid = self._pid(name, paths)
        if pid is None:
            return
        if config_value(text, "appendonly") == "no":
            with self.admin(name, "SAVE before a move") as admin:
                admin.save()
        process.stop(pid, self._child(name))
        with self._children_lock:
            self._children.pop(name, None)

    def _child(self, name: str) -> subprocess.Popen[bytes] | None:
        with self._children_lock:
            return self._children.get(name)

    def _pid(self, name: str, paths: InstancePaths, *, scan: bool = True) -> int | None:
        """The instance's live process: its pid file checked against /proc, else (`scan`) one
        pass over /proc, so a lost pid file never leads to a second process on one instance."""
        child = self._child(name)
        if child is not None and child.poll() is not None:
            with self._children_lock:
                self._children.pop(name, None)  # reaped
        run_as = files.run_as_of(paths)
        if run_as is None:
            return None
        pid = process.read_pid(paths.pidfile)
        if pid is not None and process.is_ours(pid, self.binary, paths.config, run_as.uid):
            return pid
        return process.find_ours(self.binary, paths.config, run_as.uid) if scan else None

    def _healthy(self, spec: InstanceSpec, paths: InstancePaths, run_as: RunAs) -> bool:
        """Answers PING as admin over a socket of the right owner and mode. False (so: put
        back by a restart) when the admin is refused or the socket is not as configured."""
        if not files.socket_matches(spec.socket, run_as, spec.socket_mode):
            return False
        try:
            return _ping(spec.socket, self._admin_password(spec.name))
        except redis.AuthenticationError:
            return False  # its aclfile lost our admin user: the restart writes it back
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
            raise TemporaryError(
                f"cache instance {spec.name} did not answer", detail=str(exc)
            ) from exc

    def _start(self, name: str, paths: InstancePaths, run_as: RunAs, config_text: str) -> None:
        """Only once `_pid` found no process of this instance (pid file, then /proc)."""
        socket = Path(config_value(config_text, "unixsocket") or "")
        mode = int(config_value(config_text, "unixsocketperm") or "0", 8)
        if not socket.parent.is_dir():
            raise PermanentError(f"the socket directory {socket.parent} of {name} does not exist")
        password = self._admin_password(name)
        existing = process.read_small(paths.aclfile) or ""
        files.write_aclfile(paths, merge_aclfile(existing, password_hash(password)), run_as)
        files.clear_pidfile(paths)
        started = time.monotonic()
        child = process.spawn(self.binary, paths.config, run_as, paths.log, paths.data)
        with self._children_lock:
            self._children[name] = child
        self._wait_ready(name, child, socket, password)
        if process.read_pid(paths.pidfile) != child.pid or not files.socket_matches(
            socket, run_as, mode
        ):
            process.stop(child.pid, child)
            raise PermanentError(
                f"cache instance {name} started without its pid file or with a socket "
                f"not owned {run_as.uid}:{run_as.gid} mode {mode:o}"
            )
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        log.info("redis.instance.started", instance=name, pid=child.pid, elapsed_ms=elapsed_ms)

    def _wait_ready(
        self, name: str, child: subprocess.Popen[bytes], socket: Path, password: str
    ) -> None:
        deadline = time.monotonic() + self.start_timeout
        while child.poll() is None:
            try:
                if _ping(socket, password, timeout=1.0):
                    return
            except redis.AuthenticationError as exc:
                process.stop(child.pid, child)
                raise PermanentError(f"cache instance {name} refuses its admin user") from exc
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                pass  # not listening yet, or still loading its AOF
            if time.monotonic() > deadline:
                process.stop(child.pid, child)
                raise PermanentError(f"cache instance {name} did not answer in time")
            time.sleep(0.002)
        raise PermanentError(
            f"cache instance {name} exited at start (code {child.returncode})",
            detail=process.log_tail(self.paths(name).log),
        )


def _ping(socket: Path, password: str, timeout: float = 5.0) -> bool:
    conn = client.connect(socket, ADMIN_USER, password, timeout=timeout)
    try:
        return bool(conn.ping())
    finally:
        conn.close()


def _run_as(user: str, group: str) -> RunAs:
    try:
        uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError as exc:
        raise PermanentError(f"system user {user} or group {group} does not exist") from exc
    if uid == 0:
        raise PermanentError("a cache instance never runs as root")
    return RunAs(uid, gid)
