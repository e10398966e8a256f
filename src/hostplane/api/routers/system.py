"""Health and metrics."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hostplane.api import schemas
from hostplane.api.deps import ActorDep, ServicesDep

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> schemas.Health:
    with services.store.engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return schemas.Health(status="ok", database="ok")


@router.get("/metrics", response_class=Response)
def metrics(actor: ActorDep) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
