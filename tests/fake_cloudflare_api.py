"""A FAKE of the few Cloudflare API v4 endpoints the tunnel provider uses (zones, DNS
records), on loopback: the real API cannot be reached from here. It speaks the wire format
the official `cloudflare` library expects and records every request it gets."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "fake-cloudflare-token"


class FakeCloudflareApi:
    def __init__(self, zones: list[str], *, any_zone_under: str | None = None) -> None:
        self.zones = {name: uuid.uuid4().hex for name in zones}
        # Every two-label name under this suffix is a zone of the account (made when asked).
        self.any_zone_under = any_zone_under
        self.records: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.fail_with: int | None = None  # answer every request with this status
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                api.requests.append((self.command, url.path))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(403, _error(9109, "Invalid access token"))
                    return
                if api.fail_with is not None:
                    self._send(api.fail_with, _error(10000, "injected failure"))
                    return
                status, answer = api.route(self.command, url.path.split("/"), query, body)
                self._send(status, answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/client/v4"

    def route(
        self, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        # parts: ['', 'client', 'v4', 'zones', <zone>, 'dns_records', <record>]
        rest = parts[3:]
        page = int(query.get("page", "1"))
        if rest == ["zones"] and method == "GET":
            asked = query.get("name", "")
            if (
                self.any_zone_under
                and asked.endswith(self.any_zone_under)
                and asked.count(".") == 1
            ):
                self.zones.setdefault(asked, uuid.uuid4().hex)
            found = [
                {"id": zid, "name": name}
                for name, zid in self.zones.items()
                if query.get("name") in (None, name)
            ]
            return 200, _page(found if page == 1 else [])
        if len(rest) >= 3 and rest[0] == "zones" and rest[2] == "dns_records":
            zone_id = rest[1]
            if zone_id not in self.zones.values():
                return 404, _error(1001, "zone not found")
            if len(rest) == 3 and method == "GET":
                name = query.get("name.exact") or query.get("name[exact]")
                found = [
                    r for r in self.records if r["zone_id"] == zone_id and name in (None, r["name"])
                ]
                return 200, _page(found if page == 1 else [])
            if len(rest) == 3 and method == "POST":
                record = {**body, "id": uuid.uuid4().hex, "zone_id": zone_id}
                self.records.append(record)
                return 200, _one(record)
            record_id = rest[3] if len(rest) == 4 else ""
            match = [r for r in self.records if r["id"] == record_id]
            if not match:
                return 404, _error(81044, "record not found")
            if method == "PUT":
                match[0].update(body)
                return 200, _one(match[0])
            if method == "DELETE":
                self.records.remove(match[0])
                return 200, _one({"id": record_id})
        return 404, _error(7000, f"no route for {method} {'/'.join(parts)}")

    def cnames(self) -> dict[str, str]:
        return {r["name"]: r["content"] for r in self.records if r["type"] == "CNAME"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "success": True,
        "errors": [],
        "messages": [],
        "result": items,
        "result_info": {"page": 1, "per_page": 100, "count": len(items), "total_count": len(items)},
    }


def _one(item: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "errors": [], "messages": [], "result": item}


def _error(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "errors": [{"code": code, "message": message}], "messages": []}
