"""A private MariaDB server for the suite (RECIPES §5a): its own datadir, socket and port."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pymysql

from tests.services import ServiceError, free_port, terminate


class PrivateMariaDB:
    """`root_auth="socket"`: root logs in only through the unix socket as the OS user root, as
    on a default Debian install; "normal" (the suite's default): root with no password."""

    def __init__(self, root_auth: str = "normal") -> None:
        self.root_auth = root_auth
        for binary in ("mariadb-install-db", "mariadbd"):
            if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
                raise ServiceError(f"{binary} not found: run `make test` (package mariadb-server)")
        self.root = Path(tempfile.mkdtemp(prefix="hostplane-test-mariadb-"))
        self.root.chmod(0o755)  # site users reach the socket
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return str(self.root / "mysqld.sock")

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/"

    def start(self) -> PrivateMariaDB:
        user = ["--user=root"] if os.geteuid() == 0 else []
        init = subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.root / 'data'}",
                *user,
                f"--auth-root-authentication-method={self.root_auth}",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if init.returncode != 0:
            raise ServiceError(f"mariadb-install-db failed: {init.stderr[-1500:]}")
        return self._launch()

    def restart(self) -> None:
        """SIGTERM the server and start it again on the same data, socket and port."""
        terminate(self.proc, timeout=20)
        self._launch()

    def _launch(self) -> PrivateMariaDB:
        user = ["--user=root"] if os.geteuid() == 0 else []
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        log = (self.root / "out.log").open("ab")
        self.proc = subprocess.Popen(
            [
                mariadbd,
                "--no-defaults",
                f"--datadir={self.root / 'data'}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.root / 'mysqld.pid'}",
                *user,
                f"--log-error={self.root / 'err.log'}",
                "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=1).close()
                return self
            except pymysql.MySQLError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.root / "err.log"
                    tail = err.read_text()[-2000:] if err.exists() else ""
                    self.stop()
                    raise ServiceError(f"private MariaDB did not start:\n{tail}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        terminate(self.proc, timeout=20)
        shutil.rmtree(self.root, ignore_errors=True)
