"""The Caddy edge: load the whole rendered config through the admin API, confirm by HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

from hostplane.domain.edge import ROUTE_HEADER, EdgeRoute
from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.caddy.render import render_config, route_ids
from hostplane.providers.fs import atomic_write

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CaddyEdgeConfig:
    admin_url: str  # http://127.0.0.1:2019
    http_listen: str  # ":80" or "127.0.0.1:18080"
    confirm_url: str  # http://127.0.0.1:80 — where this host reaches the edge
    state_dir: Path  # keeps the last config that loaded
    confirm_timeout: float = 10.0


class CaddyEdge:
    def __init__(self, config: CaddyEdgeConfig) -> None:
        self.config = config
        self._admin = httpx.Client(base_url=config.admin_url, timeout=10.0)
        self._http = httpx.Client(timeout=5.0, follow_redirects=False)

    @property
    def admin_listen(self) -> str:
        return httpx.URL(self.config.admin_url).netloc.decode()

    @property
    def last_good_path(self) -> Path:
        return self.config.state_dir / "caddy-last-good.json"

    def render(
        self, routes: Sequence[EdgeRoute], *, running_admin: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The whole config. A running Caddy's own admin block is kept as it is: the admin
        endpoint belongs to whoever started Caddy (an operator's Caddy may sit behind a proxy
        or a socket), and a /load without it would move the admin API to Caddy's default."""
        config = render_config(
            routes, admin_listen=self.admin_listen, http_listen=self.config.http_listen
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

    def apply(self, routes: Sequence[EdgeRoute]) -> Outcome:
        """Make Caddy run exactly the config rendered from `routes`."""
        current = self.current()
        admin = current.get("admin")
        desired = self.render(routes, running_admin=admin if isinstance(admin, dict) else None)
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
        atomic_write(self.last_good_path, body, mode=0o600)
        log.info(
            "edge.loaded",
            routes=len(route_ids(config)),
            response=resp.status_code,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )

    def observe(self) -> list[str]:
        return route_ids(self.current())

    def confirm(self, host: str, route_id: str) -> None:
        """Wait until a request for `host` through the edge is answered by `route_id`."""
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
                    return
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

    def close(self) -> None:
        self._admin.close()
        self._http.close()
