"""HTTP to PowerDNS's API, its answers mapped to the errors the kernel understands: the server
not answering or failing (5xx) is temporary; a refusal (4xx) is permanent and carries
PowerDNS's own message."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpx
import structlog

from hostplane.errors import PermanentError, ProviderError, TemporaryError
from hostplane.providers import http_clients

log = structlog.get_logger(__name__)

API_PATH = "/api/v1/servers/localhost"


def server_url(url: str) -> str:
    """The server's API root from a base URL (http://127.0.0.1:8081) or the root itself."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"PowerDNS API URL {url!r} must start with http:// or https://")
    return url if "/api/v1/servers/" in url else url + API_PATH


def answer(response: httpx.Response) -> str:
    """PowerDNS's message: the `error` of its JSON body, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return response.text.strip()[:300]


class ApiClient:
    """One connection pool to one PowerDNS server, with its API key."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self.url = server_url(url)
        self._http = http_clients.client(
            base_url=self.url, headers={"X-API-Key": api_key}, timeout=timeout
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        accept: Iterable[int] = (),
    ) -> httpx.Response:
        """The response when it is a success or one of `accept`; an error otherwise."""
        started = time.monotonic()
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.TransportError as exc:
            raise TemporaryError(
                f"the PowerDNS API at {self.url} does not answer ({what})", detail=str(exc)
            ) from None
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        if response.is_success or response.status_code in set(accept):
            return response
        error = refusal(response, what, self.url)
        log.warning(
            "powerdns.refused",
            method=method,
            path=path,
            status=response.status_code,
            answer=error.detail,
            elapsed_ms=elapsed_ms,
        )
        raise error

    def close(self) -> None:
        self._http.close()


def refusal(response: httpx.Response, what: str, url: str) -> ProviderError:
    message = answer(response)
    status = response.status_code
    if status in (401, 403):
        return PermanentError(
            f"PowerDNS at {url} refused the API key (HTTP {status}) for {what}: set "
            "HOSTPLANE_PDNS_API_KEY to the server's api-key",
            detail=message,
        )
    if status >= 500:
        return TemporaryError(f"PowerDNS failed {what} (HTTP {status}): {message}", detail=message)
    return PermanentError(f"PowerDNS refused {what} (HTTP {status}): {message}", detail=message)
