"""The host map in a running HAProxy: observed in one `show map`, changed by its diff.

The running map is brought to the desired entries, then the file is written whole (atomic
rename) since runtime changes live in HAProxy's memory only: a few `add/set/del map` for a
change of a few sites, or for a large one a new version prepared, filled in payloads and
committed at once (`prepare map` / `add map @ver` / `commit map`), never half a map served.
A whole apply observes the whole map in one `show map` (the reconciler's view); one site's
change reads only its hosts (`get map`) and sends only its commands (`change`): its cost does
not grow with the map. The file then follows the running map within FLUSH_DELAY, written in
the background from one `show map` for however many changes came meanwhile (HAProxy serves
the change already; the file is only read at HAProxy's next start, and every start of HAProxy
is followed by the plane's whole apply).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import structlog

from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.fs import atomic_write
from hostplane.providers.haproxy.hostmap import (
    HostMap,
    MapChange,
    diff,
    parse_show_map,
    render_file,
    render_shown,
)
from hostplane.providers.supervision import locked

log = structlog.get_logger(__name__)

# Above this many commands the whole map is swapped in one version instead.
BULK = 64
# A command and its payload must fit HAProxy's buffer (tune.bufsize, 16 kB by default).
PAYLOAD_BYTES = 12_000
# How long after a single change the file is written (changes meanwhile share one write).
FLUSH_DELAY = 0.5


class RuntimeHostMap:
    def __init__(self, socket_path: Path, map_path: Path, timeout: float = 10.0) -> None:
        self.socket_path, self.map_path, self.timeout = socket_path, map_path, timeout
        # One writer of the file at a time, across processes too (an API process and
        # workers each change the map): a flock, taken by each write on its own descriptor.
        self.lock_path = map_path.with_name(map_path.name + ".lock")
        self._pending_lock = threading.Lock()
        self._pending: threading.Timer | None = None

    def call(self, command: str) -> str:
        """One command on the runtime API (one connection each), its whole answer."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.socket_path))
                sock.sendall(command.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise TemporaryError("HAProxy's runtime API did not answer", detail=str(exc)) from exc
        return b"".join(chunks).decode()

    def _expect_empty(self, command: str, answer: str) -> None:
        if answer.strip():
            raise PermanentError(
                f"HAProxy refused `{command.split(' <<')[0]}`", detail=answer.strip()
            )

    def observe(self) -> HostMap:
        """Every entry of the running map, in one call."""
        return parse_show_map(self._show())

    def _show(self) -> str:
        answer = self.call(f"show map {self.map_path}")
        if answer.startswith("Unknown map"):
            raise PermanentError("HAProxy runs without the edge's host map", detail=answer)
        return answer

    def get(self, host: str) -> str | None:
        """The running map's value for one host, or None (one call)."""
        answer = self.call(f"get map {self.map_path} {host}")
        if "found=yes" not in answer:
            return None
        value = answer.rsplit('value="', 1)[1]
        return value.rsplit('", type=', 1)[0]

    def apply(self, entries: HostMap) -> Outcome:
        """Make the running map and the file hold exactly `entries` (the whole map)."""
        observed = self.observe()
        return self._apply(entries, observed, diff(entries, observed))

    def apply_hosts(self, entries: HostMap, hosts: Iterable[str]) -> Outcome:
        """The same for the running map's entries of `hosts` alone (one site's change),
        each read with `get map`: the cost does not grow with the map. The file is still
        written whole from `entries`."""
        observed = {h: v for h in set(hosts) if (v := self.get(h)) is not None}
        wanted = {h: entries[h] for h in set(hosts) if h in entries}
        return self._apply(entries, observed, diff(wanted, observed))

    def _apply(self, entries: HostMap, observed: HostMap, changes: list[MapChange]) -> Outcome:
        # Live first, then the file: a crash between the two leaves a file the next start
        # replaces anyway (the edge is regenerated from the database at every start).
        started = time.monotonic()
        if len(changes) > BULK:
            self._swap(entries)
        else:
            for change in changes:
                command = change.command(str(self.map_path))
                self._expect_empty(command, self.call(command))
        live_ms = round((time.monotonic() - started) * 1000, 1)
        with locked(self.lock_path):
            written = atomic_write(self.map_path, render_file(entries), mode=0o644)
        if not changes:
            return Outcome.UPDATED if written else Outcome.UNCHANGED
        log.info(
            "edge.map_applied",
            changes=len(changes),
            swapped=len(changes) > BULK,
            live_ms=live_ms,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return Outcome.UPDATED if observed else Outcome.CREATED

    def change(self, changes: list[MapChange]) -> Outcome:
        """Only these commands on the running map (one site's change); the file follows."""
        if not changes:
            return Outcome.UNCHANGED
        started = time.monotonic()
        for change in changes:
            command = change.command(str(self.map_path))
            self._expect_empty(command, self.call(command))
        self._flush_later()
        verbs = {change.verb for change in changes}
        log.info(
            "edge.map_changed",
            changes=len(changes),
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )
        if verbs == {"add"}:
            return Outcome.CREATED
        return Outcome.DELETED if verbs == {"del"} else Outcome.UPDATED

    def _flush_later(self) -> None:
        with self._pending_lock:
            if self._pending is None:
                self._pending = threading.Timer(FLUSH_DELAY, self._flush_pending)
                self._pending.daemon = True
                self._pending.start()

    def _flush_pending(self) -> None:
        try:
            self.flush()
        except (TemporaryError, PermanentError, OSError) as exc:  # the next start rewrites it
            log.warning("edge.map_file_not_written", map=str(self.map_path), error=str(exc))

    def flush(self) -> bool:
        """Write the file as the running map holds it now, if a change is pending; whether
        it was written. Reading the running map under the file's lock, a later write never
        comes from an older read."""
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return False
        pending.cancel()
        with locked(self.lock_path):
            return atomic_write(self.map_path, render_shown(self._show()), mode=0o644)

    def _swap(self, entries: HostMap) -> None:
        answer = self.call(f"prepare map {self.map_path}")
        if "New version created:" not in answer:
            raise PermanentError("HAProxy could not prepare a new map version", detail=answer)
        version = answer.rsplit(":", 1)[1].strip()
        for chunk in _chunks([f"{host} {value}\n" for host, value in sorted(entries.items())]):
            command = f"add map @{version} {self.map_path} <<\n{chunk}"
            self._expect_empty(command, self.call(command))
        command = f"commit map @{version} {self.map_path}"
        self._expect_empty(command, self.call(command))


def _chunks(lines: list[str]) -> list[str]:
    """`lines` joined into payloads of at most PAYLOAD_BYTES each."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) > PAYLOAD_BYTES:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        chunks.append("".join(current))
    return chunks
