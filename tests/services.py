"""Private instances of the real servers the suite talks to, each on loopback with its state in a
directory of its own, started on first use and stopped at the end of the session.

Nothing here falls back or skips: if a server cannot start, the tests that need it fail with the
server's own log, so a machine without it is noticed (run `make test`, which installs it).
Set HOSTPLANE_TEST_POSTGRES_URL to use an existing PostgreSQL server instead (superuser URL).
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

# Below the kernel's ephemeral range (32768-60999): a port the kernel hands out for bind(0)
# is also one it gives outgoing connections, which took a plane's edge port in a full run.
PORTS = range(20000, 32768)
_given: set[int] = set()  # never the same port twice in one run, even if not bound yet


def free_port() -> int:
    while True:
        port = random.choice(PORTS)
        if port in _given:
            continue
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):  # PowerDNS takes both
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        _given.add(port)
        return port


def _as_service_user(user: str) -> list[str]:
    """Servers that refuse to run as root (PostgreSQL) run as their package's system user."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


class ServiceError(RuntimeError):
    pass


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if the process outlives `timeout`."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PrivatePostgres:
    """`initdb` + `pg_ctl start` in a temporary directory: trust auth on 127.0.0.1 only."""

    def __init__(self) -> None:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not candidates:
            raise ServiceError(
                "PostgreSQL server binaries not found under /usr/lib/postgresql: "
                "run `make test` (it installs the `postgresql` package)"
            )
        self.bin = Path(candidates[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="hostplane-test-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.data = self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PrivatePostgres:
        prefix = _as_service_user("postgres")
        self._run(
            [
                *prefix,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )
        self._pg_ctl("start")
        return self

    def restart(self) -> None:
        """Stop the server (fast: sessions are cut) and start it again on the same data."""
        self._pg_ctl("stop", "-m", "fast")
        self._pg_ctl("start")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        prefix = _as_service_user("postgres")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            [
                *prefix,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "postgres.log"),
                "-w",
                "-t",
                "30",
                "-o",
                options,
                *extra,
                action,
            ]
        )

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise ServiceError(
                f"{argv[1 if argv[0] != 'runuser' else 4]} failed "
                f"({result.returncode}): {result.stderr.strip()}\n{tail}"
            )

    def stop(self) -> None:
        subprocess.run(
            [
                *_as_service_user("postgres"),
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        shutil.rmtree(self.root, ignore_errors=True)


class PostgresDatabases:
    """Creates a throw-away database per test on a server given by its superuser URL."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(server_url, connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"PostgreSQL at {server_url} is not reachable: {exc}"
                    ) from exc
                time.sleep(0.1)

    def create(self, name: str) -> str:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.server_url.rsplit("/", 1)[0] + f"/{name}"

    def drop(self, name: str) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            # The control plane derives `<name>_workflows` for DBOS; drop it with its sibling.
            for db in (name, f"{name}_workflows"):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
