"""The CLI's API client: one line of error on failure, never a traceback."""

from __future__ import annotations

from typing import Any, NoReturn

import httpx
import typer

from hostplane.settings import Settings
from hostplane.tokens import read_token_file


class CliError(Exception):
    """Ends the command with one line and a non-zero exit. `status`: the API's HTTP status,
    when the API answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo("error: " + " ".join(message.split()), err=True)  # always one line
    raise typer.Exit(code)


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        token = settings.api_token.get_secret_value() if settings.api_token else None
        token = token or read_token_file(settings.token_file)
        if not token:
            raise CliError(
                f"no API token: set HOSTPLANE_API_TOKEN or run on the control plane's machine "
                f"(token file {settings.token_file})"
            )
        self.base = settings.client_api_url
        self._http = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the control plane at {self.base}: {exc}") from exc
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message") or resp.text
            except ValueError:
                message = resp.text
            raise CliError(f"{message} (HTTP {resp.status_code})", status=resp.status_code)
        return resp.json()

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, json=body, params=params or None)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params or None)
