"""The floor of bench/api.py: the SQL of `POST /v1/sites` (a site and its operation inserted in
one transaction) and of one page of `GET /v1/sites` (the keyset page query), through a bare
ASGI app on the same store, served by uvicorn with the plane's own settings. No framework,
no validation, no auth, no ORM: what a request costs beyond this is the plane's.

Usage (bench/api.py starts it): .venv/bin/python bench/api_floor.py URL HOST:PORT
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import sqlalchemy as sa
import uvicorn

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from hostplane.kernel.store.db import create_engine  # noqa: E402
from hostplane.kernel.store.tables import OperationRow  # noqa: E402
from hostplane.kernel.store.types import new_id, utcnow  # noqa: E402
from hostplane.kinds.site.table import SiteRow  # noqa: E402
from hostplane.kinds.tenant.table import TenantRow  # noqa: E402

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SITES = SiteRow.__table__
OPERATIONS = OperationRow.__table__
TENANTS = TenantRow.__table__
# The page the API's list answers: the summary's fields, the tenant's name joined.
PAGE = (
    sa.select(
        SITES.c.name,
        TENANTS.c.name.label("tenant"),
        SITES.c.type,
        SITES.c.runtime,
        SITES.c.status,
        SITES.c.created_at,
        SITES.c.updated_at,
    )
    .select_from(SITES.outerjoin(TENANTS, TENANTS.c.id == SITES.c.tenant_id))
    .order_by(SITES.c.name)
)


class Floor:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def create(self, name: str) -> dict[str, Any]:
        site_id, op_id, now = new_id(), new_id(), utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                SITES.insert(),
                {
                    "id": site_id,
                    "name": name,
                    "type": "static",
                    "runtime": "local",
                    "status": "CREATED",
                    "routed": False,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            conn.execute(
                OPERATIONS.insert(),
                {
                    "id": op_id,
                    "kind": "provision",
                    "target_kind": "site",
                    "target_name": name,
                    "target_id": site_id,
                    "status": "PENDING",
                    "active_target": f"site:{name}",
                    "request_hash": "",
                    "options": {},
                    "actor": "floor",
                    "created_at": now,
                },
            )
        return {"operation": {"id": op_id}, "site": name}

    def page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["50"])[0])
        stmt = PAGE
        status = query.get("status", [None])[0]
        if status is None:
            stmt = stmt.where(SITES.c.status != "DESTROYED")
        else:
            stmt = stmt.where(SITES.c.status == status)
        after = query.get("after", [None])[0]
        if after:
            stmt = stmt.where(SITES.c.name > after)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.limit(limit + 1)).all()
        items = [
            {
                "name": r.name,
                "tenant": r.tenant,
                "type": r.type,
                "runtime": r.runtime,
                "status": r.status,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        return {"items": items, "next": items[-1]["name"] if more and items else None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        # The SQL runs on the event loop itself: one request at a time, nothing to hand over.
        if scope["path"] == "/healthz":
            status, answer = 200, {"status": "ok"}
        elif scope["method"] == "POST":
            status, answer = 202, self.create(json.loads(body)["name"])
        else:
            status, answer = 200, self.page(parse_qs(scope["query_string"].decode()))
        payload = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def main() -> None:
    url, listen = sys.argv[1], sys.argv[2]
    host, _, port = listen.rpartition(":")
    # The settings hostctl's _serve_api gives uvicorn.
    uvicorn.run(Floor(url), host=host, port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
