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
from hostplane.providers.caddy.render import config_matches, render_config, route_ids
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
        # The last state in_sync found Caddy running, with the digest of the config it read:
        # the same bytes for the same state need neither a parse nor a render again.
        self._in_sync: tuple[EdgeState, bytes] | None = None

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
        return _parsed(self._current_body())

    def _current_body(self) -> bytes:
        try:
            resp = self._admin.get("/config/")
        except httpx.HTTPError as exc:
            raise TemporaryError("Caddy's admin API did not answer", detail=str(exc)) from exc
        if resp.status_code != 200:
            raise TemporaryError("Caddy's admin API refused to show its config", detail=resp.text)
        return resp.content

    def apply(self, state: EdgeState) -> Outcome:
        """Make Caddy run exactly the config rendered from `state`."""
        current = self.current()
        admin = current.get("admin")
        desired = self.render(state, running_admin=admin if isinstance(admin, dict) else None)
        if current == desired:
            return Outcome.UNCHANGED
        body = self.load(desired)
        self._in_sync = (state, _served_digest(body))
        return Outcome.UPDATED if current else Outcome.CREATED

    def load(self, config: dict[str, Any]) -> str:
        """Load `config`; the JSON sent, which is also what Caddy sends back for it from
        /config/ but for Go's escapes (_served_digest)."""
        body = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
        return body

    def observe(self) -> list[str]:
        return route_ids(self.current())

    def in_sync(self, state: EdgeState) -> tuple[bool, frozenset[str]]:
        """Whether Caddy runs exactly the config rendered from `state` (one config read),
        and the site routes it runs."""
        body = self._current_body()
        digest = hashlib.sha256(body).digest()
        last = self._in_sync
        if last is not None and last[1] == digest and last[0] == state:
            # The very config found to be this state's render: the routes are the state's.
            return True, frozenset(route.route_id for route in state.routes)
        current = _parsed(body)
        admin = current.get("admin")
        matches = config_matches(
            current,
            state,
            admin_listen=self.admin_listen,
            http_listen=self.config.http_listen,
            https_listen=self.config.https_listen,
            running_admin=admin if isinstance(admin, dict) else None,
        )
        self._in_sync = (state, digest) if matches else None
        return matches, frozenset(route_ids(current))

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


# Caddy answers /config/ with Go's encoding/json of what it loaded: keys sorted, no spaces,
# <, >, &, U+2028 and U+2029 escaped, a newline at the end.
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _served_digest(body: str) -> bytes:
    """The digest of what /config/ answers once `body` (load's) is loaded. Should Caddy
    encode it otherwise, in_sync only misses its shortcut and compares in full."""
    for char, escaped in _GO_ESCAPES.items():
        if char in body:
            body = body.replace(char, escaped)
    return hashlib.sha256(body.encode() + b"\n").digest()


def _parsed(body: bytes) -> dict[str, Any]:
    config = json.loads(body)
    return config if isinstance(config, dict) else {}
