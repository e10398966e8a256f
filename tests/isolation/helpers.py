"""What the isolation tests do as an attacker would: run commands as another user, send raw
requests whose paths no client library would leave alone, read a process's credentials."""

from __future__ import annotations

import pwd
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import ControlPlane


def as_user(user: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run `argv` as `user` (its own uid and primary gid, no other groups)."""
    entry = pwd.getpwnam(user)
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--clear-groups",
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_as_user(user: str, *argv: str) -> subprocess.Popen[bytes]:
    entry = pwd.getpwnam(user)
    return subprocess.Popen(
        ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def from_wordpress(self) -> bool:
        """WordPress's own answer (its front controller ran, not a file of the path)."""
        return self.headers.get("x-redirect-by") == "WordPress" or (
            self.status == 404 and b"/wp-content/themes/" in self.body
        )


def raw_get(port: int, host: str, target: str) -> Answer:
    """GET `target` exactly as written (no normalization of `..` or escapes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        conn.sendall(request.encode())
        chunks = []
        while data := conn.recv(65536):
            chunks.append(data)
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *lines = head.decode(errors="replace").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return Answer(int(status_line.split()[1]), headers, body)


def _dechunk(raw: bytes) -> bytes:
    out = []
    while raw:
        size_line, _, raw = raw.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(raw[:size])
        raw = raw[size + 2 :]
    return b"".join(out)


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


@dataclass
class Hosted:
    """A control plane with one site of each type, the WordPress one installed."""

    cp: ControlPlane
    static: str
    php: str
    wordpress: str

    def host(self, site: str) -> str:
        return f"{site}.localhost:{self.cp.edge_port}"

    def webroot(self, site: str) -> Path:
        return self.cp.site_dir(site) / "public"
