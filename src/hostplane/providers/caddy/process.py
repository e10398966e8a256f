"""A Caddy process that Hostplane starts and keeps running (when no external one is given)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import structlog

from hostplane.errors import PermanentError
from hostplane.providers import http_clients
from hostplane.providers.fs import atomic_write

log = structlog.get_logger(__name__)


class CaddyProcess:
    """Runs `caddy run` with its state under `state_dir`; restarts it if it dies."""

    def __init__(self, binary: str, state_dir: Path, admin_listen: str) -> None:
        self.binary = binary
        self.state_dir = state_dir
        self.admin_listen = admin_listen
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin_listen}"

    def start(self, on_restart: Callable[[], None] | None = None, timeout: float = 15.0) -> None:
        self._spawn(timeout)
        if on_restart is not None:
            self._watcher = threading.Thread(
                target=self._watch, args=(on_restart, timeout), name="caddy-watch", daemon=True
            )
            self._watcher.start()

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "caddy.pid"

    def _stop_leftover(self) -> None:
        """A Caddy of ours that outlived a crashed control plane serves until we replace it."""
        try:
            pid = int(self.pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return
        if b"caddy" not in cmdline or str(self.state_dir).encode() not in cmdline:
            return
        log.info("caddy.replacing_leftover", pid=pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _spawn(self, timeout: float) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        boot = self.state_dir / "caddy-boot.json"
        last_good = self.state_dir / "caddy-last-good.json"
        config = (
            last_good.read_text()
            if last_good.exists()
            else json.dumps({"admin": {"listen": self.admin_listen, "config": {"persist": False}}})
        )
        atomic_write(boot, config, mode=0o600)
        env = {
            **os.environ,
            "XDG_DATA_HOME": str(self.state_dir / "data"),
            "XDG_CONFIG_HOME": str(self.state_dir / "config"),
            "HOME": str(self.state_dir),
        }
        log_file = (self.state_dir / "caddy.log").open("ab")
        try:
            self._proc = subprocess.Popen(
                [self.binary, "run", "--config", str(boot)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise PermanentError(
                f"the Caddy binary {self.binary!r} was not found: install Debian's caddy package"
            ) from exc
        finally:
            log_file.close()
        atomic_write(self.pid_file, str(self._proc.pid))
        self._wait_ready(timeout)
        log.info("caddy.started", pid=self._proc.pid, admin=self.admin_listen)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with http_clients.client(timeout=1.0) as admin:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    break
                try:
                    if admin.get(f"{self.admin_url}/config/").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        tail = self._log_tail()
        self.stop()
        raise PermanentError("Caddy did not start", detail=tail)

    def _log_tail(self, lines: int = 8) -> str:
        try:
            return "\n".join((self.state_dir / "caddy.log").read_text().splitlines()[-lines:])
        except FileNotFoundError:
            return "no log"

    def _watch(self, on_restart: Callable[[], None], timeout: float) -> None:
        while not self._stop.wait(0.5):
            if self._proc is None or self._proc.poll() is None:
                continue
            log.warning("caddy.exited", code=self._proc.returncode, log=self._log_tail(3))
            try:
                self._spawn(timeout)
                on_restart()
            except Exception as exc:  # keep watching; the next round tries again
                log.error("caddy.restart_failed", error=str(exc))

    def stop(self) -> None:
        self._stop.set()
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
