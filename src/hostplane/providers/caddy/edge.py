"""The Caddy edge: load the whole rendered config through the admin API, confirm by HTTP."""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

from hostplane.providers import http_clients
from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.caddy import admin
from hostplane.providers.caddy.render import render_config, route_ids
from hostplane.providers.edge import ROUTE_HEADER, EdgeState
from hostplane.providers.fs import atomic_write, private_dir

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CaddyEdgeConfig:
    admin_url: str  # unix:///run/hostplane/edge/admin.sock, or http://127.0.0.1:2019
    http_listen: str  # ":80" or "127.0.0.1:18080"
    confirm_url: str  # http://127.0.0.1:80 — where this host reaches the edge
    state_dir: Path  # keeps the last config that loaded
    confirm_timeout: float = 10.0
    https_listen: str | None = None  # ":443"; no HTTPS server when None
    https_confirm: tuple[str, int] | None = None  # where this host reaches the edge's HTTPS


class CaddyEdge:
    def __init__(self, config: CaddyEdgeConfig) -> None:
        self.config = config
        self._admin = admin.admin_client(config.admin_url, timeout=10.0)
        self._http = http_clients.client(timeout=5.0, follow_redirects=False)

    @property
    def admin_listen(self) -> str:
        return admin.listen_address(self.config.admin_url)

    @property
    def last_good_path(self) -> Path:
        return self.config.state_dir / "caddy-last-good.json"

    def render(
        self, state: EdgeState, *, running_admin: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The whole config. A running Caddy's own admin block is kept as it is: the admin
        endpoint belongs to whoever started Caddy (an operator's Caddy may sit behind a proxy
        or a socket), and a /load without it would move the admin API to Caddy's default."""
        config = render_config(
            state,
            admin_listen=self.admin_listen,
            http_listen=self.config.http_listen,
            https_listen=self.config.https_listen,
        )
        if running_admin:
            config["admin"] = running_admin
        return config

    def current(self) -> dict[str, Any]:
        try:
            resp = self._admin.get("/config/")
        except httpx.HTTPError as exc:
            raise TemporaryError("Caddy's admin API did not answer", detail=str(exc)) from exc
        if resp.status_code != 200:
            raise TemporaryError("Caddy's admin API refused to show its config", detail=resp.text)
        body = resp.json()
        return body if isinstance(body, dict) else {}

    def apply(self, state: EdgeState) -> Outcome:
        """Make Caddy run exactly the config rendered from `state`."""
        current = self.current()
        admin = current.get("admin")
        desired = self.render(state, running_admin=admin if isinstance(admin, dict) else None)
        if current == desired:
            return Outcome.UNCHANGED
        self.load(desired)
        return Outcome.UPDATED if current else Outcome.CREATED

    def load(self, config: dict[str, Any]) -> None:
        body = json.dumps(config, sort_keys=True)
        started = time.monotonic()
        try:
            resp = self._admin.post(
                "/load", content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise TemporaryError("Caddy's admin API did not answer", detail=str(exc)) from exc
        if resp.status_code >= 500:
            raise TemporaryError("Caddy failed to load the config", detail=resp.text.strip())
        if resp.status_code != 200:
            raise PermanentError(
                "Caddy refused the generated config; the previous one stays in force",
                detail=resp.text.strip(),
            )
        private_dir(self.config.state_dir)
        atomic_write(self.last_good_path, body, mode=0o600)
        log.info(
            "edge.loaded",
            routes=len(route_ids(config)),
            response=resp.status_code,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )

    def observe(self) -> list[str]:
        return route_ids(self.current())

    def in_sync(self, state: EdgeState) -> tuple[bool, frozenset[str]]:
        """Whether Caddy runs exactly the config rendered from `state` (one config read),
        and the site routes it runs."""
        current = self.current()
        admin = current.get("admin")
        desired = self.render(state, running_admin=admin if isinstance(admin, dict) else None)
        return current == desired, frozenset(route_ids(current))

    def confirm(self, host: str, route_id: str) -> httpx.Response:
        """Wait until a request for `host` through the edge is answered by `route_id`; that
        answer (the caller may judge the page by it without asking again)."""
        last = "no answer"
        deadline = time.monotonic() + self.config.confirm_timeout
        while True:
            try:
                resp = self._http.get(self.config.confirm_url, headers={"Host": host})
                served_by = resp.headers.get(ROUTE_HEADER)
                if served_by == route_id and resp.status_code < 500:
                    log.info(
                        "edge.confirmed", host=host, response=resp.status_code, route=served_by
                    )
                    return resp
                last = f"HTTP {resp.status_code}, route {served_by or 'none'}"
            except httpx.HTTPError as exc:
                last = str(exc) or type(exc).__name__
            if time.monotonic() > deadline:
                raise PermanentError(f"the edge does not serve {host} from {route_id}", detail=last)
            time.sleep(0.05)

    def get(self, host: str, path: str = "/") -> httpx.Response:
        """One request through the edge for `host`, as a visitor would make it."""
        try:
            return self._http.get(self.config.confirm_url + path, headers={"Host": host})
        except httpx.HTTPError as exc:
            raise TemporaryError(f"the edge did not answer for {host}", detail=str(exc)) from exc

    def confirm_gone(self, host: str) -> None:
        """Wait until the edge no longer routes `host` anywhere (404 from the catch-all)."""
        last = "no answer"
        deadline = time.monotonic() + self.config.confirm_timeout
        while True:
            try:
                resp = self._http.get(self.config.confirm_url, headers={"Host": host})
                if resp.status_code == 404 and ROUTE_HEADER not in resp.headers:
                    log.info("edge.confirmed_gone", host=host, response=resp.status_code)
                    return
                last = f"HTTP {resp.status_code}, route {resp.headers.get(ROUTE_HEADER)}"
            except httpx.HTTPError as exc:
                last = str(exc) or type(exc).__name__
            if time.monotonic() > deadline:
                raise PermanentError(f"the edge still answers for {host}", detail=last)
            time.sleep(0.05)

    def served_certificate(self, host: str) -> str | None:
        """The SHA-256 fingerprint of the leaf certificate the edge presents for `host` (SNI),
        or None when it presents none; the certificate is not verified, only identified."""
        if self.config.https_confirm is None:
            raise PermanentError("HTTPS is disabled at the edge (HOSTPLANE_EDGE_HTTPS_PORT=0)")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with (
                socket.create_connection(self.config.https_confirm, timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=host) as tls,
            ):
                der = tls.getpeercert(binary_form=True)
        except ssl.SSLError as exc:
            log.info("edge.no_certificate", host=host, error=str(exc))
            return None
        except OSError as exc:
            raise TemporaryError("the edge's HTTPS port did not answer", detail=str(exc)) from exc
        return hashlib.sha256(der).hexdigest() if der else None

    def confirm_certificate(self, host: str, fingerprint: str) -> None:
        """Wait until the edge presents the certificate with `fingerprint` for `host`."""
        deadline = time.monotonic() + self.config.confirm_timeout
        while True:
            served = self.served_certificate(host)
            if served == fingerprint:
                log.info("edge.certificate_confirmed", host=host, fingerprint=fingerprint[:16])
                return
            if time.monotonic() > deadline:
                raise PermanentError(
                    f"the edge does not present the new certificate for {host}",
                    detail=f"served {served or 'no certificate'}, expected {fingerprint}",
                )
            time.sleep(0.05)

    def close(self) -> None:
        self._admin.close()
        self._http.close()
