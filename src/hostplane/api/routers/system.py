"""Health, metrics and edge regeneration."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hostplane.api import schemas
from hostplane.api.deps import ActorDep, ServicesDep
from hostplane.workflows.edge import desired_state, regenerate_edge

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> schemas.Health:
    with services.store.engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return schemas.Health(status="ok", database="ok")


@router.get("/metrics", response_class=Response)
def metrics(actor: ActorDep) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/edge/regenerate")
def regenerate(services: ServicesDep, actor: ActorDep) -> schemas.RegenerateResult:
    """Rebuild the whole edge config from the database alone and load it."""
    outcome = regenerate_edge(services)
    return schemas.RegenerateResult(
        outcome=outcome.value, routes=len(desired_state(services).routes)
    )
