"""The host map in a running HAProxy: observed in one `show map`, changed by its diff.

Runtime changes live in HAProxy's memory only, so the file is written whole first (atomic
rename) and the running map is brought to the same entries: a few `add/set/del map` for a
change of a few sites, or for a large one a new version prepared, filled in one payload and
committed at once (`prepare map` / `add map @ver` / `commit map`), never half a map served.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import structlog

from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.fs import atomic_write
from hostplane.providers.haproxy.hostmap import HostMap, diff, parse_show_map, render_file

log = structlog.get_logger(__name__)

# Above this many commands the whole map is swapped in one version instead.
BULK = 64
# A command and its payload must fit HAProxy's buffer (tune.bufsize, 16 kB by default).
PAYLOAD_BYTES = 12_000


class RuntimeHostMap:
    def __init__(self, socket_path: Path, map_path: Path, timeout: float = 10.0) -> None:
        self.socket_path, self.map_path, self.timeout = socket_path, map_path, timeout

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
        answer = self.call(f"show map {self.map_path}")
        if answer.startswith("Unknown map"):
            raise PermanentError("HAProxy runs without the edge's host map", detail=answer)
        return parse_show_map(answer)

    def apply(self, entries: HostMap) -> Outcome:
        """Make the file and the running map hold exactly `entries`."""
        started = time.monotonic()
        written = atomic_write(self.map_path, render_file(entries), mode=0o644)
        observed = self.observe()
        changes = diff(entries, observed)
        if not changes:
            return Outcome.UPDATED if written else Outcome.UNCHANGED
        if len(changes) > BULK:
            self._swap(entries)
        else:
            for change in changes:
                command = change.command(str(self.map_path))
                self._expect_empty(command, self.call(command))
        log.info(
            "edge.map_applied",
            changes=len(changes),
            swapped=len(changes) > BULK,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return Outcome.UPDATED if observed else Outcome.CREATED

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
